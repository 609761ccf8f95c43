//! Shape inference over the whole graph.
//!
//! Runs each live operator's shape rule in node order. Variables whose shape is unknown
//! (parameters missing from the file under `allow_missing`, labels, graphs inspected without
//! weights) get the shape their consumer infers, as MXNet's bidirectional inference does.

use std::collections::BTreeMap;

use crate::dims::{checked_numel, echo_name};
use crate::error::{fmt_shape, Error, Result};
use crate::graph::{Graph, NodeKind};

/// Shapes of every live node's outputs (`outputs[node][output]`) and the shapes inferred for
/// variables that had none.
#[derive(Debug, Clone)]
pub struct GraphShapes {
    pub outputs: Vec<Vec<Vec<usize>>>,
    pub inferred_variables: BTreeMap<usize, Vec<usize>>,
}

/// Infers shapes given the known variable shapes (`known[node_id]`).
pub fn infer_shapes(graph: &Graph, known: &BTreeMap<usize, Vec<usize>>) -> Result<GraphShapes> {
    let live = graph.live_nodes();
    // Values that only feed loss labels are never computed: their shapes stay unknown and the
    // loss operator infers its label's shape itself.
    let label_only = graph.label_only_nodes();
    let mut outputs: Vec<Vec<Vec<usize>>> = vec![Vec::new(); graph.nodes.len()];
    let mut var_shape: Vec<Option<Vec<usize>>> = vec![None; graph.nodes.len()];
    let mut inferred = BTreeMap::new();
    for (id, s) in known {
        let name = graph.nodes.get(*id).map_or("?", |n| n.name.as_str());
        checked_numel(s, format_args!("variable '{}'", echo_name(name)))?;
        var_shape[*id] = Some(s.clone());
    }

    for (id, node) in graph.nodes.iter().enumerate() {
        if !live[id] || (label_only[id] && node.op().is_some()) {
            continue;
        }
        let op = match &node.kind {
            NodeKind::Variable => {
                if let Some(s) = &var_shape[id] {
                    outputs[id] = vec![s.clone()];
                }
                continue;
            }
            NodeKind::Op(op) => op,
        };
        let mut ins: Vec<Option<Vec<usize>>> = node
            .inputs
            .iter()
            .map(|e| match &graph.nodes[e.node].kind {
                NodeKind::Variable => var_shape[e.node].clone(),
                NodeKind::Op(_) if label_only[e.node] => None,
                NodeKind::Op(_) => outputs[e.node].get(e.output).cloned(),
            })
            .collect();
        let given: Vec<bool> = ins.iter().map(Option::is_some).collect();
        let outs = op.infer_shape(&mut ins).map_err(|e| {
            // Name every input with its shape: a wrong parameter shape is then easy to trace to
            // the parameter (MXNet's own message names only the operator).
            let slots = op.inputs();
            let described: Vec<String> = node
                .inputs
                .iter()
                .enumerate()
                .map(|(k, e)| {
                    let slot = slots.get(k).map(|s| s.0.as_str()).unwrap_or("?");
                    let shape = given[k].then(|| ins[k].as_deref().map(fmt_shape)).flatten();
                    format!(
                        "{slot}='{}' {}",
                        echo_name(&graph.nodes[e.node].name),
                        shape.unwrap_or_else(|| "(unknown)".into())
                    )
                })
                .collect();
            Error::Shape(format!("{e}; inputs: {}", described.join(", ")))
                .at_node(&node.name, op.name())
        })?;
        // Every shape a rule produces (outputs, and parameter shapes it inferred) must describe
        // a tensor that can exist: no rule's product may wrap around unnoticed.
        for s in outs.iter().chain(ins.iter().flatten()) {
            checked_numel(s, format_args!("node '{}' ({})", node.name, op.name()))?;
        }
        if outs.len() != op.num_outputs() {
            return Err(Error::Shape(format!(
                "node '{}' ({}): shape rule returned {} outputs, expected {}",
                node.name,
                op.name(),
                outs.len(),
                op.num_outputs()
            )));
        }
        for (k, e) in node.inputs.iter().enumerate() {
            if given[k] {
                continue;
            }
            let slot = op.inputs().get(k).map(|s| s.0.clone()).unwrap_or_default();
            if label_only[e.node] && graph.nodes[e.node].op().is_some() {
                continue;
            }
            match &ins[k] {
                Some(s) => {
                    var_shape[e.node] = Some(s.clone());
                    outputs[e.node] = vec![s.clone()];
                    inferred.insert(e.node, s.clone());
                }
                None => {
                    return Err(Error::Shape(format!(
                        "node '{}' ({}): cannot infer the shape of input '{}' (slot {slot}); give it as an input or a parameter",
                        node.name,
                        op.name(),
                        graph.nodes[e.node].name
                    )))
                }
            }
        }
        // A variable feeding several ops must get one consistent shape.
        for (k, e) in node.inputs.iter().enumerate() {
            if let (NodeKind::Variable, Some(s)) = (&graph.nodes[e.node].kind, &ins[k]) {
                if let Some(prev) = &var_shape[e.node] {
                    if prev != s {
                        return Err(Error::Shape(format!(
                            "node '{}' ({}): input '{}' has shape {} but this op needs {}",
                            node.name,
                            op.name(),
                            graph.nodes[e.node].name,
                            fmt_shape(prev),
                            fmt_shape(s)
                        )));
                    }
                }
            }
        }
        outputs[id] = outs;
    }
    for h in &graph.heads {
        if outputs[h.node].get(h.output).is_none() {
            return Err(Error::Shape(format!(
                "cannot infer the shape of output '{}' of the graph (is it an input that was not given?)",
                graph.nodes[h.node].name
            )));
        }
    }
    Ok(GraphShapes {
        outputs,
        inferred_variables: inferred,
    })
}
