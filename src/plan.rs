//! Planning: from a bound model and concrete input shapes to a schedule with buffers.
//!
//! - Shapes of every entry come from [`crate::graph::shape`].
//! - Nodes that do not contribute to a head are dropped.
//! - View operators (Flatten, Reshape, Dropout at inference, ...) alias their input's buffer.
//! - Every other output gets a buffer *slot*; a slot is reused once the last reader of its
//!   value has run (greedy best-fit by size), so a deep network needs only a few live buffers.
//!
//! A plan is backend-independent: the CPU backend maps slots to `Vec<f32>`s, a GPU backend to
//! device buffers. Plans are cached per input shape by [`crate::Model`].

use std::collections::BTreeMap;

use crate::bind::BoundModel;
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
}

impl Plan {
    /// Total bytes of activation buffers.
    pub fn activation_bytes(&self) -> usize {
        self.slot_sizes.iter().sum::<usize>() * 4
    }
}

/// Builds a plan for the given input shapes (in the bound model's input order).
pub fn build_plan(model: &BoundModel, input_shapes: &[Vec<usize>]) -> Result<Plan> {
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
    for (s, &id) in order.iter().enumerate() {
        let node = &graph.nodes[id];
        let out_shapes = &shapes.outputs[id];
        for (k, &v) in value_of[id].iter().enumerate() {
            let n = numel(&out_shapes[k]);
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
    })
}
