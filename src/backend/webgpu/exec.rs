//! Building an executable from a plan (buffers, pipelines, bind groups, the recorded command
//! list) and running it.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::bind::BoundModel;
use crate::error::{fmt_shape, Error, Result};
use crate::graph::Graph;
use crate::plan::{Plan, Source, Value};
use crate::tensor::{numel, Tensor};

use super::context::{describe, scoped, GpuContext};
use super::kernels::{Kernel, FIRST_OUTPUT_BINDING, UNIFORM_BYTES};
use super::lower::{lower_step, BufRef, Layout, Lowering, Operand, Pending, Src};
use crate::backend::{Profile, ProfileClock};

/// Smallest buffer we create (WebGPU rejects empty bindings).
const MIN_BUFFER_BYTES: u64 = 16;

/// Creates buffers and counts them: every buffer of the backend is made through one of these,
/// so the counts in [`BuildStats`] and [`RunStats`] are complete.
struct Allocator<'a> {
    ctx: &'a GpuContext,
    count: std::cell::Cell<u64>,
}

impl<'a> Allocator<'a> {
    fn new(ctx: &'a GpuContext) -> Allocator<'a> {
        Allocator {
            ctx,
            count: std::cell::Cell::new(0),
        }
    }

    fn buffer(&self, label: &str, bytes: u64, usage: wgpu::BufferUsages) -> wgpu::Buffer {
        self.count.set(self.count.get() + 1);
        self.ctx.device().create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes.max(MIN_BUFFER_BYTES).next_multiple_of(4),
            usage,
            mapped_at_creation: false,
        })
    }
}

const STORAGE_USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_DST)
    .union(wgpu::BufferUsages::COPY_SRC);

/// A model's parameters on the GPU, uploaded once and shared by every plan of the model.
pub struct GpuWeights {
    ctx: GpuContext,
    /// Per parameter (variable node id): its slabs.
    params: BTreeMap<usize, GpuParam>,
    bytes: u64,
    /// How many parameters are stored in f16.
    half_params: usize,
}

/// One parameter on the GPU.
struct GpuParam {
    layout: Layout,
    slabs: Vec<wgpu::Buffer>,
    /// Stored as f16 (read only as the weights of Convolution and FullyConnected kernels).
    half: bool,
}

/// Per node id: whether it is a parameter that may be stored in f16, one read only as the
/// weight (input 1) of a Convolution or a FullyConnected, whose kernels read `in1` through
/// `in1_f32`. Everything else (biases, BatchNorm statistics, embeddings, parameters that are
/// graph outputs) stays f32. (A flag per node rather than a set: smaller code in the .wasm.)
fn f16_weight_params(model: &BoundModel) -> Vec<bool> {
    use crate::graph::NodeKind;
    use crate::ops::{conv::ConvOp, dense::DenseOp, Op};
    // Per node: read as a weight, and read otherwise (graph heads included).
    let mut reads = vec![(false, false); model.graph.nodes.len()];
    let mut mark = |node: usize, as_weight: bool| {
        if let Some(r) = reads.get_mut(node) {
            if as_weight {
                r.0 = true;
            } else {
                r.1 = true;
            }
        }
    };
    for node in &model.graph.nodes {
        let reads_weight = matches!(
            node.kind,
            NodeKind::Op(Op::Conv(ConvOp::Convolution(_)) | Op::Dense(DenseOp::FullyConnected(_)))
        );
        for (i, e) in node.inputs.iter().enumerate() {
            mark(e.node, reads_weight && i == 1);
        }
    }
    for h in &model.graph.heads {
        mark(h.node, false);
    }
    reads.into_iter().map(|(w, o)| w && !o).collect()
}

impl std::fmt::Debug for GpuWeights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuWeights")
            .field("params", &self.params.len())
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl GpuWeights {
    /// Uploads every parameter of `model`, splitting those larger than the storage-binding
    /// limit into slabs along their leading axes. With `f16_weights` (the device must have
    /// `shader-f16`), the weights of convolutions and FullyConnected layers are stored in f16
    /// (rounded to nearest): half the memory and half the weight bandwidth.
    pub async fn upload(
        model: &BoundModel,
        ctx: &GpuContext,
        f16_weights: bool,
    ) -> Result<Arc<GpuWeights>> {
        if f16_weights && !ctx.adapter().shader_f16 {
            return Err(Error::Backend(
                "f16 weights need the WebGPU feature 'shader-f16', which this device lacks".into(),
            ));
        }
        let half_ids = if f16_weights {
            f16_weight_params(model)
        } else {
            Vec::new()
        };
        // Slabs are sized as if f32 (an f16 slab is then half the limit).
        let max_elems = (ctx.limits().max_binding / 4) as usize;
        let alloc = Allocator::new(ctx);
        let mut params = BTreeMap::new();
        let (mut bytes, mut half_params) = (0u64, 0usize);
        for (&id, t) in &model.params {
            let half = half_ids.get(id).copied().unwrap_or(false);
            let name = &model
                .graph
                .nodes
                .get(id)
                .map_or("?", |n| n.name.as_str())
                .to_string();
            let layout = Layout::of(&t.shape, max_elems).map_err(|e| {
                Error::Backend(format!("parameter '{name}' {}: {e}", fmt_shape(&t.shape)))
            })?;
            let chunks = scoped(
                ctx.device(),
                || format!("uploading parameter '{name}' {}", fmt_shape(&t.shape)),
                || {
                    (0..layout.chunks())
                        .map(|j| {
                            let range = layout.elem_range(j);
                            let data =
                                &t.data[range.start.min(t.data.len())..range.end.min(t.data.len())];
                            let bytes = if half {
                                // Whole words: buffer writes go in multiples of 4 bytes.
                                let mut h: Vec<u16> = data
                                    .iter()
                                    .map(|&v| half::f16::from_f32(v).to_bits())
                                    .collect();
                                h.resize(data.len().next_multiple_of(2), 0);
                                bytemuck::cast_slice::<_, u8>(&h).to_vec()
                            } else {
                                bytemuck::cast_slice::<_, u8>(data).to_vec()
                            };
                            let buf = alloc.buffer(name, bytes.len() as u64, STORAGE_USAGE);
                            if !bytes.is_empty() {
                                ctx.queue().write_buffer(&buf, 0, &bytes);
                            }
                            buf
                        })
                        .collect::<Vec<_>>()
                },
            )
            .await?;
            bytes += (t.data.len() * if half { 2 } else { 4 }) as u64;
            half_params += usize::from(half);
            params.insert(
                id,
                GpuParam {
                    layout,
                    slabs: chunks,
                    half,
                },
            );
        }
        // Not Send/Sync in the browser (wgpu's handles live on one JS thread): shared ownership.
        #[allow(clippy::arc_with_non_send_sync)]
        let weights = Arc::new(GpuWeights {
            ctx: ctx.clone(),
            params,
            bytes,
            half_params,
        });
        Ok(weights)
    }

    /// Blocking [`GpuWeights::upload`] (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn upload_blocking(
        model: &BoundModel,
        ctx: &GpuContext,
        f16_weights: bool,
    ) -> Result<Arc<GpuWeights>> {
        pollster::block_on(GpuWeights::upload(model, ctx, f16_weights))
    }

    /// How many parameters are stored in f16 (0 unless uploaded with `f16_weights`).
    pub fn half_params(&self) -> usize {
        self.half_params
    }

    /// Bytes of parameters on the GPU.
    /// The device these weights live on.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// What building an executable created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildStats {
    /// Buffers created for this plan (slots, uniforms, constants, readback).
    pub buffers: u64,
    /// Bytes of those buffers.
    pub buffer_bytes: u64,
    pub dispatches: u64,
    /// Buffer-to-buffer copies recorded per run (besides the output readback copies).
    pub copies: u64,
    /// Distinct kernels (pipelines) used.
    pub kernels: u64,
}

/// What the last [`WebGpuExecutable::run`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunStats {
    pub submits: u64,
    pub dispatches: u64,
    /// Buffer-to-buffer copies (including the ones into the readback buffer).
    pub copies: u64,
    /// GPU buffers created during the run (always 0: everything is created at build).
    pub buffer_allocations: u64,
    /// Input bytes written.
    pub upload_bytes: u64,
    /// Output bytes read back (one mapping).
    pub readback_bytes: u64,
}

/// Where one plan input is written: its shape, layout and slot slabs.
type InputSlot = (Vec<usize>, Layout, Vec<wgpu::Buffer>);

/// A map_async outcome and the waker of the task awaiting it.
type MapState = (Option<std::result::Result<(), String>>, Option<Waker>);

enum Command {
    Dispatch {
        pipeline: wgpu::ComputePipeline,
        bind_group: wgpu::BindGroup,
        groups: [u32; 3],
        step: usize,
        kernel: Kernel,
    },
    Copy {
        src: wgpu::Buffer,
        src_off: u64,
        dst: wgpu::Buffer,
        dst_off: u64,
        size: u64,
        step: usize,
    },
}

/// Where one graph output goes in the readback buffer.
struct OutputCopy {
    shape: Vec<usize>,
    /// (source buffer, bytes, offset in the readback buffer) per slab.
    pieces: Vec<(wgpu::Buffer, u64, u64)>,
}

/// A plan bound to GPU buffers and recorded dispatches.
pub struct WebGpuExecutable {
    ctx: GpuContext,
    pub plan: Plan,
    _weights: Arc<GpuWeights>,
    /// Per plan input: the slot slabs it is written to.
    inputs: Vec<Option<InputSlot>>,
    commands: Vec<Command>,
    outputs: Vec<OutputCopy>,
    readback: wgpu::Buffer,
    readback_bytes: u64,
    /// "node 'name' (Op)" per plan step, for error messages.
    step_labels: Vec<String>,
    build: BuildStats,
    last: RunStats,
    // Kept alive for the bind groups.
    _slots: Vec<Vec<wgpu::Buffer>>,
    _consts: Vec<wgpu::Buffer>,
    _uniform: wgpu::Buffer,
}

impl std::fmt::Debug for WebGpuExecutable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebGpuExecutable")
            .field("steps", &self.plan.steps.len())
            .field("build", &self.build)
            .finish()
    }
}

impl WebGpuExecutable {
    /// Uploads the model's parameters and builds the executable (for one-off use; to run several
    /// plans of one model, upload once with [`GpuWeights::upload`] and use
    /// [`WebGpuExecutable::with_weights`]).
    pub async fn new(plan: Plan, model: &BoundModel, ctx: &GpuContext) -> Result<WebGpuExecutable> {
        let weights = GpuWeights::upload(model, ctx, false).await?;
        WebGpuExecutable::with_weights(plan, &model.graph, weights).await
    }

    /// Blocking [`WebGpuExecutable::new`] (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new_blocking(
        plan: Plan,
        model: &BoundModel,
        ctx: &GpuContext,
    ) -> Result<WebGpuExecutable> {
        pollster::block_on(WebGpuExecutable::new(plan, model, ctx))
    }

    /// Blocking [`WebGpuExecutable::with_weights`] (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn with_weights_blocking(
        plan: Plan,
        graph: &Graph,
        weights: Arc<GpuWeights>,
    ) -> Result<WebGpuExecutable> {
        pollster::block_on(WebGpuExecutable::with_weights(plan, graph, weights))
    }

    /// Builds the executable of `plan` on already uploaded weights.
    pub async fn with_weights(
        plan: Plan,
        graph: &Graph,
        weights: Arc<GpuWeights>,
    ) -> Result<WebGpuExecutable> {
        let ctx = weights.ctx.clone();
        let limits = ctx.limits();
        let max_elems = (limits.max_binding / 4) as usize;
        let alloc = Allocator::new(&ctx);
        let mut build = BuildStats::default();

        // Slot buffers: each slab index sized for the largest slab any value of the slot puts there.
        let mut slot_slabs: Vec<Vec<u64>> = vec![Vec::new(); plan.slot_sizes.len()];
        let mut note = |v: &Value| -> Result<()> {
            if let Source::Slot(s) = v.source {
                let layout = Layout::of(&v.shape, max_elems)?;
                let slabs = slot_slabs
                    .get_mut(s)
                    .ok_or_else(|| Error::Backend(format!("plan: slot {s} out of range")))?;
                for j in 0..layout.chunks() {
                    let bytes = (layout.elem_range(j).len() * 4) as u64;
                    if slabs.len() <= j {
                        slabs.push(0);
                    }
                    slabs[j] = slabs[j].max(bytes);
                }
            }
            Ok(())
        };
        for st in &plan.steps {
            for v in st.inputs.iter().chain(&st.outputs) {
                note(v)?;
            }
        }
        for v in plan.input_slots.iter().flatten().chain(&plan.outputs) {
            note(v)?;
        }
        let slots: Vec<Vec<wgpu::Buffer>> = scoped(
            ctx.device(),
            || {
                format!(
                    "allocating {} MiB of activation buffers",
                    plan.activation_bytes() >> 20
                )
            },
            || {
                slot_slabs
                    .iter()
                    .enumerate()
                    .map(|(s, slabs)| {
                        let slabs: &[u64] = if slabs.is_empty() {
                            &[MIN_BUFFER_BYTES]
                        } else {
                            slabs
                        };
                        slabs
                            .iter()
                            .map(|&b| alloc.buffer(&format!("slot {s}"), b, STORAGE_USAGE))
                            .collect()
                    })
                    .collect()
            },
        )
        .await?;
        for slabs in &slot_slabs {
            build.buffer_bytes += slabs.iter().sum::<u64>();
        }

        // Lower every step.
        let operand = |v: &Value| -> Result<Operand> {
            let src = match v.source {
                Source::Slot(s) => Src::Slot(s),
                Source::Param(id) => {
                    let param = weights.params.get(&id).ok_or_else(|| {
                        Error::Backend(format!("parameter {id} was not uploaded"))
                    })?;
                    return Ok(Operand {
                        src: Src::Param(id),
                        shape: v.shape.clone(),
                        layout: param.layout,
                        half: param.half,
                    });
                }
                Source::Unbound => Src::None,
            };
            Ok(Operand {
                src,
                shape: v.shape.clone(),
                layout: Layout::of(&v.shape, max_elems)?,
                half: false,
            })
        };
        let mut consts: Vec<Vec<u8>> = Vec::new();
        let mut pending: Vec<(usize, Pending)> = Vec::new();
        let mut step_labels = Vec::with_capacity(plan.steps.len());
        for (k, st) in plan.steps.iter().enumerate() {
            let node = graph
                .nodes
                .get(st.node)
                .ok_or_else(|| Error::Backend(format!("plan: node {} out of range", st.node)))?;
            let op = node.op().ok_or_else(|| {
                Error::Backend(format!("planner scheduled variable '{}'", node.name))
            })?;
            step_labels.push(format!("node '{}' ({})", node.name, op.name()));
            let ins = st.inputs.iter().map(&operand).collect::<Result<Vec<_>>>()?;
            let outs = st
                .outputs
                .iter()
                .map(&operand)
                .collect::<Result<Vec<_>>>()?;
            let mut l = Lowering::new(limits, &mut consts);
            lower_step(&mut l, op, &ins, &outs).map_err(|e| e.at_node(&node.name, op.name()))?;
            pending.extend(l.into_pending().into_iter().map(|p| (k, p)));
        }

        // Constant buffers (gather tables, shape constants).
        let consts: Vec<wgpu::Buffer> = consts
            .iter()
            .enumerate()
            .map(|(i, data)| {
                let buf = alloc.buffer(&format!("constant {i}"), data.len() as u64, STORAGE_USAGE);
                if !data.is_empty() {
                    ctx.queue().write_buffer(&buf, 0, data);
                }
                build.buffer_bytes += data.len() as u64;
                buf
            })
            .collect();
        let dummy = alloc.buffer("unused binding", MIN_BUFFER_BYTES, STORAGE_USAGE);
        let dummy_out: Vec<wgpu::Buffer> = (0..3)
            .map(|k| {
                alloc.buffer(
                    &format!("unused output {k}"),
                    MIN_BUFFER_BYTES,
                    STORAGE_USAGE,
                )
            })
            .collect();

        // One uniform block per dispatch in a single buffer.
        let align = limits.uniform_align.max(UNIFORM_BYTES);
        let n_dispatch = pending
            .iter()
            .filter(|(_, p)| matches!(p, Pending::Dispatch { .. }))
            .count() as u64;
        let mut uniform_data = vec![0u8; (n_dispatch.max(1) * align) as usize];
        let uniform = alloc.buffer(
            "uniforms",
            uniform_data.len() as u64,
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        );

        let resolve = |b: &BufRef| -> Result<wgpu::Buffer> {
            Ok(match *b {
                BufRef::Slot(s, j) => slots
                    .get(s)
                    .and_then(|c| c.get(j))
                    .ok_or_else(|| Error::Backend(format!("slot {s} has no slab {j}")))?
                    .clone(),
                BufRef::Param(id, j) => weights
                    .params
                    .get(&id)
                    .and_then(|p| p.slabs.get(j))
                    .ok_or_else(|| Error::Backend(format!("parameter {id} has no slab {j}")))?
                    .clone(),
                BufRef::Const(i) => consts
                    .get(i)
                    .ok_or_else(|| Error::Backend(format!("no constant {i}")))?
                    .clone(),
                BufRef::Dummy => dummy.clone(),
                BufRef::DummyOut(k) => dummy_out
                    .get(k)
                    .ok_or_else(|| Error::Backend(format!("no dummy output {k}")))?
                    .clone(),
            })
        };

        let mut commands = Vec::with_capacity(pending.len());
        let mut kernels_used = std::collections::HashSet::new();
        let mut next_uniform = 0u64;
        for (step, p) in pending {
            match p {
                Pending::Dispatch {
                    kernel,
                    spec,
                    uniform: words,
                    inputs,
                    outputs,
                    groups,
                } => {
                    let offset = next_uniform * align;
                    next_uniform += 1;
                    let bytes: &[u8] = bytemuck::cast_slice(&words);
                    if bytes.len() as u64 > UNIFORM_BYTES {
                        return Err(Error::Backend(format!(
                            "{}: uniform block of {} bytes",
                            kernel.describe(),
                            bytes.len()
                        )));
                    }
                    uniform_data[offset as usize..offset as usize + bytes.len()]
                        .copy_from_slice(bytes);
                    if inputs.len() != kernel.inputs as usize
                        || outputs.len() != kernel.outputs as usize
                    {
                        return Err(Error::Backend(format!(
                            "{}: {} needs {} inputs and {} outputs, got {} and {}",
                            step_labels[step],
                            kernel.describe(),
                            kernel.inputs,
                            kernel.outputs,
                            inputs.len(),
                            outputs.len()
                        )));
                    }
                    // An f16 buffer is only ever bound where the kernel reads f16.
                    for (i, b) in inputs.iter().enumerate() {
                        let half = match *b {
                            BufRef::Param(id, _) => weights.params.get(&id).is_some_and(|p| p.half),
                            _ => false,
                        };
                        if half != (i == 1 && kernel.in1_f16) {
                            return Err(Error::Backend(format!(
                                "{}: {} reads input {i} as {}, but it is stored in {}",
                                step_labels[step],
                                kernel.describe(),
                                if i == 1 && kernel.in1_f16 {
                                    "f16"
                                } else {
                                    "f32"
                                },
                                if half { "f16" } else { "f32" },
                            )));
                        }
                    }
                    let in_bufs = inputs.iter().map(&resolve).collect::<Result<Vec<_>>>()?;
                    let out_bufs = outputs.iter().map(&resolve).collect::<Result<Vec<_>>>()?;
                    let label = &step_labels[step];
                    let (pipeline, bind_group) = scoped(
                        ctx.device(),
                        || format!("{label}, kernel {}", kernel.describe()),
                        || -> Result<_> {
                            let mut cache = ctx
                                .inner
                                .kernels
                                .lock()
                                .map_err(|_| Error::Backend("kernel cache poisoned".into()))?;
                            let pipeline = cache.pipeline(ctx.device(), kernel, spec)?;
                            let layout = cache.layout(ctx.device(), kernel.inputs, kernel.outputs);
                            let mut entries = vec![wgpu::BindGroupEntry {
                                binding: 0,
                                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                                    buffer: &uniform,
                                    offset,
                                    size: wgpu::BufferSize::new(UNIFORM_BYTES),
                                }),
                            }];
                            for (i, b) in in_bufs.iter().enumerate() {
                                entries.push(wgpu::BindGroupEntry {
                                    binding: 1 + i as u32,
                                    resource: b.as_entire_binding(),
                                });
                            }
                            for (i, b) in out_bufs.iter().enumerate() {
                                entries.push(wgpu::BindGroupEntry {
                                    binding: FIRST_OUTPUT_BINDING + i as u32,
                                    resource: b.as_entire_binding(),
                                });
                            }
                            let bind_group =
                                ctx.device().create_bind_group(&wgpu::BindGroupDescriptor {
                                    label: Some(label),
                                    layout: &layout,
                                    entries: &entries,
                                });
                            Ok((pipeline, bind_group))
                        },
                    )
                    .await??;
                    kernels_used.insert(kernel);
                    build.dispatches += 1;
                    commands.push(Command::Dispatch {
                        pipeline,
                        bind_group,
                        groups,
                        step,
                        kernel,
                    });
                }
                Pending::Copy {
                    src,
                    src_off,
                    dst,
                    dst_off,
                    size,
                } => {
                    build.copies += 1;
                    commands.push(Command::Copy {
                        src: resolve(&src)?,
                        src_off,
                        dst: resolve(&dst)?,
                        dst_off,
                        size,
                        step,
                    });
                }
            }
        }
        ctx.queue().write_buffer(&uniform, 0, &uniform_data);
        build.buffer_bytes += uniform_data.len() as u64;
        build.kernels = kernels_used.len() as u64;

        // Inputs and outputs.
        let slabs_of = |v: &Value| -> Result<(Layout, Vec<wgpu::Buffer>)> {
            let op = operand(v)?;
            let bufs = (0..op.layout.chunks())
                .map(|j| resolve(&op.chunk(j)))
                .collect::<Result<Vec<_>>>()?;
            Ok((op.layout, bufs))
        };
        let inputs = plan
            .input_slots
            .iter()
            .map(|v| {
                v.as_ref()
                    .map(|v| -> Result<_> {
                        let (layout, bufs) = slabs_of(v)?;
                        Ok((v.shape.clone(), layout, bufs))
                    })
                    .transpose()
            })
            .collect::<Result<Vec<_>>>()?;
        let mut readback_bytes = 0u64;
        let mut outputs = Vec::with_capacity(plan.outputs.len());
        for v in &plan.outputs {
            if v.source == Source::Unbound {
                return Err(Error::Input("a graph output is an unbound label".into()));
            }
            let (layout, bufs) = slabs_of(v)?;
            let mut pieces = Vec::new();
            for (j, b) in bufs.into_iter().enumerate() {
                let bytes = (layout.elem_range(j).len() * 4) as u64;
                if bytes > 0 {
                    pieces.push((b, bytes, readback_bytes));
                    readback_bytes += bytes;
                }
            }
            outputs.push(OutputCopy {
                shape: v.shape.clone(),
                pieces,
            });
        }
        let readback = alloc.buffer(
            "readback",
            readback_bytes,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        build.buffer_bytes += readback_bytes;
        build.buffers = alloc.count.get();

        if let Some(e) = ctx.take_uncaptured() {
            return Err(Error::Backend(format!("building the GPU executable: {e}")));
        }
        Ok(WebGpuExecutable {
            ctx,
            plan,
            _weights: weights,
            inputs,
            commands,
            outputs,
            readback,
            readback_bytes,
            step_labels,
            build,
            last: RunStats::default(),
            _slots: slots,
            _consts: consts,
            _uniform: uniform,
        })
    }

    /// What building created.
    pub fn build_stats(&self) -> &BuildStats {
        &self.build
    }

    /// What the last run did.
    pub fn last_run(&self) -> &RunStats {
        &self.last
    }

    /// Blocking [`WebGpuExecutable::run`] (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn run_blocking(&mut self, inputs: &[&Tensor]) -> Result<Vec<Tensor>> {
        pollster::block_on(self.run(inputs))
    }

    /// Runs the plan: `inputs` in the model's input order, with the planned shapes.
    pub async fn run(&mut self, inputs: &[&Tensor]) -> Result<Vec<Tensor>> {
        let ctx = self.ctx.clone();
        // Nothing below creates a buffer: the run only writes inputs, records the commands built
        // at construction, submits once and maps the readback buffer.
        let alloc = Allocator::new(&ctx);
        if let Some(e) = ctx.take_uncaptured() {
            return Err(Error::Backend(format!("GPU error before this run: {e}")));
        }
        if inputs.len() != self.inputs.len() {
            return Err(Error::Input(format!(
                "the plan takes {} inputs but {} were given",
                self.inputs.len(),
                inputs.len()
            )));
        }
        let mut stats = RunStats::default();
        for (i, (slot, t)) in self.inputs.iter().zip(inputs).enumerate() {
            if let Some((shape, layout, bufs)) = slot {
                if *shape != t.shape || t.data.len() != numel(shape) {
                    return Err(Error::Input(format!(
                        "input {i} has shape {} but the plan was built for {}",
                        fmt_shape(&t.shape),
                        fmt_shape(shape)
                    )));
                }
                for (j, b) in bufs.iter().enumerate() {
                    let data = &t.data[layout.elem_range(j)];
                    if !data.is_empty() {
                        ctx.queue().write_buffer(b, 0, bytemuck::cast_slice(data));
                        stats.upload_bytes += (data.len() * 4) as u64;
                    }
                }
            }
        }

        let device = ctx.device();
        let internal = device.push_error_scope(wgpu::ErrorFilter::Internal);
        let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("forward"),
        });
        self.encode(&mut encoder, 0..self.commands.len(), &mut stats);
        for o in &self.outputs {
            for (b, bytes, at) in &o.pieces {
                encoder.copy_buffer_to_buffer(b, 0, &self.readback, *at, *bytes);
                stats.copies += 1;
            }
        }
        ctx.queue().submit(Some(encoder.finish()));
        stats.submits += 1;
        // Pop all three before awaiting: pops take effect at once, so other models' tasks on the
        // shared device cannot interleave their scopes with ours.
        let (v, o, i) = (validation.pop(), oom.pop(), internal.pop());
        let (v, o, i) = (v.await, o.await, i.await);
        if let Some(e) = v.or(o).or(i) {
            return Err(self.diagnose(&describe(&e)).await);
        }

        let mut tensors = Vec::with_capacity(self.outputs.len());
        if self.readback_bytes > 0 {
            let slice = self.readback.slice(..);
            map_for_reading(device, &slice, "the outputs").await?;
            {
                let view = slice
                    .get_mapped_range()
                    .map_err(|e| Error::Backend(format!("reading the outputs back: {e}")))?;
                let all: &[u8] = &view;
                for o in &self.outputs {
                    let mut data = Vec::with_capacity(numel(&o.shape));
                    for (_, bytes, at) in &o.pieces {
                        let raw = &all[*at as usize..(*at + *bytes) as usize];
                        data.extend(
                            raw.chunks_exact(4)
                                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                        );
                    }
                    tensors.push(Tensor {
                        shape: o.shape.clone(),
                        data,
                    });
                }
            }
            self.readback.unmap();
            stats.readback_bytes = self.readback_bytes;
        } else {
            tensors.extend(self.outputs.iter().map(|o| Tensor {
                shape: o.shape.clone(),
                data: Vec::new(),
            }));
        }
        if let Some(e) = ctx.take_uncaptured() {
            return Err(Error::Backend(format!("GPU error during the run: {e}")));
        }
        stats.buffer_allocations = alloc.count.get();
        self.last = stats;
        Ok(tensors)
    }

    /// Runs the plan once more and times each step (for finding slow kernels, not for
    /// measuring throughput). With the device's `timestamp-query` feature each step's compute
    /// passes carry GPU timestamps and the whole forward is one submission (copies between
    /// passes are not timed); without it, natively, each step is its own submit-and-wait, timed
    /// on the host, and in the browser the profile is refused.
    pub async fn profile(&mut self, inputs: &[&Tensor]) -> Result<Profile> {
        self.run(inputs).await?;
        let mut steps = Vec::new();
        let mut start = 0;
        while start < self.commands.len() {
            let step = command_step(&self.commands[start]);
            let mut end = start;
            while end < self.commands.len() && command_step(&self.commands[end]) == step {
                end += 1;
            }
            let kernels: Vec<String> = self.commands[start..end]
                .iter()
                .filter_map(|c| match c {
                    Command::Dispatch { kernel, groups, .. } => {
                        Some(format!("{}{groups:?}", kernel.entry))
                    }
                    _ => None,
                })
                .collect();
            let label = format!("{} [{}]", self.step_labels[step], kernels.join(", "));
            steps.push((label, start..end));
            start = end;
        }
        let device = self.ctx.device().clone();
        let passes: usize = steps
            .iter()
            .map(|(_, r)| self.dispatch_runs(r.clone()))
            .sum();
        if device.features().contains(wgpu::Features::TIMESTAMP_QUERY)
            && 2 * passes <= wgpu::QUERY_SET_MAX_QUERIES as usize
        {
            return self.profile_with_timestamps(&device, steps, passes).await;
        }
        #[cfg(target_arch = "wasm32")]
        {
            Err(Error::Unsupported(format!(
                "profiling on WebGPU needs timestamp queries, and the device of adapter '{}' has no \
                 'timestamp-query' feature{}",
                self.ctx.adapter().name,
                if passes * 2 > wgpu::QUERY_SET_MAX_QUERIES as usize {
                    " (or the plan has more passes than one query set holds)"
                } else {
                    ""
                }
            )))
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            let mut stats = RunStats::default();
            let mut times = Vec::with_capacity(steps.len());
            for (label, range) in steps {
                let t = std::time::Instant::now();
                let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("profile"),
                });
                self.encode(&mut encoder, range, &mut stats);
                self.ctx.queue().submit(Some(encoder.finish()));
                device
                    .poll(wgpu::PollType::wait_indefinitely())
                    .map_err(|e| Error::Backend(format!("waiting for the GPU: {e}")))?;
                times.push((label, t.elapsed()));
            }
            Ok(Profile {
                clock: ProfileClock::WallPerSubmit,
                steps: times,
            })
        }
    }

    /// [`Self::profile`], blocking (native).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn profile_blocking(&mut self, inputs: &[&Tensor]) -> Result<Profile> {
        pollster::block_on(self.profile(inputs))
    }

    /// The number of compute passes `encode` opens for `range` (one per run of dispatches).
    fn dispatch_runs(&self, range: std::ops::Range<usize>) -> usize {
        let mut runs = 0;
        let mut in_run = false;
        for cmd in &self.commands[range] {
            let dispatch = matches!(cmd, Command::Dispatch { .. });
            if dispatch && !in_run {
                runs += 1;
            }
            in_run = dispatch;
        }
        runs
    }

    /// [`Self::profile`] with GPU timestamps: a begin and an end timestamp around every compute
    /// pass, resolved and read back after one submission.
    async fn profile_with_timestamps(
        &self,
        device: &wgpu::Device,
        steps: Vec<(String, std::ops::Range<usize>)>,
        passes: usize,
    ) -> Result<Profile> {
        let queries = (2 * passes).max(2) as u32;
        let query_set = device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("profile timestamps"),
            ty: wgpu::QueryType::Timestamp,
            count: queries,
        });
        let bytes = u64::from(queries) * 8;
        let resolved = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("profile timestamps (resolved)"),
            size: bytes,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let readback = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("profile timestamps (readback)"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("profile"),
        });
        // The query pairs of each step's passes.
        let mut step_queries: Vec<std::ops::Range<u32>> = Vec::with_capacity(steps.len());
        let mut next = 0u32;
        let mut stats = RunStats::default();
        for (_, range) in &steps {
            let first = next;
            self.encode_timed(
                &mut encoder,
                range.clone(),
                &mut stats,
                Some((&query_set, &mut next)),
            );
            step_queries.push(first..next);
        }
        if next > 0 {
            encoder.resolve_query_set(&query_set, 0..next, &resolved, 0);
            encoder.copy_buffer_to_buffer(&resolved, 0, &readback, 0, u64::from(next) * 8);
        }
        self.ctx.queue().submit(Some(encoder.finish()));
        let slice = readback.slice(..);
        map_for_reading(device, &slice, "the timestamps").await?;
        let ticks: Vec<u64> = {
            let view = slice
                .get_mapped_range()
                .map_err(|e| Error::Backend(format!("reading the timestamps back: {e}")))?;
            view.chunks_exact(8)
                .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect()
        };
        readback.unmap();
        if let Some(e) = self.ctx.take_uncaptured() {
            return Err(Error::Backend(format!("GPU error while profiling: {e}")));
        }
        // Nanoseconds per tick.
        let period = f64::from(self.ctx.queue().get_timestamp_period());
        let steps = steps
            .into_iter()
            .zip(step_queries)
            .map(|((label, _), q)| {
                let ticks: u64 = (q.start..q.end)
                    .step_by(2)
                    .map(|i| ticks[i as usize + 1].saturating_sub(ticks[i as usize]))
                    .sum();
                let label = if q.is_empty() {
                    format!("{label} (copies only: not timed)")
                } else {
                    label
                };
                (
                    label,
                    std::time::Duration::from_nanos((ticks as f64 * period) as u64),
                )
            })
            .collect();
        Ok(Profile {
            clock: ProfileClock::GpuTimestamps,
            steps,
        })
    }

    fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        range: std::ops::Range<usize>,
        stats: &mut RunStats,
    ) {
        self.encode_timed(encoder, range, stats, None);
    }

    /// [`Self::encode`]; with `timestamps` (a query set and its next free index), every compute
    /// pass writes a begin and an end timestamp and takes the next two indices.
    fn encode_timed(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        range: std::ops::Range<usize>,
        stats: &mut RunStats,
        mut timestamps: Option<(&wgpu::QuerySet, &mut u32)>,
    ) {
        let mut pass: Option<wgpu::ComputePass> = None;
        for cmd in &self.commands[range] {
            match cmd {
                Command::Dispatch {
                    pipeline,
                    bind_group,
                    groups,
                    ..
                } => {
                    let p = pass.get_or_insert_with(|| {
                        let timestamp_writes = timestamps.as_mut().map(|(query_set, next)| {
                            let first = **next;
                            **next += 2;
                            wgpu::ComputePassTimestampWrites {
                                query_set,
                                beginning_of_pass_write_index: Some(first),
                                end_of_pass_write_index: Some(first + 1),
                            }
                        });
                        encoder
                            .begin_compute_pass(&wgpu::ComputePassDescriptor {
                                label: Some("forward"),
                                timestamp_writes,
                            })
                            .forget_lifetime()
                    });
                    p.set_pipeline(pipeline);
                    p.set_bind_group(0, bind_group, &[]);
                    p.dispatch_workgroups(groups[0], groups[1], groups[2]);
                    stats.dispatches += 1;
                }
                Command::Copy {
                    src,
                    src_off,
                    dst,
                    dst_off,
                    size,
                    ..
                } => {
                    pass = None;
                    encoder.copy_buffer_to_buffer(src, *src_off, dst, *dst_off, *size);
                    stats.copies += 1;
                }
            }
        }
    }

    /// After a failed run: re-runs the commands one step at a time, each in its own error scope,
    /// to name the node and kernel that failed.
    async fn diagnose(&self, first: &str) -> Error {
        let device = self.ctx.device();
        let mut stats = RunStats::default();
        let mut start = 0;
        while start < self.commands.len() {
            let step = command_step(&self.commands[start]);
            let mut end = start;
            while end < self.commands.len() && command_step(&self.commands[end]) == step {
                end += 1;
            }
            let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
            let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
            let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("diagnose"),
            });
            self.encode(&mut encoder, start..end, &mut stats);
            self.ctx.queue().submit(Some(encoder.finish()));
            let (o, v) = (oom.pop(), validation.pop());
            let (o, v) = (o.await, v.await);
            if let Some(e) = v.or(o) {
                let kernel = self.commands[start..end]
                    .iter()
                    .find_map(|c| match c {
                        Command::Dispatch { kernel, .. } => Some(kernel.describe()),
                        _ => None,
                    })
                    .unwrap_or_else(|| "buffer copy".into());
                return Error::Backend(format!(
                    "{}, kernel {kernel}: {}",
                    self.step_labels[step],
                    describe(&e)
                ));
            }
            start = end;
        }
        Error::Backend(format!("GPU error during the forward pass: {first}"))
    }
}

fn command_step(c: &Command) -> usize {
    match c {
        Command::Dispatch { step, .. } | Command::Copy { step, .. } => *step,
    }
}

/// A future completed by `map_async`'s callback (natively the callback runs inside
/// `device.poll`, in the browser from the event loop).
#[derive(Clone)]
struct MapFuture {
    state: Arc<Mutex<MapState>>,
}

/// Maps `slice` for reading and waits until it is mapped (natively by polling the device, in
/// the browser by awaiting its callback). `what` names the data for the error message.
async fn map_for_reading(
    device: &wgpu::Device,
    slice: &wgpu::BufferSlice<'_>,
    what: &str,
) -> Result<()> {
    let mapped = MapFuture::new();
    let signal = mapped.clone();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        signal.complete(r.map_err(|e| e.to_string()))
    });
    #[cfg(not(target_arch = "wasm32"))]
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| Error::Backend(format!("waiting for the GPU: {e}")))?;
    #[cfg(target_arch = "wasm32")]
    let _ = device;
    mapped
        .await
        .map_err(|e| Error::Backend(format!("reading {what} back: {e}")))
}

impl MapFuture {
    fn new() -> MapFuture {
        MapFuture {
            state: Arc::new(Mutex::new((None, None))),
        }
    }

    fn complete(&self, r: std::result::Result<(), String>) {
        if let Ok(mut s) = self.state.lock() {
            s.0 = Some(r);
            if let Some(w) = s.1.take() {
                w.wake();
            }
        }
    }
}

impl Future for MapFuture {
    type Output = std::result::Result<(), String>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.state.lock() {
            Ok(mut s) => match s.0.take() {
                Some(r) => Poll::Ready(r),
                None => {
                    s.1 = Some(cx.waker().clone());
                    Poll::Pending
                }
            },
            Err(_) => Poll::Ready(Err("map state poisoned".into())),
        }
    }
}
