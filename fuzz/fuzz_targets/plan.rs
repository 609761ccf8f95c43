//! `cargo +nightly fuzz run plan`: symbol JSON + an input shape → shape inference → plan →
//! (when small) a CPU forward pass. The first line of the input is the data shape
//! (`1,3,8,8`), the rest the symbol JSON. Parameters get zeros of their inferred shapes.
//! Nothing may panic, hang or allocate beyond the plan's memory limit.
#![no_main]
use std::collections::{BTreeMap, BTreeSet};

use libfuzzer_sys::fuzz_target;
use mxnet_web::backend::cpu::CpuExecutable;
use mxnet_web::bind::BoundModel;
use mxnet_web::graph::shape::infer_shapes;
use mxnet_web::graph::Graph;
use mxnet_web::plan::{build_plan_with_limit, MemoryLimit, Plan};
use mxnet_web::Tensor;

/// Keeps every fuzz case small: 16 MiB of activations and parameters at most.
const LIMIT: u64 = 16 << 20;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Some((shape_line, json)) = text.split_once('\n') else { return };
    let Ok(shape) = shape_line
        .split(',')
        .map(|d| d.trim().parse::<usize>())
        .collect::<Result<Vec<usize>, _>>()
    else {
        return;
    };
    let Ok(graph) = Graph::from_json(json, "fuzz.json") else { return };
    let Some(data_id) = graph.variables().find(|&v| graph.nodes[v].name == "data") else {
        return;
    };
    let mut known = BTreeMap::new();
    known.insert(data_id, shape.clone());
    let Ok(shapes) = infer_shapes(&graph, &known) else { return };
    // Zero parameters of their inferred shapes, within the budget.
    let mut params = BTreeMap::new();
    let mut total: u64 = 0;
    for (&id, s) in &shapes.inferred_variables {
        let Some(n) = mxnet_web::dims::checked_numel_opt(s) else { return };
        total = total.saturating_add(n as u64 * 4);
        if total > LIMIT {
            return;
        }
        params.insert(id, Tensor::zeros(s.clone()));
    }
    let model = BoundModel {
        graph,
        params,
        param_dtypes: BTreeMap::new(),
        inputs: vec![("data".into(), Some(data_id))],
        missing: BTreeSet::new(),
        unbound_labels: BTreeSet::new(),
        params_file: "fuzz.params".into(),
    };
    let Ok(plan): Result<Plan, _> = build_plan_with_limit(&model, &[shape.clone()], MemoryLimit::new(LIMIT)) else {
        return;
    };
    let mut exe = CpuExecutable::new(plan);
    let Ok(input) = Tensor::new(shape.clone(), vec![0.5; mxnet_web::tensor::numel(&shape)]) else {
        return;
    };
    let _ = exe.run(&model.graph, &model.params, &[&input]);
});
