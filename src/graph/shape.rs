//! Shape inference over the whole graph.
//!
//! Runs each live operator's shape rule in node order. Variables whose shape is unknown
//! (parameters missing from the file under `allow_missing`, labels, graphs inspected without
//! weights) get the shape their consumer infers, as MXNet's bidirectional inference does. So do
//! op outputs with unknown (0) dimensions (`Op::has_unknown_output_dims`: Gluon's RNN
//! `begin_state` as `_zeros(shape=(layers·directions, 0, hidden))`): their first consumer's rule
//! sees an unknown input, and the shape it asks for, checked against the known dimensions,
//! becomes the output's shape.

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
    // Op outputs whose shape still has unknown (0) dimensions.
    let mut partial: Vec<bool> = vec![false; graph.nodes.len()];
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
                NodeKind::Op(_) if label_only[e.node] || partial[e.node] => None,
                NodeKind::Op(_) => outputs[e.node].get(e.output).cloned(),
            })
            .collect();
        let given: Vec<bool> = ins.iter().map(Option::is_some).collect();
        let from_partial: Vec<bool> = node.inputs.iter().map(|e| partial[e.node]).collect();
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
            if from_partial[k] {
                let pending = &outputs[e.node][0];
                let producer = &graph.nodes[e.node].name;
                match &ins[k] {
                    Some(s) if fills_unknown_dims(pending, s) => {
                        outputs[e.node] = vec![s.clone()];
                        partial[e.node] = false;
                    }
                    Some(s) => {
                        return Err(Error::Shape(format!(
                            "node '{}' ({}): input '{producer}' (slot {slot}) has shape {} (0: unknown) but this op needs {}",
                            node.name,
                            op.name(),
                            fmt_shape(pending),
                            fmt_shape(s)
                        )))
                    }
                    None => {
                        return Err(Error::Shape(format!(
                            "node '{}' ({}): cannot infer the unknown (0) dimensions of input '{producer}' (slot {slot}), shape {}",
                            node.name,
                            op.name(),
                            fmt_shape(pending)
                        )))
                    }
                }
                continue;
            }
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
        partial[id] = op.has_unknown_output_dims();
        outputs[id] = outs;
    }
    if let Some(id) = (0..graph.nodes.len()).find(|&id| partial[id]) {
        let node = &graph.nodes[id];
        return Err(Error::Shape(format!(
            "node '{}' ({}): shape {} has unknown (0) dimensions and no consumer determines them",
            node.name,
            node.op().map_or("?", |o| o.name()),
            fmt_shape(&outputs[id][0])
        )));
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

/// Whether `shape` is `pending` with its unknown (0) dimensions filled in.
fn fills_unknown_dims(pending: &[usize], shape: &[usize]) -> bool {
    pending.len() == shape.len()
        && pending
            .iter()
            .zip(shape)
            .all(|(&p, &s)| if p == 0 { s > 0 } else { p == s })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A graph of `nodes` (JSON objects) with `heads`, shapes inferred with variable 0 = `data`.
    fn infer(nodes: &str, heads: &str, data: &[usize]) -> Result<GraphShapes> {
        let json = format!(
            r#"{{"nodes": [{nodes}], "arg_nodes": [0], "heads": {heads},
                "attrs": {{"mxnet_version": ["int", 10901]}}}}"#
        );
        let graph = Graph::from_json(&json, "test-symbol.json")?;
        infer_shapes(&graph, &BTreeMap::from([(0, data.to_vec())]))
    }

    const DATA: &str = r#"{"op": "null", "name": "data", "inputs": []}"#;

    #[test]
    fn unknown_dims_take_the_consumers_shape() {
        // RNN (mode rnn_tanh, 1 layer, hidden 3) with its state from _zeros((1, 0, 3)).
        let nodes = format!(
            r#"{DATA}, {{"op": "null", "name": "params", "inputs": []}},
               {{"op": "_zeros", "name": "h0", "attrs": {{"shape": "(1, 0, 3)"}}, "inputs": []}},
               {{"op": "RNN", "name": "rnn", "attrs": {{"mode": "rnn_tanh", "state_size": "3",
                 "num_layers": "1", "state_outputs": "False"}}, "inputs": [[0, 0, 0], [1, 0, 0], [2, 0, 0]]}}"#
        );
        let shapes = infer(&nodes, "[[3, 0, 0]]", &[5, 2, 4]).unwrap();
        assert_eq!(shapes.outputs[2], [vec![1, 2, 3]]);
        assert_eq!(shapes.outputs[3], [vec![5, 2, 3]]);
        // A known dimension that disagrees with the consumer is an error naming both.
        let wrong = nodes.replace("(1, 0, 3)", "(1, 0, 7)");
        let e = infer(&wrong, "[[3, 0, 0]]", &[5, 2, 4])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'h0'") && e.contains("(1, 0, 7)") && e.contains("(1, 2, 3)"),
            "{e}"
        );
    }

    #[test]
    fn unknown_dims_nobody_fills_are_an_error() {
        let nodes = format!(
            r#"{DATA}, {{"op": "_ones", "name": "ones", "attrs": {{"shape": "(0, 3)"}}, "inputs": []}}"#
        );
        let e = infer(&nodes, "[[1, 0, 0]]", &[2]).unwrap_err().to_string();
        assert!(
            e.contains("'ones'") && e.contains("unknown (0) dimensions"),
            "{e}"
        );
    }
}
