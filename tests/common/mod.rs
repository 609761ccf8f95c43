//! Shared harness for the fixture tests: reads `tests/fixtures/<group>/<case>/case.json`
//! (contract in tests/fixtures/README.md), runs the case through the public API and compares
//! with MXNet's outputs.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use mxnet_web::format::npy::read_npy;
use mxnet_web::{BindOptions, Model, Tensor};
use serde_json::Value;

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

/// Case directories of a group, sorted; filtered by the `CASE` env var (substring) if set.
pub fn cases(group: &str) -> Vec<PathBuf> {
    let dir = fixtures_dir().join(group);
    let filter = std::env::var("CASE").ok();
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("case.json").exists())
                .filter(|p| {
                    filter
                        .as_deref()
                        .map_or(true, |f| p.to_string_lossy().contains(f))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The outcome of one case.
pub struct Outcome {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

pub fn read_tensor(p: &Path) -> Result<Tensor, String> {
    let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
    read_npy(&bytes, &p.display().to_string()).map_err(|e| e.to_string())
}

/// Loads the case's model with its options.
pub fn load_case(dir: &Path, case: &Value) -> Result<Model, mxnet_web::Error> {
    let inputs: Vec<String> = case["inputs"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let prefix_map = case["prefix_map"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str())
                .map(BindOptions::parse_prefix_map)
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    let opts = BindOptions {
        inputs,
        allow_missing: case["allow_missing"].as_bool().unwrap_or(false),
        ignore_extra: case["ignore_extra"].as_bool().unwrap_or(false),
        prefix_map,
    };
    let symbol = dir.join(case["symbol"].as_str().unwrap_or("model-symbol.json"));
    match case["params"].as_str() {
        Some(p) => Model::from_files(symbol, dir.join(p), &opts),
        None => {
            // A graph without parameters: bind an empty params file.
            let json = std::fs::read_to_string(&symbol).map_err(|source| mxnet_web::Error::Io {
                path: symbol.display().to_string(),
                source,
            })?;
            let empty = mxnet_web::format::params::write_params(
                &[],
                &[],
                mxnet_web::format::params::RecordVersion::V2,
            );
            Model::from_bytes(
                &json,
                &symbol.display().to_string(),
                &empty,
                "<no params>",
                &opts,
            )
        }
    }
}

/// Runs one case directory on the CPU backend.
pub fn run_case(dir: &Path) -> Outcome {
    run_case_with(dir, &mut |m, inputs| m.run(inputs))
}

/// Runs every case of a group, prints a line per case, and fails listing all failures.
pub fn run_group(group: &str) {
    run_group_with(group, &mut |m, inputs| m.run(inputs));
}

/// [`run_group`] with the forward pass done by `run`.
pub fn run_group_with(group: &str, run: &mut Runner) {
    let cases = cases(group);
    let mut failures = Vec::new();
    for dir in &cases {
        let o = run_case_with(dir, run);
        println!(
            "{} {:<50} {}",
            if o.ok { "ok  " } else { "FAIL" },
            o.name,
            o.detail
        );
        if !o.ok {
            failures.push(format!("{}: {}", o.name, o.detail));
        }
    }
    println!(
        "{group}: {} cases, {} passed, {} failed",
        cases.len(),
        cases.len() - failures.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} {group} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

// ------------------------------------------------------------------------------------------------
// Backend-parameterised variants (used by tests/webgpu.rs): the same case contract, but the
// forward pass is done by `run` instead of `Model::run`.
// ------------------------------------------------------------------------------------------------

/// How a backend runs a loaded case: gets the model (already bound) and the inputs.
pub type Runner<'a> =
    dyn FnMut(&mut Model, &[Tensor]) -> Result<Vec<Tensor>, mxnet_web::Error> + 'a;

/// [`run_case`] with the forward pass done by `run`.
pub fn run_case_with(dir: &Path, run: &mut Runner) -> Outcome {
    let name = dir
        .strip_prefix(fixtures_dir())
        .unwrap_or(dir)
        .display()
        .to_string();
    match run_case_with_inner(dir, run) {
        Ok(detail) => Outcome {
            name,
            ok: true,
            detail,
        },
        Err(detail) => Outcome {
            name,
            ok: false,
            detail,
        },
    }
}

fn run_case_with_inner(dir: &Path, run: &mut Runner) -> Result<String, String> {
    let text = std::fs::read_to_string(dir.join("case.json")).map_err(|e| e.to_string())?;
    let case: Value = serde_json::from_str(&text).map_err(|e| format!("case.json: {e}"))?;
    if case["symbol"].is_null() {
        return Ok("no graph (data-only case)".into());
    }
    let expect_error: Option<Vec<String>> = case["expect_error"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .or_else(|| case["expect_error"].as_str().map(|s| vec![s.to_string()]));
    let inputs: Vec<Tensor> = case["inputs"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| read_tensor(&dir.join(i["file"].as_str().unwrap_or(""))))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    let result = load_case(dir, &case).and_then(|mut m| run(&mut m, &inputs));
    match (expect_error, result) {
        (Some(want), Err(e)) => {
            let msg = e.to_string();
            for w in &want {
                if !msg.contains(w.as_str()) {
                    return Err(format!("error message lacks {w:?}: {msg}"));
                }
            }
            Ok(format!(
                "expected error: {}",
                msg.chars().take(120).collect::<String>()
            ))
        }
        (Some(_), Ok(_)) => Err("expected an error, but the model loaded and ran".into()),
        (None, Err(e)) => Err(format!("error: {e}")),
        (None, Ok(outs)) => compare_with_mxnet(dir, &case, &outs),
    }
}

/// Compares outputs with the case's MXNet outputs under its tolerances.
pub fn compare_with_mxnet(dir: &Path, case: &Value, outs: &[Tensor]) -> Result<String, String> {
    let rtol = case["rtol"].as_f64().unwrap_or(1e-4) as f32;
    let atol = case["atol"].as_f64().unwrap_or(1e-5) as f32;
    let files: Vec<&str> = case["outputs"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str()).collect())
        .unwrap_or_default();
    if files.len() != outs.len() {
        return Err(format!(
            "{} outputs, MXNet gave {}",
            outs.len(),
            files.len()
        ));
    }
    let mut worst_abs = 0f32;
    let mut worst_rel = 0f32;
    for (k, (f, ours)) in files.iter().zip(outs).enumerate() {
        let want = read_tensor(&dir.join(f))?;
        if want.shape != ours.shape {
            return Err(format!(
                "output {k}: shape {:?}, MXNet {:?}",
                ours.shape, want.shape
            ));
        }
        let scale = want
            .data
            .iter()
            .fold(0f32, |m, v| if v.is_finite() { m.max(v.abs()) } else { m });
        for (i, (&a, &b)) in ours.data.iter().zip(&want.data).enumerate() {
            if a.is_nan() && b.is_nan() || a == b {
                continue;
            }
            let d = (a - b).abs();
            // Negated so that a NaN difference fails.
            #[allow(clippy::neg_cmp_op_on_partial_ord)]
            let outside = !(d <= atol + rtol * b.abs());
            if outside {
                return Err(format!(
                    "output {k}: element {i} is {a}, MXNet {b} (|diff| {d:e} > atol {atol:e} + rtol {rtol:e}·|mxnet|)"
                ));
            }
            worst_abs = worst_abs.max(d);
            worst_rel = worst_rel.max(d / scale.max(f32::MIN_POSITIVE));
        }
    }
    Ok(format!(
        "max abs err {worst_abs:.2e}, max err relative to output scale {worst_rel:.2e}"
    ))
}

/// Reads a case's inputs (for benches and backend tests).
pub fn case_inputs(dir: &Path) -> Result<(Value, Vec<Tensor>), String> {
    let text = std::fs::read_to_string(dir.join("case.json")).map_err(|e| e.to_string())?;
    let case: Value = serde_json::from_str(&text).map_err(|e| format!("case.json: {e}"))?;
    let inputs: Vec<Tensor> = case["inputs"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| read_tensor(&dir.join(i["file"].as_str().unwrap_or(""))))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    Ok((case, inputs))
}
