//! BatchNorm folding and epilogue fusion: the rewrites happen on model-zoo-shaped graphs and leave
//! outputs unchanged (the fixture tests check the numbers against MXNet; this checks the rewrites
//! themselves).

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

/// The bound graph's ops that carry a fused epilogue, as `op: residual, act` strings.
fn fused_epilogues(model: &Model) -> Vec<String> {
    use mxnet_web::ops::conv::ConvOp;
    use mxnet_web::ops::dense::DenseOp;
    use mxnet_web::ops::epilogue::Epilogue;
    use mxnet_web::ops::norm::NormOp;
    use mxnet_web::ops::Op;
    model
        .bound()
        .graph
        .nodes
        .iter()
        .filter_map(|n| {
            let (op, e) = match n.op() {
                Some(Op::Conv(ConvOp::Convolution(c))) => ("Convolution", c.epilogue),
                Some(Op::Dense(DenseOp::FullyConnected(fc))) => ("FullyConnected", fc.epilogue),
                Some(Op::Norm(NormOp::BatchNorm(bn))) => (
                    "BatchNorm",
                    Epilogue {
                        residual: false,
                        act: bn.act,
                    },
                ),
                _ => return None,
            };
            (!e.is_identity()).then(|| format!("{op}: {}", e.describe()))
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
fn residual_adds_and_activations_fuse_into_their_producers() {
    for (name, expect) in [
        // ResNet blocks: conv→BN→relu, and conv→BN→(+ shortcut)→relu.
        (
            "models/tiny_resnet",
            &["Convolution: +residual, relu", "Convolution: relu"][..],
        ),
        // MobileNetV2: conv→BN→ReLU6 (clip 0..6) and the linear bottleneck's residual add.
        (
            "models/tiny_mobilenetv2",
            &["Convolution: clip(0, 6)", "Convolution: +residual"][..],
        ),
        // Dense layers: an MLP's relu, a residual block, at batch 1 (the matrix–vector path).
        ("ops/fc_relu", &["FullyConnected: relu"][..]),
        (
            "ops/fc_residual_relu",
            &["FullyConnected: +residual, relu"][..],
        ),
        (
            "ops/fc_noflatten_residual_leaky",
            &["FullyConnected: +residual, leaky(0.15)"][..],
        ),
        (
            "ops/fc_batch1_residual_relu6",
            &["FullyConnected: +residual, clip(0, 6)"][..],
        ),
        // Pre-activation: a BatchNorm that follows no convolution takes the activation.
        ("ops/bn_relu_preact", &["BatchNorm: relu"][..]),
        ("ops/bn_leaky_axis_last", &["BatchNorm: leaky(0.2)"][..]),
        ("ops/bn_relu6_3d", &["BatchNorm: clip(0, 6)"][..]),
    ] {
        let dir = common::fixtures_dir().join(name);
        let json = std::fs::read_to_string(dir.join("model-symbol.json")).unwrap();
        let params = std::fs::read(dir.join("model-0000.params")).unwrap();
        let x = read_npy(&std::fs::read(dir.join("in_data.npy")).unwrap(), "x").unwrap();
        let mut model =
            Model::from_bytes(&json, "m", &params, "p", &BindOptions::default()).unwrap();
        let fused = fused_epilogues(&model);
        for e in expect {
            assert!(
                fused.iter().any(|f| f == e),
                "{name}: nothing fused '{e}' (fused: {fused:?})"
            );
        }
        // The fused ops are gone from the graph that runs.
        let ops = |m: &Model| {
            m.bound()
                .graph
                .nodes
                .iter()
                .filter(|n| {
                    matches!(
                        n.op().map(|o| o.name()),
                        Some("Activation" | "LeakyReLU" | "clip" | "elemwise_add")
                    )
                })
                .count()
        };
        assert_eq!(
            ops(&model),
            0,
            "{name}: an activation or add was left unfused"
        );
        // Same values as the graph as written (the MXNet fixtures check both against MXNet).
        let want = run_unoptimised(&json, &params, &x);
        let got = model.run(&[x]).unwrap();
        for (p, q) in got[0].data.iter().zip(&want[0].data) {
            assert!((p - q).abs() <= 1e-5 + 1e-5 * q.abs(), "{name}: {p} vs {q}");
        }
    }
}
