//! The CPU backend: executes a [`Plan`] with the operators' CPU kernels.
//!
//! Buffers are allocated once per plan (one `Vec<f32>` per slot) and reused on every run;
//! kernels get a shared [`Scratch`] that stops growing after the first run.
//!
//! Prepared data: on the first run each convolution whose weight is a parameter gets it in the
//! form its kernel wants, kept per plan step ([`PreparedWeights`]): 3×3 convolutions that run
//! Winograd ([`crate::ops::winograd`]) the transformed weights (16/9 to 36/9 of the weight's
//! size), the others the weight packed for the GEMM ([`packed`], about the weight's size), so
//! no forward pass repacks a weight. The Winograd switch: [`winograd_default`] (the
//! environment variable `MXNET_WEB_WINOGRAD=0` turns it off for the process) and
//! [`CpuExecutable::with_winograd`] (`Model::set_winograd`).

pub mod gemm;
pub mod packed;
pub mod pool;

use std::collections::BTreeMap;

use crate::error::{fmt_shape, Error, Result};
use crate::graph::Graph;
use crate::ops::conv::{ConvOp, PreparedWeights};
use crate::ops::{Op, Scratch};
use crate::plan::{Plan, Source, Value};
use crate::tensor::{numel, Tensor, View, ViewMut};

/// A plan bound to CPU buffers.
#[derive(Debug)]
pub struct CpuExecutable {
    pub plan: Plan,
    buffers: Vec<Vec<f32>>,
    scratch: Scratch,
    /// Whether 3×3 convolutions may use Winograd.
    winograd: bool,
    /// Per step: its prepared weights (None: the op's own kernel). Empty until the first run.
    prepared: Vec<Option<PreparedWeights>>,
}

/// Whether Winograd is on by default: yes, unless the environment variable
/// `MXNET_WEB_WINOGRAD` is `0`, `off` or `false` (read once per process; natively only).
pub fn winograd_default() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| {
        !matches!(
            std::env::var("MXNET_WEB_WINOGRAD").as_deref(),
            Ok("0" | "off" | "false")
        )
    })
}

impl CpuExecutable {
    pub fn new(plan: Plan) -> CpuExecutable {
        Self::with_winograd(plan, winograd_default())
    }

    /// [`CpuExecutable::new`] with Winograd convolution on or off.
    pub fn with_winograd(plan: Plan, winograd: bool) -> CpuExecutable {
        let buffers = plan.slot_sizes.iter().map(|&n| vec![0.0f32; n]).collect();
        CpuExecutable {
            plan,
            buffers,
            scratch: Scratch::default(),
            winograd,
            prepared: Vec::new(),
        }
    }

    /// Computes the steps' prepared data (once): Winograd or packed weights for the
    /// convolutions whose weight is a parameter.
    fn prepare(&mut self, graph: &Graph, params: &BTreeMap<usize, Tensor>) {
        self.prepared = (self.plan.steps.iter())
            .map(
                |step| match (graph.nodes[step.node].op(), &step.inputs[..]) {
                    (Some(Op::Conv(ConvOp::Convolution(c))), [x, w, ..]) => match w.source {
                        Source::Param(id) => {
                            c.prepare_weights(&x.shape, &params.get(&id)?.data, self.winograd)
                        }
                        _ => None,
                    },
                    _ => None,
                },
            )
            .collect();
    }

    /// Runs the plan. `inputs` are in the model's input order and must have the planned shapes.
    pub fn run(
        &mut self,
        graph: &Graph,
        params: &BTreeMap<usize, Tensor>,
        inputs: &[&Tensor],
    ) -> Result<Vec<Tensor>> {
        self.run_timed(graph, params, inputs, None)
    }

    /// Runs the plan once more and times each step on the host clock (for finding slow
    /// kernels; natively only, wasm32's `std` has no clock). Labels name the node, the op, the
    /// output shape and, for convolutions, the algorithm.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn profile(
        &mut self,
        graph: &Graph,
        params: &BTreeMap<usize, Tensor>,
        inputs: &[&Tensor],
    ) -> Result<crate::backend::Profile> {
        let mut times = Vec::with_capacity(self.plan.steps.len());
        self.run_timed(graph, params, inputs, Some(&mut times))?;
        let steps = (self.plan.steps.iter().enumerate())
            .zip(times)
            .map(|((i, step), time)| {
                let node = &graph.nodes[step.node];
                let op = node.op().map_or("?", |op| op.name());
                let shape = step.outputs.first().map(|v| fmt_shape(&v.shape));
                let how = match (node.op(), self.prepared.get(i)) {
                    (_, Some(Some(p @ PreparedWeights::Winograd(_)))) => format!(" [{}]", p.name()),
                    (Some(Op::Conv(ConvOp::Convolution(c))), Some(Some(_))) => {
                        format!(" [{}, packed]", c.algorithm_name(&step.inputs[0].shape))
                    }
                    (Some(Op::Conv(ConvOp::Convolution(c))), _) => {
                        format!(" [{}]", c.algorithm_name(&step.inputs[0].shape))
                    }
                    _ => String::new(),
                };
                let label = format!(
                    "node '{}' ({op}) -> {}{how}",
                    node.name,
                    shape.unwrap_or_default()
                );
                (label, time)
            })
            .collect();
        Ok(crate::backend::Profile {
            clock: crate::backend::ProfileClock::HostPerStep,
            steps,
        })
    }

    /// [`CpuExecutable::run`], pushing each step's host time onto `times` when given.
    fn run_timed(
        &mut self,
        graph: &Graph,
        params: &BTreeMap<usize, Tensor>,
        inputs: &[&Tensor],
        mut times: Option<&mut Vec<std::time::Duration>>,
    ) -> Result<Vec<Tensor>> {
        for (i, (slot, t)) in self.plan.input_slots.iter().zip(inputs).enumerate() {
            if let Some(Value {
                source: Source::Slot(s),
                shape,
            }) = slot
            {
                if *shape != t.shape {
                    return Err(Error::Input(format!(
                        "input {i} has shape {} but the plan was built for {}",
                        fmt_shape(&t.shape),
                        fmt_shape(shape)
                    )));
                }
                self.buffers[*s][..t.data.len()].copy_from_slice(&t.data);
            }
        }

        if self.prepared.len() != self.plan.steps.len() {
            self.prepare(graph, params);
        }
        let Self {
            plan,
            buffers,
            scratch,
            prepared,
            ..
        } = self;
        for (i, step) in plan.steps.iter().enumerate() {
            #[cfg(not(target_arch = "wasm32"))]
            let started = times.is_some().then(std::time::Instant::now);
            let prepared = prepared.get(i).and_then(Option::as_ref);
            let node = &graph.nodes[step.node];
            let op = node.op().ok_or_else(|| {
                Error::Backend(format!("planner scheduled variable '{}'", node.name))
            })?;
            // Nothing to compute for empty outputs (and kernels need not handle them).
            if step.outputs.iter().all(|v| numel(&v.shape) == 0) {
                if let Some(t) = times.as_deref_mut() {
                    t.push(std::time::Duration::ZERO);
                }
                continue;
            }
            // Take the output buffers out so inputs can be borrowed from the rest; the planner
            // never gives an output the slot of a value read by the same step.
            let mut out_bufs: Vec<Vec<f32>> = step
                .outputs
                .iter()
                .map(|v| match v.source {
                    Source::Slot(s) => std::mem::take(&mut buffers[s]),
                    _ => Vec::new(),
                })
                .collect();
            let result = {
                let in_views: Vec<View> = step
                    .inputs
                    .iter()
                    .map(|v| view_of(v, buffers, params))
                    .collect();
                let mut out_views: Vec<ViewMut> = out_bufs
                    .iter_mut()
                    .zip(&step.outputs)
                    .map(|(b, v)| ViewMut {
                        shape: &v.shape,
                        data: &mut b[..numel(&v.shape)],
                    })
                    .collect();
                match (op, prepared) {
                    (Op::Conv(ConvOp::Convolution(c)), Some(p)) => {
                        c.forward_with(&in_views, &mut out_views, scratch, Some(p))
                    }
                    _ => op.forward(&in_views, &mut out_views, scratch),
                }
            };
            for (v, b) in step.outputs.iter().zip(out_bufs) {
                if let Source::Slot(s) = v.source {
                    buffers[s] = b;
                }
            }
            result.map_err(|e| e.at_node(&node.name, op.name()))?;
            #[cfg(not(target_arch = "wasm32"))]
            if let (Some(t), Some(started)) = (times.as_deref_mut(), started) {
                t.push(started.elapsed());
            }
        }

        Ok(plan
            .outputs
            .iter()
            .map(|v| {
                let view = view_of(v, buffers, params);
                Tensor {
                    shape: v.shape.clone(),
                    data: view.data.to_vec(),
                }
            })
            .collect())
    }
}

fn view_of<'a>(
    v: &'a Value,
    buffers: &'a [Vec<f32>],
    params: &'a BTreeMap<usize, Tensor>,
) -> View<'a> {
    let n = numel(&v.shape);
    let data: &[f32] = match v.source {
        Source::Slot(s) => &buffers[s][..n],
        Source::Param(id) => params
            .get(&id)
            .map(|t| &t.data[..n.min(t.data.len())])
            .unwrap_or(&[]),
        Source::Unbound => &[],
    };
    View {
        shape: &v.shape,
        data,
    }
}
