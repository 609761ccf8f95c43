//! `cargo +nightly fuzz run symbol`: symbol JSON parsing, typing and shape inference must never
//! panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(graph) = mxnet_web::graph::Graph::from_json(text, "fuzz.json") {
            let known = graph.variables().map(|v| (v, vec![1, 3, 8, 8])).collect();
            let _ = mxnet_web::graph::shape::infer_shapes(&graph, &known);
        }
    }
});
