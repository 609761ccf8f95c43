//! BatchNorm folding: the rewrite happens on model-zoo-shaped graphs and leaves outputs unchanged
//! (the fixture tests check the numbers against MXNet; this checks the rewrite itself).

mod common;

use mxnet_web::format::npy::read_npy;
use mxnet_web::format::params::read_params;
use mxnet_web::graph::Graph;
use mxnet_web::{BindOptions, Model};

#[test]
fn batchnorm_after_convolution_is_folded() {
    let dir = common::fixtures_dir().join("models").join("tiny_resnet");
    let model = Model::from_files(
        dir.join("model-symbol.json"),
        dir.join("model-0000.params"),
        &BindOptions::default(),
    )
    .unwrap();
    let count = |g: &Graph, name: &str| {
        g.nodes
            .iter()
            .filter(|n| n.op().map(|o| o.name()) == Some(name))
            .count()
    };
    let original_bn = count(model.graph(), "BatchNorm");
    assert!(original_bn >= 4, "tiny_resnet has {original_bn} BatchNorms");
    assert_eq!(
        count(&model.bound().graph, "BatchNorm"),
        0,
        "every conv→BN pair folds"
    );
    // info() still describes the file's graph.
    assert_eq!(
        model.info(None).unwrap().op_counts["BatchNorm"],
        original_bn
    );
}

#[test]
fn folding_preserves_outputs() {
    let dir = common::fixtures_dir()
        .join("models")
        .join("tiny_mobilenetv2");
    let json = std::fs::read_to_string(dir.join("model-symbol.json")).unwrap();
    let params = std::fs::read(dir.join("model-0000.params")).unwrap();
    let x = read_npy(&std::fs::read(dir.join("in_data.npy")).unwrap(), "x").unwrap();

    let mut folded = Model::from_bytes(&json, "m", &params, "p", &BindOptions::default()).unwrap();
    let graph = Graph::from_json(&json, "m").unwrap();
    let bound = mxnet_web::bind::bind(
        graph,
        read_params(&params, "p").unwrap(),
        "p",
        &BindOptions::default(),
    )
    .unwrap();
    let plan = mxnet_web::plan::build_plan(&bound, std::slice::from_ref(&x.shape)).unwrap();
    let mut exe = mxnet_web::backend::cpu::CpuExecutable::new(plan);
    let unfolded = exe.run(&bound.graph, &bound.params, &[&x]).unwrap();
    let a = folded.run(&[x]).unwrap();
    for (p, q) in a[0].data.iter().zip(&unfolded[0].data) {
        assert!((p - q).abs() <= 1e-5 + 1e-5 * q.abs(), "{p} vs {q}");
    }
}

/// The bound graph's convolutions that carry a fused epilogue, as `(residual, act)` strings.
fn fused_convolutions(model: &Model) -> Vec<String> {
    use mxnet_web::ops::conv::ConvOp;
    use mxnet_web::ops::Op;
    model
        .bound()
        .graph
        .nodes
        .iter()
        .filter_map(|n| match n.op() {
            Some(Op::Conv(ConvOp::Convolution(c))) if !c.epilogue.is_identity() => {
                Some(c.epilogue.describe())
            }
            _ => None,
        })
        .collect()
}

/// Runs the model's file graph without any rewrite, on the CPU.
fn run_unoptimised(json: &str, params: &[u8], x: &mxnet_web::Tensor) -> Vec<mxnet_web::Tensor> {
    let graph = Graph::from_json(json, "m").unwrap();
    let bound = mxnet_web::bind::bind(
        graph,
        read_params(params, "p").unwrap(),
        "p",
        &BindOptions::default(),
    )
    .unwrap();
    let plan = mxnet_web::plan::build_plan(&bound, std::slice::from_ref(&x.shape)).unwrap();
    let mut exe = mxnet_web::backend::cpu::CpuExecutable::new(plan);
    exe.run(&bound.graph, &bound.params, &[x]).unwrap()
}

#[test]
fn residual_adds_and_activations_fuse_into_convolutions() {
    for (name, expect) in [
        // ResNet blocks: conv→BN→relu, and conv→BN→(+ shortcut)→relu.
        ("tiny_resnet", &["+residual, relu", "relu"][..]),
        // MobileNetV2: conv→BN→ReLU6 (clip 0..6) and the linear bottleneck's residual add.
        ("tiny_mobilenetv2", &["clip(0, 6)", "+residual"][..]),
    ] {
        let dir = common::fixtures_dir().join("models").join(name);
        let json = std::fs::read_to_string(dir.join("model-symbol.json")).unwrap();
        let params = std::fs::read(dir.join("model-0000.params")).unwrap();
        let x = read_npy(&std::fs::read(dir.join("in_data.npy")).unwrap(), "x").unwrap();
        let mut model =
            Model::from_bytes(&json, "m", &params, "p", &BindOptions::default()).unwrap();
        let fused = fused_convolutions(&model);
        for e in expect {
            assert!(
                fused.iter().any(|f| f == e),
                "{name}: no convolution fused '{e}' (fused: {fused:?})"
            );
        }
        // Same values as the graph as written (the MXNet fixtures check both against MXNet).
        let want = run_unoptimised(&json, &params, &x);
        let got = model.run(&[x]).unwrap();
        for (p, q) in got[0].data.iter().zip(&want[0].data) {
            assert!((p - q).abs() <= 1e-5 + 1e-5 * q.abs(), "{name}: {p} vs {q}");
        }
    }
}
