//! The WebGPU backend against MXNet: every fixture case of tests/fixtures/{ops,flows,legacy,models}
//! run on the WebGPU executor, compared with MXNet's outputs (and with the CPU backend), plus
//! slab splitting under a tiny binding limit and the per-run counters.
//!
//! Needs a WebGPU adapter (natively: Vulkan; on a machine without a GPU, Mesa's llvmpipe from
//! `mesa-vulkan-drivers`). Without one every test prints SKIP and passes.
//!
//! `cargo test --release --features webgpu --test webgpu` (CASE=substring filters cases;
//! `-- --ignored bench_resnet18` times tests/fixtures/big/resnet18_v1 on both backends).
#![cfg(feature = "webgpu")]

mod common;

use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use mxnet_web::backend::webgpu::{
    GpuContext, GpuOptions, GpuWeights, ProfileClock, WebGpuExecutable,
};
use mxnet_web::format::params::{write_params, NDArray, RecordVersion};
use mxnet_web::model::BackendChoice;
use mxnet_web::plan::build_plan;
use mxnet_web::{BindOptions, DType, Model, Precision, Tensor};

/// The shared context, or None (with a SKIP message) when no adapter exists.
fn context() -> Option<&'static GpuContext> {
    static CTX: OnceLock<Option<GpuContext>> = OnceLock::new();
    CTX.get_or_init(|| match GpuContext::new_blocking() {
        Ok(c) => {
            eprintln!("webgpu: adapter {}", c.adapter());
            Some(c)
        }
        Err(e) => {
            eprintln!("SKIP: no WebGPU adapter ({e}); on a machine without a GPU install mesa-vulkan-drivers (llvmpipe)");
            None
        }
    })
    .as_ref()
}

/// Builds and runs `model` on the GPU twice, checking that the second run allocates nothing,
/// submits once and gives identical results.
fn run_gpu(
    ctx: &GpuContext,
    model: &Model,
    inputs: &[Tensor],
) -> Result<Vec<Tensor>, mxnet_web::Error> {
    let shapes: Vec<Vec<usize>> = inputs.iter().map(|t| t.shape.clone()).collect();
    let plan = build_plan(model.bound(), &shapes)?;
    let weights = GpuWeights::upload_blocking(model.bound(), ctx, false)?;
    let mut exe = WebGpuExecutable::with_weights_blocking(plan, &model.bound().graph, weights)?;
    let refs: Vec<&Tensor> = inputs.iter().collect();
    let first = exe.run_blocking(&refs)?;
    let second = exe.run_blocking(&refs)?;
    let stats = exe.last_run();
    if stats.buffer_allocations != 0
        || stats.submits != 1
        || stats.dispatches != exe.build_stats().dispatches
    {
        return Err(mxnet_web::Error::Backend(format!(
            "run stats {stats:?} (build {:?})",
            exe.build_stats()
        )));
    }
    let same = first.iter().zip(&second).all(|(a, b)| {
        a.shape == b.shape
            && a.data
                .iter()
                .zip(&b.data)
                .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
    });
    if !same {
        return Err(mxnet_web::Error::Backend(
            "a second run gave different results".into(),
        ));
    }
    Ok(first)
}

/// Largest |gpu − cpu| relative to the CPU output scale, or a note when the CPU failed.
fn versus_cpu(model: &mut Model, inputs: &[Tensor], gpu: &[Tensor]) -> String {
    match model.run(inputs) {
        Ok(cpu) => {
            let mut worst = 0f32;
            for (a, b) in gpu.iter().zip(&cpu) {
                let scale =
                    b.data
                        .iter()
                        .fold(0f32, |m, v| if v.is_finite() { m.max(v.abs()) } else { m });
                for (x, y) in a.data.iter().zip(&b.data) {
                    if x.is_finite() && y.is_finite() {
                        worst = worst.max((x - y).abs() / scale.max(f32::MIN_POSITIVE));
                    }
                }
            }
            format!("vs cpu {worst:.1e}")
        }
        Err(e) => format!(
            "cpu failed: {}",
            e.to_string().chars().take(60).collect::<String>()
        ),
    }
}

fn run_group_gpu(group: &str) {
    let Some(ctx) = context() else { return };
    let cases = common::cases(group);
    let mut failures = Vec::new();
    for dir in &cases {
        let note = Mutex::new(String::new());
        let o = common::run_case_with(dir, &mut |m: &mut Model, inputs: &[Tensor]| {
            let out = run_gpu(ctx, m, inputs)?;
            if let Ok(mut n) = note.lock() {
                *n = versus_cpu(m, inputs, &out);
            }
            Ok(out)
        });
        let note = note.into_inner().unwrap_or_default();
        println!(
            "{} {:<50} {} {}",
            if o.ok { "ok  " } else { "FAIL" },
            o.name,
            o.detail,
            note
        );
        if !o.ok {
            failures.push(format!("{}: {}", o.name, o.detail));
        }
    }
    println!(
        "webgpu {group}: {} cases, {} passed, {} failed",
        cases.len(),
        cases.len() - failures.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} {group} cases failed on WebGPU:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn ops() {
    run_group_gpu("ops");
}

#[test]
fn flows() {
    run_group_gpu("flows");
}

#[test]
fn legacy() {
    run_group_gpu("legacy");
}

#[test]
fn models() {
    run_group_gpu("models");
}

/// The zoo models of tests/fixtures/big (generated by `generate.py --big`; required when
/// `MXNET_WEB_REQUIRE_BIG=1`, as in CI).
#[test]
fn big() {
    if common::cases("big").is_empty() {
        if std::env::var("MXNET_WEB_REQUIRE_BIG").as_deref() == Ok("1") {
            panic!("tests/fixtures/big is empty: run .venv/bin/python tests/fixtures/generate.py --big");
        }
        eprintln!("SKIP big: tests/fixtures/big not generated");
        return;
    }
    run_group_gpu("big");
}

/// Deterministic pseudo-random values in [-scale, scale).
fn values(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

/// A model whose weights exceed a 1 MiB binding: conv 256→256 3×3 (2.25 MiB), FC 4096→512
/// (8 MiB), FC 512→10.
fn big_weight_model() -> Model {
    let json = r#"{
      "nodes": [
        {"op": "null", "name": "data", "inputs": []},
        {"op": "null", "name": "conv_weight", "inputs": []},
        {"op": "null", "name": "conv_bias", "inputs": []},
        {"op": "Convolution", "name": "conv", "attrs": {"kernel": "(3, 3)", "pad": "(1, 1)", "num_filter": "256"}, "inputs": [[0, 0, 0], [1, 0, 0], [2, 0, 0]]},
        {"op": "null", "name": "fc1_weight", "inputs": []},
        {"op": "null", "name": "fc1_bias", "inputs": []},
        {"op": "FullyConnected", "name": "fc1", "attrs": {"num_hidden": "512"}, "inputs": [[3, 0, 0], [4, 0, 0], [5, 0, 0]]},
        {"op": "Activation", "name": "relu", "attrs": {"act_type": "relu"}, "inputs": [[6, 0, 0]]},
        {"op": "null", "name": "fc2_weight", "inputs": []},
        {"op": "null", "name": "fc2_bias", "inputs": []},
        {"op": "FullyConnected", "name": "fc2", "attrs": {"num_hidden": "10"}, "inputs": [[7, 0, 0], [8, 0, 0], [9, 0, 0]]}
      ],
      "arg_nodes": [0, 1, 2, 4, 5, 8, 9],
      "heads": [[10, 0, 0]],
      "attrs": {"mxnet_version": ["int", 10901]}
    }"#;
    let arrays = [
        ("arg:conv_weight", vec![256, 256, 3, 3], 0.02),
        ("arg:conv_bias", vec![256], 0.1),
        ("arg:fc1_weight", vec![512, 4096], 0.02),
        ("arg:fc1_bias", vec![512], 0.1),
        ("arg:fc2_weight", vec![10, 512], 0.05),
        ("arg:fc2_bias", vec![10], 0.1),
    ];
    let nd: Vec<NDArray> = arrays
        .iter()
        .enumerate()
        .map(|(i, (_, shape, scale))| NDArray {
            shape: shape.clone(),
            dtype: DType::F32,
            data: values(shape.iter().product(), i as u64 + 1, *scale),
        })
        .collect();
    let names: Vec<String> = arrays.iter().map(|a| a.0.to_string()).collect();
    let bytes = write_params(&nd, &names, RecordVersion::V2);
    Model::from_bytes(
        json,
        "big_weights.json",
        &bytes,
        "big_weights.params",
        &BindOptions::default(),
    )
    .expect("model loads")
}

/// Weights above the binding limit are split into slabs and give the CPU's results.
#[test]
fn slabs_under_a_1_mib_binding_limit() {
    if context().is_none() {
        return;
    }
    let ctx = GpuContext::with_options_blocking(GpuOptions {
        max_binding_bytes: Some(1 << 20),
        ..Default::default()
    })
    .expect("context with a 1 MiB binding cap");
    assert_eq!(ctx.adapter().max_binding_bytes, 1 << 20);
    let mut model = big_weight_model();
    let input = Tensor::new(vec![2, 256, 4, 4], values(2 * 256 * 16, 99, 1.0)).unwrap();
    let cpu = model.run(std::slice::from_ref(&input)).expect("cpu run");
    let gpu = run_gpu(&ctx, &model, std::slice::from_ref(&input)).expect("gpu run");
    let scale = cpu[0].data.iter().fold(0f32, |m, v| m.max(v.abs()));
    for (a, b) in gpu[0].data.iter().zip(&cpu[0].data) {
        assert!((a - b).abs() <= 1e-4 * scale + 1e-5, "gpu {a} vs cpu {b}");
    }
}

/// A small CNN on a batch of 4 whose activations (64 KiB per image) exceed a 128 KiB binding
/// cap: convolution, BatchNorm, ReLU, residual add and pooling run image slab by image slab.
#[test]
fn activation_slabs_under_a_128_kib_binding_limit() {
    if context().is_none() {
        return;
    }
    let json = r#"{
      "nodes": [
        {"op": "null", "name": "data", "inputs": []},
        {"op": "null", "name": "c1_weight", "inputs": []},
        {"op": "null", "name": "c1_bias", "inputs": []},
        {"op": "Convolution", "name": "c1", "attrs": {"kernel": "(3, 3)", "pad": "(1, 1)", "num_filter": "16"}, "inputs": [[0, 0, 0], [1, 0, 0], [2, 0, 0]]},
        {"op": "null", "name": "bn_gamma", "inputs": []},
        {"op": "null", "name": "bn_beta", "inputs": []},
        {"op": "null", "name": "bn_moving_mean", "inputs": []},
        {"op": "null", "name": "bn_moving_var", "inputs": []},
        {"op": "BatchNorm", "name": "bn", "attrs": {"eps": "1e-5", "fix_gamma": "False"}, "inputs": [[3, 0, 0], [4, 0, 0], [5, 0, 0], [6, 0, 0], [7, 0, 0]]},
        {"op": "Activation", "name": "relu", "attrs": {"act_type": "relu"}, "inputs": [[8, 0, 0]]},
        {"op": "null", "name": "c2_weight", "inputs": []},
        {"op": "Convolution", "name": "c2", "attrs": {"kernel": "(3, 3)", "pad": "(1, 1)", "num_filter": "16", "no_bias": "True"}, "inputs": [[9, 0, 0], [10, 0, 0]]},
        {"op": "elemwise_add", "name": "add", "inputs": [[11, 0, 0], [9, 0, 0]]},
        {"op": "Pooling", "name": "pool", "attrs": {"kernel": "(2, 2)", "stride": "(2, 2)", "pool_type": "max"}, "inputs": [[12, 0, 0]]},
        {"op": "Pooling", "name": "gap", "attrs": {"kernel": "(1, 1)", "global_pool": "True", "pool_type": "avg"}, "inputs": [[13, 0, 0]]},
        {"op": "Flatten", "name": "flat", "inputs": [[14, 0, 0]]},
        {"op": "null", "name": "fc_weight", "inputs": []},
        {"op": "null", "name": "fc_bias", "inputs": []},
        {"op": "FullyConnected", "name": "fc", "attrs": {"num_hidden": "10"}, "inputs": [[15, 0, 0], [16, 0, 0], [17, 0, 0]]}
      ],
      "arg_nodes": [0, 1, 2, 4, 5, 6, 7, 10, 16, 17],
      "heads": [[18, 0, 0], [12, 0, 0]],
      "attrs": {"mxnet_version": ["int", 10901]}
    }"#;
    let arrays: Vec<(&str, Vec<usize>, f32)> = vec![
        ("arg:c1_weight", vec![16, 8, 3, 3], 0.2),
        ("arg:c1_bias", vec![16], 0.1),
        ("arg:bn_gamma", vec![16], 1.0),
        ("arg:bn_beta", vec![16], 0.5),
        ("aux:bn_moving_mean", vec![16], 0.3),
        ("arg:c2_weight", vec![16, 16, 3, 3], 0.1),
        ("arg:fc_weight", vec![10, 16], 0.3),
        ("arg:fc_bias", vec![10], 0.1),
    ];
    let mut nd: Vec<NDArray> = arrays
        .iter()
        .enumerate()
        .map(|(i, (_, shape, scale))| NDArray {
            shape: shape.clone(),
            dtype: DType::F32,
            data: values(shape.iter().product(), 10 + i as u64, *scale),
        })
        .collect();
    let mut names: Vec<String> = arrays.iter().map(|a| a.0.to_string()).collect();
    nd.push(NDArray {
        shape: vec![16],
        dtype: DType::F32,
        data: values(16, 77, 0.5).iter().map(|v| v + 1.0).collect(),
    });
    names.push("aux:bn_moving_var".into());
    let bytes = write_params(&nd, &names, RecordVersion::V2);
    let mut model = Model::from_bytes(
        json,
        "slabs.json",
        &bytes,
        "slabs.params",
        &BindOptions::default(),
    )
    .expect("model loads");
    let input = Tensor::new(vec![4, 8, 32, 32], values(4 * 8 * 32 * 32, 5, 1.0)).unwrap();
    let cpu = model.run(std::slice::from_ref(&input)).expect("cpu run");
    let ctx = GpuContext::with_options_blocking(GpuOptions {
        max_binding_bytes: Some(128 << 10),
        ..Default::default()
    })
    .expect("context with a 128 KiB binding cap");
    let gpu = run_gpu(&ctx, &model, std::slice::from_ref(&input)).expect("gpu run");
    for (g, c) in gpu.iter().zip(&cpu) {
        assert_eq!(g.shape, c.shape);
        let scale = c.data.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (a, b) in g.data.iter().zip(&c.data) {
            assert!((a - b).abs() <= 1e-4 * scale + 1e-5, "gpu {a} vs cpu {b}");
        }
    }
}

/// tests/fixtures/models/tiny_resnet built for the WebGPU backend: the executable, its inputs
/// and the number of plan steps.
fn tiny_resnet_executable(ctx: &GpuContext) -> (WebGpuExecutable, Vec<Tensor>, usize) {
    let dir = common::fixtures_dir().join("models").join("tiny_resnet");
    let (case, inputs) = common::case_inputs(&dir).expect("case");
    let model = common::load_case(&dir, &case).expect("load");
    let shapes: Vec<Vec<usize>> = inputs.iter().map(|t| t.shape.clone()).collect();
    let plan = build_plan(model.bound(), &shapes).expect("plan");
    let steps = plan.steps.len();
    let weights = GpuWeights::upload_blocking(model.bound(), ctx, false).expect("upload");
    let exe = WebGpuExecutable::with_weights_blocking(plan, &model.bound().graph, weights)
        .expect("build");
    (exe, inputs, steps)
}

/// Largest |ours − MXNet| relative to MXNet's output scale, over all outputs.
fn error_vs_mxnet(dir: &std::path::Path, case: &serde_json::Value, outs: &[Tensor]) -> f32 {
    let files: Vec<&str> = case["outputs"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(files.len(), outs.len(), "{}", dir.display());
    let mut worst = 0f32;
    for (f, ours) in files.iter().zip(outs) {
        let want = common::read_tensor(&dir.join(f)).expect("output");
        assert_eq!(want.shape, ours.shape, "{}", dir.display());
        let scale = want
            .data
            .iter()
            .fold(0f32, |m, v| if v.is_finite() { m.max(v.abs()) } else { m });
        for (a, b) in ours.data.iter().zip(&want.data) {
            let d = (a - b).abs();
            // NaN where MXNet has a number counts as infinitely wrong.
            worst = worst.max(if d.is_nan() && !(a.is_nan() && b.is_nan()) {
                f32::INFINITY
            } else if d.is_nan() {
                0.0
            } else {
                d / scale.max(f32::MIN_POSITIVE)
            });
        }
    }
    worst
}

/// Precision f16 (weights of convolutions and FullyConnected layers stored in half precision):
/// every op fixture with such a layer and every model fixture stays within 2% of MXNet's output
/// scale (the error is printed per case; f16 rounding alone is 2^-11 ≈ 5e-4 per weight). Skipped
/// where the device lacks `shader-f16` (Chromium's SwiftShader; llvmpipe has it).
#[test]
fn f16_weights_stay_close_to_mxnet() {
    let Some(ctx) = context() else { return };
    if !ctx.adapter().shader_f16 {
        eprintln!("SKIP: the adapter has no shader-f16");
        return;
    }
    let filter = std::env::var("CASE").unwrap_or_default();
    let mut cases: Vec<std::path::PathBuf> = common::cases("ops")
        .into_iter()
        .filter(|d| {
            let text = std::fs::read_to_string(d.join("case.json")).unwrap_or_default();
            text.contains("\"Convolution\"") || text.contains("\"FullyConnected\"")
        })
        .collect();
    cases.extend(common::cases("models"));
    let mut checked = 0;
    for dir in cases
        .iter()
        .filter(|d| d.to_string_lossy().contains(&filter))
    {
        let (case, inputs) = common::case_inputs(dir).expect("case");
        if !case["expect_error"].is_null() {
            continue;
        }
        let model = common::load_case(dir, &case).expect("load");
        let shapes: Vec<Vec<usize>> = inputs.iter().map(|t| t.shape.clone()).collect();
        let plan = build_plan(model.bound(), &shapes).expect("plan");
        let weights = GpuWeights::upload_blocking(model.bound(), ctx, true).expect("upload");
        let half = weights.half_params();
        let mut exe = WebGpuExecutable::with_weights_blocking(plan, &model.bound().graph, weights)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let refs: Vec<&Tensor> = inputs.iter().collect();
        let outs = exe
            .run_blocking(&refs)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let err = error_vs_mxnet(dir, &case, &outs);
        println!(
            "f16  {:<50} {half} f16 weights, max err relative to output scale {err:.2e}",
            dir.file_name().unwrap_or_default().to_string_lossy()
        );
        assert!(err <= 2e-2, "{}: f16 error {err:e}", dir.display());
        checked += 1;
    }
    assert!(
        filter.is_empty() || checked > 0,
        "no case matches CASE={filter}"
    );
}

/// `Model::set_precision(F16)` uploads f16 weights on WebGPU and says so; the CPU stays f32.
#[test]
fn model_precision_f16() {
    let Some(ctx) = context() else { return };
    let dir = common::fixtures_dir().join("models").join("tiny_resnet");
    let (case, inputs) = common::case_inputs(&dir).expect("case");
    let mut model = common::load_case(&dir, &case).expect("load");
    model.set_precision(Precision::F16);
    assert_eq!(model.precision(), Precision::F32, "the CPU backend is f32");
    model
        .set_backend_blocking(BackendChoice::WebGpu)
        .expect("webgpu");
    if ctx.adapter().shader_f16 {
        assert_eq!(model.precision(), Precision::F16);
        assert_eq!(model.precision_note(), None);
    } else {
        assert_eq!(model.precision(), Precision::F32);
        assert!(model.precision_note().unwrap().contains("shader-f16"));
    }
    let outs = model.run(&inputs).expect("run");
    let err = error_vs_mxnet(&dir, &case, &outs);
    assert!(err <= 2e-2, "{err:e}");
    // Back to f32: the reference numbers again.
    model.set_precision(Precision::F32);
    model
        .set_backend_blocking(BackendChoice::WebGpu)
        .expect("webgpu");
    assert_eq!(model.precision(), Precision::F32);
    let outs = model.run(&inputs).expect("run");
    common::compare_with_mxnet(&dir, &case, &outs).expect("f32 within the case tolerance");
}

/// Every run submits once, allocates nothing and dispatches what was recorded.
#[test]
fn counters_and_reuse() {
    let Some(ctx) = context() else { return };
    let (mut exe, inputs, _) = tiny_resnet_executable(ctx);
    let refs: Vec<&Tensor> = inputs.iter().collect();
    for _ in 0..3 {
        exe.run_blocking(&refs).expect("run");
        let s = exe.last_run();
        assert_eq!(s.submits, 1, "{s:?}");
        assert_eq!(s.buffer_allocations, 0, "{s:?}");
        assert_eq!(s.dispatches, exe.build_stats().dispatches, "{s:?}");
    }
    println!(
        "tiny_resnet: build {:?}, run {:?}",
        exe.build_stats(),
        exe.last_run()
    );
}

/// The profile names every plan step once, in order, with its kernels, and leaves the
/// executable usable; with timestamp queries (llvmpipe has them) the steps are GPU-timed.
#[test]
fn profile_times_every_step() {
    let Some(ctx) = context() else { return };
    let (mut exe, inputs, steps) = tiny_resnet_executable(ctx);
    let refs: Vec<&Tensor> = inputs.iter().collect();
    let before = exe.run_blocking(&refs).expect("run");
    let profile = exe.profile_blocking(&refs).expect("profile");
    assert!(!profile.steps.is_empty() && profile.steps.len() <= steps);
    for (label, _) in &profile.steps {
        assert!(label.starts_with("node '"), "{label}");
    }
    assert!(
        profile.steps.iter().any(|(l, _)| l.contains("conv_igemm[")),
        "{:?}",
        profile.steps
    );
    let total: std::time::Duration = profile.steps.iter().map(|s| s.1).sum();
    assert!(total > std::time::Duration::ZERO, "{profile:?}");
    if ctx.adapter().timestamp_query {
        assert_eq!(profile.clock, ProfileClock::GpuTimestamps);
    } else {
        assert_eq!(profile.clock, ProfileClock::WallPerSubmit);
    }
    let after = exe.run_blocking(&refs).expect("run after the profile");
    assert_eq!(before[0].data, after[0].data);
}

/// Latency of tests/fixtures/big/resnet18_v1 on the WebGPU backend and on the CPU backend.
#[test]
#[ignore]
fn bench_resnet18() {
    let Some(ctx) = context() else { return };
    let dir = common::fixtures_dir().join("big").join("resnet18_v1");
    let Ok((case, inputs)) = common::case_inputs(&dir) else {
        eprintln!("SKIP: {} is missing (generate.py --big)", dir.display());
        return;
    };
    let mut model = common::load_case(&dir, &case).expect("load");
    let shapes: Vec<Vec<usize>> = inputs.iter().map(|t| t.shape.clone()).collect();
    let t = Instant::now();
    let plan = build_plan(model.bound(), &shapes).expect("plan");
    let weights = GpuWeights::upload_blocking(model.bound(), ctx, false).expect("upload");
    let mut exe = WebGpuExecutable::with_weights_blocking(plan, &model.bound().graph, weights)
        .expect("build");
    let build = t.elapsed();
    let refs: Vec<&Tensor> = inputs.iter().collect();
    let out = exe.run_blocking(&refs).expect("gpu run");
    println!(
        "mxnet check: {:?}",
        common::compare_with_mxnet(&dir, &case, &out)
    );
    let runs = 5;
    let t = Instant::now();
    for _ in 0..runs {
        exe.run_blocking(&refs).expect("gpu run");
    }
    let gpu = t.elapsed() / runs;
    model.run(&inputs).expect("cpu run");
    let t = Instant::now();
    for _ in 0..runs {
        model.run(&inputs).expect("cpu run");
    }
    let cpu = t.elapsed() / runs;
    if std::env::var("PROFILE").is_ok() {
        let mut steps = exe.profile_blocking(&refs).expect("profile").steps;
        steps.sort_by_key(|s| std::cmp::Reverse(s.1));
        for (label, t) in steps.iter().take(25) {
            println!("{t:>12.3?}  {label}");
        }
    }
    println!(
        "resnet18_v1 {:?}: webgpu ({}) {gpu:?} per run (build {build:?}, {} dispatches), cpu {cpu:?} per run",
        shapes[0],
        ctx.adapter().name,
        exe.build_stats().dispatches
    );
}

/// `BackendChoice::Auto` treats a software adapter (llvmpipe in CI) as no usable GPU and says so;
/// `WebGpu` still uses it (issue 13.1).
#[test]
fn auto_skips_a_software_adapter() {
    let Some(ctx) = context() else { return };
    let dir = common::fixtures_dir().join("models").join("tiny_resnet");
    let mut model = Model::from_prefix(
        dir.join("model").to_str().unwrap(),
        0,
        &BindOptions::default(),
    )
    .unwrap();
    model
        .set_backend_blocking(mxnet_web::model::BackendChoice::WebGpu)
        .unwrap();
    assert_eq!(model.backend(), mxnet_web::model::Backend::WebGpu);
    assert_eq!(model.fallback_reason(), None);
    model
        .set_backend_blocking(mxnet_web::model::BackendChoice::Auto)
        .unwrap();
    let software = ctx.adapter().software;
    let name = ctx.adapter().name.to_lowercase();
    if name.contains("llvmpipe") || name.contains("lavapipe") || name.contains("swiftshader") {
        assert!(software, "{} is not marked as software", ctx.adapter());
    }
    if software {
        assert_eq!(model.backend(), mxnet_web::model::Backend::Cpu);
        let reason = model.fallback_reason().unwrap_or_default();
        assert!(reason.contains("software renderer"), "{reason}");
    } else {
        assert_eq!(model.backend(), mxnet_web::model::Backend::WebGpu);
    }
}
