//! The CLI contract an external conformance suite relies on: `run` writes DIR/out_N.npy per head
//! and exits non-zero with the error on stderr; `inspect` works on every fixture.

mod common;

use std::path::Path;
use std::process::Command;

use mxnet_web::format::npy::read_npy;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_mxnet-web");

fn case(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("case.json")).unwrap()).unwrap()
}

fn tmpdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("mxnet-web-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn run_writes_one_npy_per_head() {
    let dir = common::fixtures_dir().join("legacy").join("mtcnn_det3");
    let c = case(&dir);
    let out = tmpdir("det3");
    let status = Command::new(BIN)
        .args(["run", "--symbol"])
        .arg(dir.join(c["symbol"].as_str().unwrap()))
        .arg("--params")
        .arg(dir.join(c["params"].as_str().unwrap()))
        .arg("--input")
        .arg(format!("data={}", dir.join("in_data.npy").display()))
        .arg("--out")
        .arg(&out)
        .arg("--backend")
        .arg("cpu")
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    for k in 0..3 {
        let ours = read_npy(
            &std::fs::read(out.join(format!("out_{k}.npy"))).unwrap(),
            "ours",
        )
        .unwrap();
        let want = read_npy(
            &std::fs::read(dir.join(format!("out_{k}.npy"))).unwrap(),
            "mxnet",
        )
        .unwrap();
        assert_eq!(ours.shape, want.shape);
        for (a, b) in ours.data.iter().zip(&want.data) {
            assert!(
                (a - b).abs() <= 1e-5 + 1e-4 * b.abs(),
                "out_{k}: {a} vs {b}"
            );
        }
    }
    assert!(!out.join("out_3.npy").exists());
}

#[test]
fn run_with_gluon_prefix_and_epoch() {
    let dir = common::fixtures_dir().join("models").join("tiny_resnet");
    let out = tmpdir("prefix");
    let st = Command::new(BIN)
        .arg("run")
        .arg(dir.join("model"))
        .args(["--epoch", "0", "--input"])
        .arg(dir.join("in_data.npy")) // a bare file is the input "data"
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert!(out.join("out_0.npy").exists());
}

#[test]
fn failures_exit_nonzero_with_the_error_on_stderr() {
    let dir = common::fixtures_dir()
        .join("flows")
        .join("prefix_mismatch_structural");
    let c = case(&dir);
    let st = Command::new(BIN)
        .args(["run", "--symbol"])
        .arg(dir.join(c["symbol"].as_str().unwrap()))
        .arg("--params")
        .arg(dir.join(c["params"].as_str().unwrap()))
        .arg("--input")
        .arg(format!(
            "data={}",
            dir.join(c["inputs"][0]["file"].as_str().unwrap()).display()
        ))
        .arg("--out")
        .arg(tmpdir("err"))
        .output()
        .unwrap();
    assert!(!st.status.success());
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(
        err.contains("is missing in file") && err.contains("same prefix"),
        "{err}"
    );

    let st = Command::new(BIN)
        .args([
            "run",
            "--symbol",
            "/nonexistent-symbol.json",
            "--params",
            "/x.params",
            "--input",
            "x.npy",
            "--out",
            "/tmp/x",
        ])
        .output()
        .unwrap();
    assert!(!st.status.success());
    assert!(String::from_utf8_lossy(&st.stderr).contains("/nonexistent-symbol.json"));
}

#[test]
fn prefix_map_flag_makes_a_renamed_file_load() {
    let dir = common::fixtures_dir().join("flows").join("prefix_map");
    let c = case(&dir);
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--symbol"])
        .arg(dir.join(c["symbol"].as_str().unwrap()))
        .arg("--params")
        .arg(dir.join(c["params"].as_str().unwrap()))
        .arg("--input")
        .arg(format!(
            "data={}",
            dir.join(c["inputs"][0]["file"].as_str().unwrap()).display()
        ))
        .arg("--out")
        .arg(tmpdir("pm"));
    for m in c["prefix_map"].as_array().unwrap() {
        cmd.arg("--prefix-map").arg(m.as_str().unwrap());
    }
    let st = cmd.output().unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
}

#[test]
fn inspect_works_on_every_fixture() {
    let mut n = 0;
    for group in ["ops", "flows", "legacy", "models"] {
        for dir in common::cases(group) {
            let c = case(&dir);
            let Some(sym) = c["symbol"].as_str() else {
                continue;
            };
            let mut cmd = Command::new(BIN);
            cmd.arg("inspect").arg(dir.join(sym));
            if let Some(p) = c["params"].as_str() {
                cmd.arg(dir.join(p));
            }
            let st = cmd.output().unwrap();
            let expect_error = !c["expect_error"].is_null();
            let stdout = String::from_utf8_lossy(&st.stdout);
            if !expect_error {
                assert!(
                    st.status.success(),
                    "inspect {}: {}",
                    dir.display(),
                    String::from_utf8_lossy(&st.stderr)
                );
                assert!(
                    stdout.contains("symbol") && stdout.contains("ops"),
                    "{}: {stdout}",
                    dir.display()
                );
            }
            n += 1;
        }
    }
    assert!(n > 300, "only {n} fixtures inspected");
}

#[test]
fn inspect_reports_shapes_flops_and_params() {
    let dir = common::fixtures_dir().join("models").join("tiny_resnet");
    let st = Command::new(BIN)
        .arg("inspect")
        .arg(dir.join("model-symbol.json"))
        .arg(dir.join("model-0000.params"))
        .args(["--shape", "data=1,3,32,32"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&st.stdout);
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    for want in [
        "MXNet 1.9.1",
        "input    data (1, 3, 32, 32)",
        "FLOPs",
        "Convolution ×",
        "float32",
        "Aux",
        "families ",
        "convolution (Convolution)",
        "normalization (BatchNorm)",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
}

#[test]
fn inspect_names_the_operator_families() {
    // A Gluon RNN stack (default zero states) and a detection decoder, with and without params.
    for (case, wants) in [
        (
            "rnn_gluon_default_states",
            &[
                "recurrent (RNN)",
                "creation (_zeros)",
                "dense (FullyConnected)",
            ][..],
        ),
        (
            "det_centernet_decode",
            &["detection (gather_nd)", "creation (_arange)"][..],
        ),
    ] {
        let dir = common::fixtures_dir().join("ops").join(case);
        let params = dir.join("model-0000.params");
        for with_params in [params.exists(), false] {
            let mut cmd = Command::new(BIN);
            cmd.arg("inspect").arg(dir.join("model-symbol.json"));
            if with_params {
                cmd.arg(&params);
            }
            let st = cmd.output().unwrap();
            let out = String::from_utf8_lossy(&st.stdout);
            assert!(
                st.status.success(),
                "{case}: {}",
                String::from_utf8_lossy(&st.stderr)
            );
            let line = out
                .lines()
                .find(|l| l.starts_with("families "))
                .unwrap_or_else(|| panic!("{case}: no families line in:\n{out}"));
            for want in wants {
                assert!(line.contains(want), "{case}: missing {want:?} in {line:?}");
            }
        }
    }
}

#[test]
fn run_on_webgpu_and_auto() {
    let dir = common::fixtures_dir().join("models").join("tiny_resnet");
    let want = read_npy(&std::fs::read(dir.join("out_0.npy")).unwrap(), "mxnet").unwrap();
    for backend in ["webgpu", "auto"] {
        let out = tmpdir(&format!("gpu-{backend}"));
        let st = Command::new(BIN)
            .arg("run")
            .arg(dir.join("model"))
            .args(["--input"])
            .arg(format!("data={}", dir.join("in_data.npy").display()))
            .arg("--out")
            .arg(&out)
            .args(["--backend", backend])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&st.stderr);
        if backend == "webgpu" && !st.status.success() && err.contains("no WebGPU adapter") {
            eprintln!("SKIP webgpu: no adapter on this machine (install mesa-vulkan-drivers)");
            continue;
        }
        assert!(st.status.success(), "--backend {backend}: {err}");
        let ours = read_npy(&std::fs::read(out.join("out_0.npy")).unwrap(), "ours").unwrap();
        for (a, b) in ours.data.iter().zip(&want.data) {
            assert!(
                (a - b).abs() <= 4e-5 + 1e-4 * b.abs(),
                "--backend {backend}: {a} vs {b}"
            );
        }
    }
}

/// `--backend auto` treats a software adapter (llvmpipe, lavapipe, SwiftShader) as no GPU and
/// runs on the CPU, saying why; `--backend webgpu` still uses it (issue 13.1).
#[test]
fn auto_skips_a_software_adapter() {
    let dir = common::fixtures_dir().join("models").join("tiny_resnet");
    let x = read_npy(&std::fs::read(dir.join("in_data.npy")).unwrap(), "x").unwrap();
    let shape = format!(
        "data={}",
        x.shape
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    let bench = |backend: &str| {
        Command::new(BIN)
            .arg("bench")
            .arg(dir.join("model"))
            .args(["--shape", &shape, "--runs", "1", "--backend", backend])
            .output()
            .unwrap()
    };
    let gpu = bench("webgpu");
    let gpu_out = String::from_utf8_lossy(&gpu.stdout).to_string();
    let gpu_err = String::from_utf8_lossy(&gpu.stderr).to_string();
    if !gpu.status.success() && gpu_err.contains("no WebGPU adapter") {
        eprintln!("SKIP: no WebGPU adapter on this machine (install mesa-vulkan-drivers)");
        return;
    }
    assert!(gpu.status.success(), "--backend webgpu: {gpu_err}");
    assert!(gpu_out.contains("backend webgpu"), "{gpu_out}");
    let adapter = gpu_out
        .lines()
        .find(|l| l.starts_with("adapter "))
        .unwrap_or_else(|| panic!("no adapter line in:\n{gpu_out}"))
        .to_string();
    let auto = bench("auto");
    let out = String::from_utf8_lossy(&auto.stdout);
    let err = String::from_utf8_lossy(&auto.stderr);
    assert!(auto.status.success(), "--backend auto: {err}");
    let name = adapter.to_lowercase();
    let software = adapter.contains("software renderer");
    if name.contains("llvmpipe") || name.contains("lavapipe") || name.contains("swiftshader") {
        assert!(software, "not marked as a software renderer: {adapter}");
    }
    if software {
        assert!(out.contains("backend cpu"), "auto on {adapter}:\n{out}");
        assert!(
            err.contains("note: running on the CPU: WebGPU is not available: the only adapter is a software renderer")
                && err.contains("backend 'webgpu' explicitly"),
            "auto on {adapter}, stderr:\n{err}"
        );
    } else {
        assert!(out.contains("backend webgpu"), "auto on {adapter}:\n{out}");
    }
}

/// Writes a one-op model (`data → op0`, zero parameters) into `dir` as net-symbol.json and
/// net-0000.params.
fn write_one_op(dir: &Path, op: &str, attrs: serde_json::Value, params: &[(&str, &[usize])]) {
    use mxnet_web::format::params::{write_params, NDArray, RecordVersion};
    std::fs::create_dir_all(dir).unwrap();
    let mut nodes = vec![serde_json::json!({"op": "null", "name": "data", "inputs": []})];
    let mut inputs = vec![serde_json::json!([0, 0, 0])];
    for (slot, _) in params {
        inputs.push(serde_json::json!([nodes.len(), 0, 0]));
        nodes.push(serde_json::json!({"op": "null", "name": format!("op0_{slot}"), "inputs": []}));
    }
    let n = nodes.len();
    nodes.push(serde_json::json!({"op": op, "name": "op0", "attrs": attrs, "inputs": inputs}));
    let json = serde_json::json!({"nodes": nodes, "arg_nodes": (0..n).collect::<Vec<_>>(),
        "heads": [[n, 0, 0]], "attrs": {"mxnet_version": ["int", 10901]}});
    std::fs::write(dir.join("net-symbol.json"), json.to_string()).unwrap();
    let arrays: Vec<NDArray> = params
        .iter()
        .map(|(_, s)| NDArray {
            shape: s.to_vec(),
            dtype: mxnet_web::DType::F32,
            data: vec![0.0; s.iter().product()],
        })
        .collect();
    let names: Vec<String> = params.iter().map(|(s, _)| format!("arg:op0_{s}")).collect();
    std::fs::write(
        dir.join("net-0000.params"),
        write_params(&arrays, &names, RecordVersion::V2),
    )
    .unwrap();
}

/// Runs the CLI; returns (exit code, stdout, stderr). A signal (SIGABRT) gives code None.
fn cli(args: &[&str]) -> (Option<i32>, String, String) {
    let st = Command::new(BIN).args(args).output().unwrap();
    (
        st.status.code(),
        String::from_utf8_lossy(&st.stdout).into_owned(),
        String::from_utf8_lossy(&st.stderr).into_owned(),
    )
}

#[test]
fn shape_bombs_exit_1_with_the_size_and_the_node() {
    let dir = tmpdir("bombs");
    std::fs::create_dir_all(&dir).unwrap();
    let x = dir.join("x.npy");
    let t = mxnet_web::Tensor::zeros(vec![1, 3, 8, 8]);
    std::fs::write(&x, mxnet_web::format::npy::write_npy(&t).unwrap()).unwrap();
    let x = format!("data={}", x.display());
    let prefix = dir.join("net").display().to_string();
    let out = dir.join("out").display().to_string();

    // conv pad 1e5: used to abort with "memory allocation of N bytes failed" (SIGABRT).
    let attrs = serde_json::json!({"kernel": "(3, 3)", "num_filter": "8", "pad": "(100000, 100000)", "no_bias": "True"});
    write_one_op(&dir, "Convolution", attrs, &[("weight", &[8, 3, 3, 3])]);
    let (code, _, err) = cli(&["run", &prefix, "--input", &x, "--out", &out]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("memory limit") && err.contains("op0") && err.contains("GiB"),
        "{err}"
    );

    // UpSampling by 10^6 and Pad by 10^5 the same.
    write_one_op(
        &dir,
        "UpSampling",
        serde_json::json!({"scale": "1000000", "sample_type": "nearest"}),
        &[],
    );
    let (code, _, err) = cli(&["run", &prefix, "--input", &x, "--out", &out]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("memory limit") && err.contains("UpSampling"),
        "{err}"
    );

    // An input shape bomb through bench is refused before the input is allocated.
    write_one_op(
        &dir,
        "Activation",
        serde_json::json!({"act_type": "relu"}),
        &[],
    );
    let (code, _, err) = cli(&[
        "bench",
        &prefix,
        "--shape",
        "data=1,3,100000,100000",
        "--runs",
        "1",
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("input 'data'") && err.contains("111.8 GiB"),
        "{err}"
    );

    // --memory-limit lowers the limit (and a bad value is a clear error).
    let (code, _, err) = cli(&[
        "run",
        &prefix,
        "--input",
        &x,
        "--out",
        &out,
        "--memory-limit",
        "1K",
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("memory limit of 1.0 KiB"), "{err}");
    let (code, _, err) = cli(&[
        "run",
        &prefix,
        "--input",
        &x,
        "--out",
        &out,
        "--memory-limit",
        "lots",
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("'lots'"), "{err}");
    let (code, _, err) = cli(&[
        "run",
        &prefix,
        "--input",
        &x,
        "--out",
        &out,
        "--memory-limit",
        "1M",
    ]);
    assert_eq!(code, Some(0), "{err}");

    // A wrapping Reshape used to exit 0 and write an unreadable .npy.
    write_one_op(
        &dir,
        "Reshape",
        serde_json::json!({"shape": "(4611686018427387905, 24)"}),
        &[],
    );
    let (code, _, err) = cli(&["run", &prefix, "--input", &x, "--out", &out]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("op0") || err.contains("Reshape"), "{err}");

    // inspect: FLOPs that overflow 64 bits are an error, not a wrapped figure (every shape
    // here can exist: 2^60 inputs, a 256×256 kernel).
    let attrs = serde_json::json!({"kernel": "(256, 256)", "num_filter": "1", "no_bias": "True"});
    write_one_op(&dir, "Convolution", attrs, &[("weight", &[1, 1, 256, 256])]);
    let sym = dir.join("net-symbol.json").display().to_string();
    let params = dir.join("net-0000.params").display().to_string();
    let shape = "data=1,1,1073741824,1073741824";
    let (code, out_text, err) = cli(&["inspect", &sym, &params, "--shape", shape]);
    assert_eq!(code, Some(1), "{out_text}{err}");
    assert!(err.contains("FLOP") && err.contains("op0"), "{err}");
}

#[test]
fn big_endian_and_fortran_npy_inputs_are_converted() {
    let dir = tmpdir("endian");
    write_one_op(
        &dir,
        "Activation",
        serde_json::json!({"act_type": "relu"}),
        &[],
    );
    // np.asfortranarray(np.array([[1, -2, 3], [-4, 5, 6]], dtype='>f4'))
    let mut h = "{'descr': '>f4', 'fortran_order': True, 'shape': (2, 3), }".to_string();
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(h.len() as u16).to_le_bytes());
    b.extend_from_slice(h.as_bytes());
    for v in [1.0f32, -4.0, -2.0, 5.0, 3.0, 6.0] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    std::fs::write(dir.join("x.npy"), b).unwrap();
    let out = dir.join("out");
    let (code, _, err) = cli(&[
        "run",
        &dir.join("net").display().to_string(),
        "--input",
        &format!("data={}", dir.join("x.npy").display()),
        "--out",
        &out.display().to_string(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let y = read_npy(&std::fs::read(out.join("out_0.npy")).unwrap(), "y").unwrap();
    assert_eq!(y.shape, vec![2, 3]);
    assert_eq!(y.data, [1.0, 0.0, 3.0, 0.0, 5.0, 6.0]);
}
