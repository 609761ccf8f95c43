//! Malformed inputs: each must give a clear error that names the file (or node), never a panic.

use mxnet_web::format::params::{read_params, write_params, NDArray, RecordVersion};
use mxnet_web::{BindOptions, DType, Model, Tensor};

const GOOD_JSON: &str = r#"{"nodes":[{"op":"null","name":"data","inputs":[]},
 {"op":"null","name":"w","inputs":[]},
 {"op":"FullyConnected","name":"fc","attrs":{"num_hidden":"2","no_bias":"True"},"inputs":[[0,0,0],[1,0,0]]}],
 "arg_nodes":[0,1],"heads":[[2,0,0]],"attrs":{"mxnet_version":["int",10901]}}"#;

fn good_params() -> Vec<u8> {
    let w = NDArray {
        shape: vec![2, 3],
        dtype: DType::F32,
        data: vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
    };
    write_params(&[w], &["arg:w".to_string()], RecordVersion::V2)
}

fn load(json: &str, params: &[u8]) -> Result<Model, mxnet_web::Error> {
    Model::from_bytes(
        json,
        "net-symbol.json",
        params,
        "net-0000.params",
        &BindOptions::default(),
    )
}

#[test]
fn the_good_model_runs() {
    let mut m = load(GOOD_JSON, &good_params()).unwrap();
    let out = m
        .run(&[Tensor::new(vec![1, 3], vec![5.0, 6.0, 7.0]).unwrap()])
        .unwrap();
    assert_eq!(out[0].shape, vec![1, 2]);
    assert_eq!(out[0].data, vec![5.0, 6.0]);
}

#[test]
fn every_truncation_of_a_params_file_is_an_error() {
    let p = good_params();
    for cut in 0..p.len() {
        let e = load(GOOD_JSON, &p[..cut]).unwrap_err().to_string();
        assert!(e.contains("net-0000.params"), "cut at {cut}: {e}");
    }
}

#[test]
fn corrupt_params_files() {
    let p = good_params();
    let mut cases: Vec<(Vec<u8>, &str)> = Vec::new();
    let mut m = p.clone();
    m[0] = 0x99;
    cases.push((m, "magic"));
    // ndim 1,000,000 in a V2 record.
    let mut m = p.clone();
    m[32..36].copy_from_slice(&1_000_000i32.to_le_bytes());
    cases.push((m, "ndim"));
    // A dimension of 2^62 must not allocate.
    let mut m = p.clone();
    m[36..44].copy_from_slice(&(1u64 << 62).to_le_bytes());
    cases.push((m, "net-0000.params"));
    // Negative dimension.
    let mut m = p.clone();
    m[36..44].copy_from_slice(&(-3i64).to_le_bytes());
    cases.push((m, "negative"));
    // An unknown storage type.
    let mut m = p.clone();
    m[28..32].copy_from_slice(&7i32.to_le_bytes());
    cases.push((m, "storage type"));
    // Declared array count far beyond the file.
    let mut m = p.clone();
    m[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    cases.push((m, "arrays"));
    cases.push((b"\x89PNG\r\n\x1a\n not params".to_vec(), "magic"));
    for (bytes, want) in cases {
        let e = load(GOOD_JSON, &bytes).unwrap_err().to_string();
        assert!(
            e.contains(want) && e.contains("net-0000.params"),
            "want {want:?}: {e}"
        );
    }
}

#[test]
fn bad_symbol_files() {
    let cases: &[(&str, &str)] = &[
        ("{", "not valid JSON"),
        (r#"{"nodes": 3, "heads": []}"#, "nodes"),
        (
            r#"{"nodes":[{"op":"null","name":"data"},{"op":"relu","name":"r","inputs":[[7,0,0]]}],"heads":[[1,0,0]]}"#,
            "node 7",
        ),
        (
            // A cycle: r1 reads r2, r2 reads r1.
            r#"{"nodes":[{"op":"null","name":"data"},{"op":"relu","name":"r1","inputs":[[2,0,0]]},{"op":"relu","name":"r2","inputs":[[1,0,0]]}],"heads":[[2,0,0]]}"#,
            "topological",
        ),
        (
            r#"{"nodes":[{"op":"null","name":"data"},{"op":"MoonOutput","name":"moon","inputs":[[0,0,0]]}],"heads":[[1,0,0]]}"#,
            "MoonOutput",
        ),
        (
            r#"{"nodes":[{"op":"null","name":"data"},{"op":"null","name":"w"},{"op":"FullyConnected","name":"fc","attrs":{"num_hidden":"two","no_bias":"True"},"inputs":[[0,0,0],[1,0,0]]}],"heads":[[2,0,0]],"attrs":{"mxnet_version":["int",10901]}}"#,
            "num_hidden",
        ),
        (
            r#"{"nodes":[{"op":"null","name":"data"},{"op":"null","name":"w"},{"op":"FullyConnected","name":"fc","attrs":{"num_hidden":"2","no_bias":"True","bogus_key":"1"},"inputs":[[0,0,0],[1,0,0]]}],"heads":[[2,0,0]],"attrs":{"mxnet_version":["int",10901]}}"#,
            "bogus_key",
        ),
        (
            r#"{"nodes":[{"op":"null","name":"data"}],"heads":[[0,3,0]]}"#,
            "output 3",
        ),
    ];
    for (json, want) in cases {
        let e = load(json, &good_params()).unwrap_err().to_string();
        assert!(
            e.contains(want) && e.contains("net-symbol.json"),
            "want {want:?}: {e}"
        );
    }
}

#[test]
fn wrong_input_shapes_name_the_node() {
    let mut m = load(GOOD_JSON, &good_params()).unwrap();
    let e = m
        .run(&[Tensor::new(vec![1, 4], vec![0.0; 4]).unwrap()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("fc") && e.contains("(1, 4)"), "{e}");
    let e = m.run(&[]).unwrap_err().to_string();
    assert!(e.contains("1 input"), "{e}");
    let bad = Tensor {
        shape: vec![1, 3],
        data: vec![0.0; 2],
    };
    assert!(m.run(&[bad]).is_err());
}

#[test]
fn garbage_never_panics() {
    // A cheap deterministic byte soup through both parsers.
    let mut s: u64 = 0x9e3779b97f4a7c15;
    for len in 0..300usize {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s as u8
            })
            .collect();
        let _ = read_params(&bytes, "fuzz.params");
        let text = String::from_utf8_lossy(&bytes);
        let _ = mxnet_web::graph::Graph::from_json(&text, "fuzz.json");
    }
    // Mutations of a valid params file.
    let p = good_params();
    for i in 0..p.len() {
        for v in [0u8, 0xff, 0x7f, 1] {
            let mut m = p.clone();
            m[i] = v;
            let _ = read_params(&m, "mut.params");
            let _ = load(GOOD_JSON, &m);
        }
    }
}
