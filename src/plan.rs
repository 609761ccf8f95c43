//! Planning: from a bound model and concrete input shapes to a schedule with buffers.
//!
//! - Shapes of every entry come from [`crate::graph::shape`].
//! - Nodes that do not contribute to a head are dropped.
//! - View operators (Flatten, Reshape, Dropout at inference, ...) alias their input's buffer.
//! - Every other output gets a buffer *slot*; a slot is reused once the last reader of its
//!   value has run (greedy best-fit by size), so a deep network needs only a few live buffers.
//!
//! - The planner knows every buffer's size before anything is allocated: a plan whose buffers
//!   (plus the CPU kernels' scratch) exceed the [`MemoryLimit`] is refused with the size and
//!   the node in the message, so a shape bomb (`data=1,3,100000,100000`, `UpSampling` by 10^6)
//!   is an error instead of an allocation failure.
//!
//! A plan is backend-independent: the CPU backend maps slots to `Vec<f32>`s, a GPU backend to
//! device buffers. Plans are cached per input shape by [`crate::Model`].

use std::collections::BTreeMap;

use crate::bind::BoundModel;
use crate::dims::{echo_name, f32_bytes, fmt_bytes};
use crate::error::{fmt_shape, Error, Result};
use crate::graph::shape::infer_shapes;
use crate::graph::NodeKind;
use crate::tensor::numel;

/// Where a value lives during a forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A reusable activation buffer.
    Slot(usize),
    /// A parameter (by variable node id).
    Param(usize),
    /// A label that is never bound (read by nothing at inference).
    Unbound,
}

/// A value: where it lives and its shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    pub source: Source,
    pub shape: Vec<usize>,
}

/// One operator execution.
#[derive(Debug, Clone)]
pub struct Step {
    pub node: usize,
    pub inputs: Vec<Value>,
    pub outputs: Vec<Value>,
}

/// An executable schedule for fixed input shapes.
#[derive(Debug, Clone)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Capacity of each slot in f32 elements.
    pub slot_sizes: Vec<usize>,
    /// Slot of each bound input, in `run` order (None for inputs the graph does not use).
    pub input_slots: Vec<Option<Value>>,
    /// One value per graph head.
    pub outputs: Vec<Value>,
    /// The largest CPU kernel scratch of any step, in f32 elements.
    pub scratch_len: usize,
}

impl Plan {
    /// Total bytes of activation buffers.
    pub fn activation_bytes(&self) -> usize {
        self.slot_sizes.iter().sum::<usize>() * 4
    }
}

/// How much memory a plan may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLimit {
    /// Bytes of all activation buffers together, plus the largest kernel scratch.
    pub total: u64,
    /// Bytes of any single buffer (a WebGPU device's `maxBufferSize`).
    pub per_buffer: u64,
}

impl MemoryLimit {
    /// A total budget with no separate per-buffer limit.
    pub fn new(total: u64) -> MemoryLimit {
        MemoryLimit {
            total,
            per_buffer: total,
        }
    }

    /// The platform's default: 2 GiB on wasm32 (half of the 4 GiB address space, which also
    /// holds the weights and the module); natively 16 GiB, or three quarters of the physical
    /// memory when that is smaller (Linux).
    pub fn platform_default() -> MemoryLimit {
        MemoryLimit::new(default_total())
    }
}

#[cfg(target_arch = "wasm32")]
fn default_total() -> u64 {
    2 << 30
}

#[cfg(not(target_arch = "wasm32"))]
fn default_total() -> u64 {
    const NATIVE: u64 = 16 << 30;
    let ram = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib.saturating_mul(1024))
    });
    match ram {
        Some(r) if r > 0 => NATIVE.min(r / 4 * 3),
        _ => NATIVE,
    }
}

fn over_limit(what: String, bytes: u64, limit: u64, kind: &str) -> Error {
    Error::Limit(format!(
        "{what} needs {}, over the {kind} of {} (raise it with --memory-limit or Model::set_memory_limit)",
        fmt_bytes(bytes),
        fmt_bytes(limit)
    ))
}

/// Builds a plan for the given input shapes (in the bound model's input order) within the
/// platform's default [`MemoryLimit`].
pub fn build_plan(model: &BoundModel, input_shapes: &[Vec<usize>]) -> Result<Plan> {
    build_plan_with_limit(model, input_shapes, MemoryLimit::platform_default())
}

/// Builds a plan; refuses it, before anything is allocated, when a buffer or the total exceeds
/// `limit`.
pub fn build_plan_with_limit(
    model: &BoundModel,
    input_shapes: &[Vec<usize>],
    limit: MemoryLimit,
) -> Result<Plan> {
    let per_buffer = limit.per_buffer.min(limit.total);
    let check_buffer = |what: &dyn Fn() -> String, shape: &[usize]| -> Result<()> {
        let bytes = f32_bytes(numel(shape));
        if bytes > per_buffer {
            let kind = if per_buffer < limit.total {
                "per-buffer limit"
            } else {
                "memory limit"
            };
            return Err(over_limit(
                format!("{} {}", what(), fmt_shape(shape)),
                bytes,
                per_buffer,
                kind,
            ));
        }
        Ok(())
    };
    let graph = &model.graph;
    if input_shapes.len() != model.inputs.len() {
        return Err(Error::Input(format!(
            "the model takes {} input(s) ({}) but {} were given",
            model.inputs.len(),
            model
                .inputs
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            input_shapes.len()
        )));
    }
    let mut known: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for ((_, id), shape) in model.inputs.iter().zip(input_shapes) {
        if let Some(id) = id {
            known.insert(*id, shape.clone());
        }
    }
    for (id, t) in &model.params {
        known.insert(*id, t.shape.clone());
    }
    let shapes = infer_shapes(graph, &known)?;
    let live = graph.live_nodes();
    let label_only = graph.label_only_nodes();

    // Pass 1: give every value an identity; views share their input's identity.
    // value_of[node][output] = value id
    #[derive(Clone, Copy, PartialEq)]
    enum Origin {
        Input(usize),
        Param(usize),
        Unbound,
        Computed,
    }
    let mut origins: Vec<Origin> = Vec::new();
    let mut value_of: Vec<Vec<usize>> = vec![Vec::new(); graph.nodes.len()];
    let mut is_view_step = vec![false; graph.nodes.len()];
    let input_index: BTreeMap<usize, usize> = model
        .inputs
        .iter()
        .enumerate()
        .filter_map(|(i, (_, id))| id.map(|id| (id, i)))
        .collect();

    // Variables first: a rewrite (BatchNorm folding) may append variables after their consumer.
    let variables_then_ops = graph.variables().chain(
        (0..graph.nodes.len()).filter(|&i| !matches!(graph.nodes[i].kind, NodeKind::Variable)),
    );
    for id in variables_then_ops {
        let node = &graph.nodes[id];
        if !live[id] {
            continue;
        }
        match &node.kind {
            NodeKind::Variable => {
                let origin = if let Some(&i) = input_index.get(&id) {
                    Origin::Input(i)
                } else if model.params.contains_key(&id) {
                    Origin::Param(id)
                } else if model.unbound_labels.contains(&id) {
                    Origin::Unbound
                } else if model.missing.contains(&id) {
                    return Err(Error::Bind(format!(
                        "Parameter '{}' has not been initialized: it is missing from {} (loaded with allow_missing)",
                        node.name, model.params_file
                    )));
                } else {
                    return Err(Error::Input(format!(
                        "variable '{}' is neither an input nor a parameter",
                        node.name
                    )));
                };
                value_of[id] = vec![origins.len()];
                origins.push(origin);
            }
            NodeKind::Op(op) if label_only[id] => {
                // Computes only a loss label: never run.
                value_of[id] = (0..op.num_outputs())
                    .map(|_| {
                        origins.push(Origin::Unbound);
                        origins.len() - 1
                    })
                    .collect();
                is_view_step[id] = true;
            }
            NodeKind::Op(op) => {
                if op.is_view() && op.num_outputs() == 1 {
                    let e = node.inputs[0];
                    value_of[id] = vec![value_of[e.node][e.output]];
                    is_view_step[id] = true;
                } else {
                    value_of[id] = (0..op.num_outputs())
                        .map(|_| {
                            origins.push(Origin::Computed);
                            origins.len() - 1
                        })
                        .collect();
                }
            }
        }
    }

    // Last step index reading each value (heads live to the end).
    let order: Vec<usize> = (0..graph.nodes.len())
        .filter(|&i| live[i] && matches!(graph.nodes[i].kind, NodeKind::Op(_)) && !is_view_step[i])
        .collect();
    let mut last_use = vec![None::<usize>; origins.len()];
    for (s, &id) in order.iter().enumerate() {
        for e in &graph.nodes[id].inputs {
            last_use[value_of[e.node][e.output]] = Some(s);
        }
    }
    for h in &graph.heads {
        last_use[value_of[h.node][h.output]] = Some(usize::MAX);
    }

    // Pass 2: assign slots. Inputs get slots first and keep them (the caller writes them).
    let mut slot_sizes: Vec<usize> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut slot_of: Vec<Option<usize>> = vec![None; origins.len()];
    let mut input_slots: Vec<Option<Value>> = vec![None; model.inputs.len()];
    for (v, o) in origins.iter().enumerate() {
        if let Origin::Input(i) = o {
            check_buffer(
                &|| format!("input '{}'", echo_name(&model.inputs[*i].0)),
                &input_shapes[*i],
            )?;
            let n = numel(&input_shapes[*i]);
            slot_sizes.push(n);
            slot_of[v] = Some(slot_sizes.len() - 1);
            input_slots[*i] = Some(Value {
                source: Source::Slot(slot_sizes.len() - 1),
                shape: input_shapes[*i].clone(),
            });
        }
    }
    let alloc = |n: usize, slot_sizes: &mut Vec<usize>, free: &mut Vec<usize>| -> usize {
        // Best fit among free slots; else grow the largest free slot; else a new one.
        let fit = free
            .iter()
            .enumerate()
            .filter(|(_, &s)| slot_sizes[s] >= n)
            .min_by_key(|(_, &s)| slot_sizes[s]);
        let pick = match fit {
            Some((i, _)) => Some(i),
            None => free
                .iter()
                .enumerate()
                .max_by_key(|(_, &s)| slot_sizes[s])
                .map(|(i, _)| i),
        };
        match pick {
            Some(i) => {
                let s = free.swap_remove(i);
                slot_sizes[s] = slot_sizes[s].max(n);
                s
            }
            None => {
                slot_sizes.push(n);
                slot_sizes.len() - 1
            }
        }
    };

    let value = |v: usize, shape: &[usize], slot_of: &[Option<usize>]| -> Value {
        let source = match origins[v] {
            Origin::Param(id) => Source::Param(id),
            Origin::Unbound => Source::Unbound,
            Origin::Input(_) | Origin::Computed => {
                Source::Slot(slot_of[v].expect("slot assigned before use"))
            }
        };
        Value {
            source,
            shape: shape.to_vec(),
        }
    };

    let mut steps = Vec::with_capacity(order.len());
    // The largest kernel scratch (f32 elements) and the largest output, for the budget.
    let mut scratch = 0usize;
    let mut largest: Option<(u64, usize, usize)> = None;
    for (s, &id) in order.iter().enumerate() {
        let node = &graph.nodes[id];
        let out_shapes = &shapes.outputs[id];
        let op_name = node.op().map_or("?", |o| o.name());
        let located = || format!("node '{}' ({op_name}): output", echo_name(&node.name));
        for (k, &v) in value_of[id].iter().enumerate() {
            check_buffer(&located, &out_shapes[k])?;
            let n = numel(&out_shapes[k]);
            if largest.map_or(true, |(b, _, _)| f32_bytes(n) > b) {
                largest = Some((f32_bytes(n), id, k));
            }
            slot_of[v] = Some(alloc(n, &mut slot_sizes, &mut free));
        }
        let inputs: Vec<Value> = node
            .inputs
            .iter()
            .map(|e| {
                value(
                    value_of[e.node][e.output],
                    shapes.outputs[e.node]
                        .get(e.output)
                        .map_or(&[][..], |s| s.as_slice()),
                    &slot_of,
                )
            })
            .collect();
        let outputs: Vec<Value> = value_of[id]
            .iter()
            .enumerate()
            .map(|(k, &v)| value(v, &out_shapes[k], &slot_of))
            .collect();
        if let Some(op) = node.op() {
            let in_shapes: Vec<Vec<usize>> = inputs.iter().map(|v| v.shape.clone()).collect();
            let len = op.scratch_len(&in_shapes);
            if f32_bytes(len) > limit.total {
                return Err(over_limit(
                    format!(
                        "node '{}' ({op_name}): the CPU kernel's scratch ({len} values)",
                        echo_name(&node.name)
                    ),
                    f32_bytes(len),
                    limit.total,
                    "memory limit",
                ));
            }
            scratch = scratch.max(len);
        }
        steps.push(Step {
            node: id,
            inputs,
            outputs,
        });

        // Release values whose last reader was this step (or that nobody reads).
        let mut released: Vec<usize> = Vec::new();
        let mut candidates: Vec<usize> = node
            .inputs
            .iter()
            .map(|e| value_of[e.node][e.output])
            .collect();
        candidates.extend(value_of[id].iter().copied());
        for v in candidates {
            let done = match last_use[v] {
                None => true,
                Some(l) => l == s,
            };
            if done && matches!(origins[v], Origin::Computed) && !released.contains(&v) {
                if let Some(slot) = slot_of[v] {
                    free.push(slot);
                    released.push(v);
                }
            }
        }
    }

    let outputs: Vec<Value> = graph
        .heads
        .iter()
        .map(|h| {
            let v = value_of[h.node][h.output];
            let shape = &shapes.outputs[h.node][h.output];
            match origins[v] {
                Origin::Unbound => Err(Error::Input(format!(
                    "graph output '{}' is an unbound label",
                    graph.nodes[h.node].name
                ))),
                _ => Ok(value(v, shape, &slot_of)),
            }
        })
        .collect::<Result<_>>()?;

    let buffers: u64 = slot_sizes.iter().map(|&n| f32_bytes(n)).sum();
    let total = buffers.saturating_add(f32_bytes(scratch));
    if total > limit.total {
        let mut what = format!(
            "the plan for inputs {} ({} buffers, {} of activations and {} of kernel scratch)",
            input_shapes
                .iter()
                .map(|s| fmt_shape(s))
                .collect::<Vec<_>>()
                .join(", "),
            slot_sizes.len(),
            fmt_bytes(buffers),
            fmt_bytes(f32_bytes(scratch)),
        );
        if let Some((bytes, id, k)) = largest {
            let n = &graph.nodes[id];
            what = format!(
                "{what}, whose largest output is node '{}' ({}) {} of {},",
                echo_name(&n.name),
                n.op().map_or("?", |o| o.name()),
                fmt_shape(&shapes.outputs[id][k]),
                fmt_bytes(bytes)
            );
        }
        return Err(over_limit(what, total, limit.total, "memory limit"));
    }

    // Sanity: every slot value read has a known size (guards against a planner bug).
    for st in &steps {
        for v in st.inputs.iter().chain(&st.outputs) {
            if let Source::Slot(s) = v.source {
                if slot_sizes[s] < numel(&v.shape) {
                    return Err(Error::Backend(format!(
                        "planner: slot {s} holds {} values but {} needs {}",
                        slot_sizes[s],
                        fmt_shape(&v.shape),
                        numel(&v.shape)
                    )));
                }
            }
        }
    }
    Ok(Plan {
        steps,
        slot_sizes,
        input_slots,
        outputs,
        scratch_len: scratch,
    })
}
