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

// ------------------------------------------------------------------------------------------------
// Shape arithmetic, memory limits and hostile attributes (issues 13 and 14).
// ------------------------------------------------------------------------------------------------

/// A graph `data → op(data, params...)` named `op0`, with zero-valued parameters of the given
/// shapes (named `op0_<slot>`), as symbol JSON and params bytes.
fn one_op(op: &str, attrs: &[(&str, &str)], params: &[(&str, &[usize])]) -> (String, Vec<u8>) {
    let attrs: serde_json::Map<String, serde_json::Value> = attrs
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
        .collect();
    let mut nodes = vec![serde_json::json!({"op": "null", "name": "data", "inputs": []})];
    let mut inputs = vec![serde_json::json!([0, 0, 0])];
    for (slot, _) in params {
        inputs.push(serde_json::json!([nodes.len(), 0, 0]));
        nodes.push(serde_json::json!({"op": "null", "name": format!("op0_{slot}"), "inputs": []}));
    }
    let args: Vec<usize> = (0..nodes.len()).collect();
    nodes.push(serde_json::json!({"op": op, "name": "op0", "attrs": attrs, "inputs": inputs}));
    let json = serde_json::json!({
        "nodes": nodes, "arg_nodes": args, "heads": [[args.len(), 0, 0]],
        "attrs": {"mxnet_version": ["int", 10901]}
    });
    let arrays: Vec<NDArray> = params
        .iter()
        .map(|(_, s)| NDArray {
            shape: s.to_vec(),
            dtype: DType::F32,
            data: vec![0.0; s.iter().product()],
        })
        .collect();
    let names: Vec<String> = params.iter().map(|(n, _)| format!("arg:op0_{n}")).collect();
    (
        json.to_string(),
        write_params(&arrays, &names, RecordVersion::V2),
    )
}

/// Loads a one-op model and runs it on `shape` (zeros), within `limit` bytes when given.
/// One single-op model to run: (op, attributes, parameters with their shapes, data shape,
/// memory limit in bytes).
type OneOpCase<'a> = (
    &'a str,
    Vec<(&'a str, &'a str)>,
    Vec<(&'a str, &'a [usize])>,
    &'a [usize],
    Option<u64>,
);

/// (op, attributes, data shape) of a single-op model without parameters.
type NoParamsCase<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a [usize]);

fn run_one(
    op: &str,
    attrs: &[(&str, &str)],
    params: &[(&str, &[usize])],
    shape: &[usize],
    limit: Option<u64>,
) -> Result<Vec<Tensor>, String> {
    let (json, bytes) = one_op(op, attrs, params);
    let mut m = load(&json, &bytes).map_err(|e| e.to_string())?;
    m.set_memory_limit(limit);
    let n = shape.iter().product();
    m.run(&[Tensor::new(shape.to_vec(), vec![0.0; n]).unwrap()])
        .map_err(|e| e.to_string())
}

#[test]
fn activation_bombs_are_refused_before_allocating() {
    // Each used to abort the process (memory allocation failure) or allocate gigabytes.
    let x = [1usize, 3, 8, 8];
    let cases: Vec<OneOpCase> = vec![
        (
            "Convolution",
            vec![
                ("kernel", "(3, 3)"),
                ("num_filter", "8"),
                ("pad", "(100000, 100000)"),
                ("no_bias", "True"),
            ],
            vec![("weight", &[8, 3, 3, 3])],
            &x,
            None,
        ),
        (
            "UpSampling",
            vec![("scale", "1000000"), ("sample_type", "nearest")],
            vec![],
            &x,
            None,
        ),
        (
            "Pad",
            vec![
                ("mode", "constant"),
                ("pad_width", "(0, 0, 0, 0, 100000, 100000, 100000, 100000)"),
            ],
            vec![],
            &x,
            None,
        ),
        ("one_hot", vec![("depth", "1000000000")], vec![], &x, None),
        (
            "Deconvolution",
            vec![
                ("kernel", "(3, 3)"),
                ("num_filter", "8"),
                ("stride", "(100000, 100000)"),
                ("no_bias", "True"),
            ],
            vec![("weight", &[3, 8, 3, 3])],
            &x,
            None,
        ),
        // 3.2 GB: under a 1 GiB limit.
        (
            "broadcast_to",
            vec![("shape", "(2, 100000000, 4)")],
            vec![],
            &[2, 1, 4],
            Some(1 << 30),
        ),
    ];
    for (op, attrs, params, shape, limit) in cases {
        let e = run_one(op, &attrs, &params, shape, limit).unwrap_err();
        assert!(
            e.contains("memory limit") && e.contains("op0") && e.contains("bytes"),
            "{op}: {e}"
        );
    }
}

#[test]
fn shape_products_never_wrap() {
    // Each used to exit 0 with an unreadable output: the product wrapped around mod 2^64.
    let cases: Vec<NoParamsCase> = vec![
        (
            "Reshape",
            vec![("shape", "(4611686018427387905, 24)")],
            &[4, 6],
        ),
        (
            "Reshape",
            vec![("shape", "(-1, 4611686018427387905, 4611686018427387905)")],
            &[4, 6],
        ),
        (
            "Reshape",
            vec![("shape", "(-4, 4611686018427387905, 4, -2)")],
            &[4, 6],
        ),
        (
            "tile",
            vec![("reps", "(1099511627776, 1099511627776)")],
            &[2, 3],
        ),
        (
            "repeat",
            vec![("repeats", "4611686018427387904"), ("axis", "0")],
            &[2, 3],
        ),
        ("repeat", vec![("repeats", "4611686018427387904")], &[2, 3]),
        (
            "broadcast_axis",
            vec![("axis", "0"), ("size", "4611686018427387904")],
            &[1, 3],
        ),
        (
            "broadcast_to",
            vec![("shape", "(4611686018427387904, 3)")],
            &[1, 3],
        ),
        (
            "Pad",
            vec![
                ("mode", "constant"),
                ("pad_width", "(0, 0, 0, 0, 4611686018427387904, 0, 0, 0)"),
            ],
            &[1, 3, 8, 8],
        ),
        ("one_hot", vec![("depth", "4611686018427387904")], &[2, 3]),
        (
            "depth_to_space",
            vec![("block_size", "4294967296")],
            &[1, 4, 2, 2],
        ),
    ];
    for (op, attrs, shape) in cases {
        let e = run_one(op, &attrs, &[], shape, None).unwrap_err();
        assert!(e.contains("op0") || e.contains("Reshape"), "{op}: {e}");
    }
}

#[test]
fn absurd_arity_is_an_attribute_error() {
    for (op, key) in [
        ("add_n", "num_args"),
        ("Concat", "num_args"),
        ("UpSampling", "num_args"),
        ("SliceChannel", "num_outputs"),
    ] {
        let (json, _) = one_op(
            op,
            &[
                (key, "2000000000"),
                ("scale", "2"),
                ("sample_type", "nearest"),
            ],
            &[],
        );
        let e = mxnet_web::graph::Graph::from_json(&json, "a.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains(key), "{op}: {e}");
    }
}

#[test]
fn memory_limit_is_configurable() {
    let mut m = load(GOOD_JSON, &good_params()).unwrap();
    let x = Tensor::new(vec![1, 3], vec![5.0, 6.0, 7.0]).unwrap();
    m.set_memory_limit(Some(16));
    let e = m.run(std::slice::from_ref(&x)).unwrap_err().to_string();
    assert!(e.contains("memory limit of 16 bytes"), "{e}");
    m.set_memory_limit(None);
    assert_eq!(m.run(&[x]).unwrap()[0].data, [5.0, 6.0]);
    // A shape bomb through the input shape is refused without allocating the input.
    let (json, bytes) = one_op("Activation", &[("act_type", "relu")], &[]);
    let m = load(&json, &bytes).unwrap();
    let e = m
        .check_input_shapes(&[vec![1, 3, 100000, 100000]])
        .unwrap_err()
        .to_string();
    assert!(e.contains("input 'data'") && e.contains("GiB"), "{e}");
}

#[test]
fn zero_sized_conv_weight_before_batchnorm_is_a_shape_error() {
    // Issue 13.7: a valid (0, 3, 3, 3) record bound to a Convolution followed by BatchNorm
    // panicked in the BatchNorm folding ("chunk size must be non-zero").
    let json = r#"{"nodes":[{"op":"null","name":"data","inputs":[]},
     {"op":"null","name":"conv_weight","inputs":[]},
     {"op":"Convolution","name":"conv","attrs":{"kernel":"(3, 3)","num_filter":"8","no_bias":"True"},"inputs":[[0,0,0],[1,0,0]]},
     {"op":"null","name":"bn_gamma","inputs":[]},{"op":"null","name":"bn_beta","inputs":[]},
     {"op":"null","name":"bn_moving_mean","inputs":[]},{"op":"null","name":"bn_moving_var","inputs":[]},
     {"op":"BatchNorm","name":"bn","inputs":[[2,0,0],[3,0,0],[4,0,0],[5,0,0],[6,0,0]]}],
     "arg_nodes":[0,1,3,4,5,6],"heads":[[7,0,0]],"attrs":{"mxnet_version":["int",10901]}}"#;
    for w_shape in [vec![0usize, 3, 3, 3], vec![8, 0, 3, 3], vec![4, 3, 3, 3]] {
        let arr = |shape: Vec<usize>| NDArray {
            data: vec![1.0; shape.iter().product()],
            shape,
            dtype: DType::F32,
        };
        let names: Vec<String> = [
            "arg:conv_weight",
            "arg:bn_gamma",
            "arg:bn_beta",
            "aux:bn_moving_mean",
            "aux:bn_moving_var",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut arrays = vec![arr(w_shape.clone())];
        arrays.extend((0..4).map(|_| arr(vec![8])));
        let bytes = write_params(&arrays, &names, RecordVersion::V2);
        let mut m = load(json, &bytes).unwrap();
        let e = m
            .run(&[Tensor::zeros(vec![1, 3, 8, 8])])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("conv_weight") && e.contains("conv"),
            "{w_shape:?}: {e}"
        );
    }
}

#[test]
fn hostile_names_are_not_echoed_whole() {
    let long = "x".repeat(10 << 20);
    let w = NDArray {
        shape: vec![2, 3],
        dtype: DType::F32,
        data: vec![0.0; 6],
    };
    let extra = NDArray {
        shape: vec![1],
        dtype: DType::F32,
        data: vec![0.0],
    };
    let bytes = write_params(
        &[w, extra],
        &["arg:w".to_string(), format!("arg:{long}")],
        RecordVersion::V2,
    );
    let e = load(GOOD_JSON, &bytes).unwrap_err().to_string();
    assert!(
        e.len() < 4000 && e.contains("(10485760 bytes)"),
        "{}",
        &e[..e.len().min(500)]
    );
    // With ignore_extra the record is skipped, and the model runs.
    let opts = BindOptions {
        ignore_extra: true,
        ..BindOptions::default()
    };
    let mut m = Model::from_bytes(GOOD_JSON, "s.json", &bytes, "p.params", &opts).unwrap();
    assert_eq!(m.bound().params.len(), 1);
    assert!(m.run(&[Tensor::zeros(vec![1, 3])]).is_ok());
}

#[test]
fn huge_mxnet_version_is_not_truncated() {
    // 2^40 used to truncate to 0 (< 0.9) and trigger the legacy upgrade, which invents the
    // missing weight as a variable; a current file with a missing input is an error instead.
    let json = r#"{"nodes":[{"op":"null","name":"data","inputs":[]},
     {"op":"FullyConnected","name":"fc","attrs":{"num_hidden":"2","no_bias":"True"},"inputs":[[0,0,0]]}],
     "arg_nodes":[0],"heads":[[1,0,0]],"attrs":{"mxnet_version":["int",1099511627776]}}"#;
    let e = mxnet_web::graph::Graph::from_json(json, "v.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("expects 2 inputs"), "{e}");
    let old = json.replace("1099511627776", "800");
    let g = mxnet_web::graph::Graph::from_json(&old, "v.json").unwrap();
    assert!(g.nodes.iter().any(|n| n.name == "fc_weight"));
    let ok = GOOD_JSON.replace("10901", "1099511627776");
    assert_eq!(
        mxnet_web::graph::Graph::from_json(&ok, "v.json")
            .unwrap()
            .version,
        1 << 40
    );
}

#[test]
fn deep_json_is_an_error_not_a_stack_overflow() {
    let deep = format!("{}{}", "[".repeat(1_000_000), "]".repeat(1_000_000));
    assert!(mxnet_web::graph::Graph::from_json(&deep, "deep.json").is_err());
    let deep_obj = format!(
        r#"{{"nodes":[{{"op":"null","name":"data","inputs":[],"attrs":{}{}}}],"heads":[[0,0,0]]}}"#,
        r#"{"a":"#.repeat(100_000),
        "}".repeat(100_000)
    );
    assert!(mxnet_web::graph::Graph::from_json(&deep_obj, "deep.json").is_err());
}

/// Inputs found by `cargo fuzz` that once crashed a reader (kept as regression tests).
#[test]
fn fuzz_regressions() {
    // npy: a non-UTF-8 byte inside 'descr' made the dtype parser slice inside a character.
    let mut npy = b"\x93NUMPY\x01\x00\x76\x00{'descr': '<\xff\xff\x10\x00f4', 'fortran_order': False, 'shape': (1, 2, 4, 4), } ".to_vec();
    npy.resize(10 + 0x76, b' ');
    npy.extend_from_slice(&[0; 128]);
    assert!(mxnet_web::format::npy::read_npy(&npy, "fuzz.npy").is_err());
}

#[test]
fn absurd_window_attributes_are_clean_errors() {
    let x = [1usize, 4, 8, 8];
    let conv = |extra: &[(&'static str, &'static str)]| {
        let mut a = vec![
            ("kernel", "(3, 3)"),
            ("num_filter", "4"),
            ("no_bias", "True"),
        ];
        a.extend_from_slice(extra);
        a
    };
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("Convolution", conv(&[("stride", "(0, 1)")])),
        ("Convolution", conv(&[("dilate", "(1, 0)")])),
        ("Convolution", conv(&[("num_group", "3")])),
        ("Convolution", conv(&[("num_group", "0")])),
        ("Convolution", conv(&[("pad", "(-1, 0)")])),
        (
            "Convolution",
            vec![
                ("kernel", "(9, 9)"),
                ("num_filter", "4"),
                ("no_bias", "True"),
            ],
        ),
        (
            "Convolution",
            vec![
                ("kernel", "(2147483647, 2147483647)"),
                ("num_filter", "4"),
                ("no_bias", "True"),
            ],
        ),
        (
            "Convolution",
            vec![
                ("kernel", "(2147483648, 1)"),
                ("num_filter", "4"),
                ("no_bias", "True"),
            ],
        ),
        (
            "Deconvolution",
            vec![
                ("kernel", "(3, 3)"),
                ("num_filter", "4"),
                ("stride", "(0, 0)"),
            ],
        ),
        (
            "Deconvolution",
            vec![
                ("kernel", "(3, 3)"),
                ("num_filter", "3"),
                ("num_group", "2"),
            ],
        ),
        ("Pooling", vec![("kernel", "(3, 3)"), ("stride", "(0, 0)")]),
        ("Pooling", vec![("kernel", "(9, 9)")]),
        ("Pooling", vec![("kernel", "(3, 3)"), ("pad", "(3, 3)")]),
        (
            "UpSampling",
            vec![("scale", "0"), ("sample_type", "nearest")],
        ),
        ("SliceChannel", vec![("num_outputs", "3")]),
        ("LRN", vec![("nsize", "0")]),
        ("GroupNorm", vec![("num_groups", "3")]),
        ("depth_to_space", vec![("block_size", "0")]),
    ];
    for (op, attrs) in cases {
        // Weights (when the op has any) are missing: inferred shapes go through allow_missing,
        // then the run must fail cleanly, naming the node or the attribute.
        let (json, _) = one_op(op, &attrs, &[]);
        let r = mxnet_web::graph::Graph::from_json(&json, "w.json").and_then(|g| {
            let opts = BindOptions {
                allow_missing: true,
                ..BindOptions::default()
            };
            let mut m = Model::from_parts(g, Default::default(), "w.params", &opts)?;
            m.run(&[Tensor::zeros(x.to_vec())])
        });
        let e = r.expect_err(op).to_string();
        assert!(!e.is_empty(), "{op}");
    }
}
