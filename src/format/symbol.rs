//! The symbol JSON (`prefix-symbol.json`) of every MXNet version (spec §2).
//!
//! This module only turns bytes into [`RawSymbol`]: nodes with their operator name, attribute
//! strings and input entries, validated structurally (indices in range, topological order,
//! which also excludes cycles). Typing the operators and the pre-0.9 upgrade happen in
//! [`crate::graph`].
//!
//! Accepted spellings: `attrs` (1.x), `attr` (0.9.x) and `param` (0.8.x), merged in that order of
//! precedence; input entries as `[node, index, version]` or `[node, index]`; `heads` likewise.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::dims::echo_name;
use crate::error::{Error, Result};

/// MXNet 0.8.0, the version assumed for files without `mxnet_version` (spec §2.1).
pub const VERSION_0_8_0: u64 = 800;

/// One entry: output `output` of node `node`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RawEntry {
    pub node: usize,
    pub output: usize,
}

/// A node as written in the file.
#[derive(Debug, Clone)]
pub struct RawNode {
    /// Operator name as written (aliases not yet resolved), or `"null"` for a variable.
    pub op: String,
    pub name: String,
    /// Merged `param`, `attr` and `attrs` (later spellings win).
    pub attrs: BTreeMap<String, String>,
    pub inputs: Vec<RawEntry>,
}

/// A parsed symbol file.
#[derive(Debug, Clone)]
pub struct RawSymbol {
    pub nodes: Vec<RawNode>,
    pub heads: Vec<RawEntry>,
    /// `major*10000 + minor*100 + patch`; [`VERSION_0_8_0`] when absent. 64-bit: a hostile
    /// `["int", 2^40]` must not truncate to a small (legacy) version.
    pub version: u64,
    /// Written by numpy-semantics exports (`is_np_shape`).
    pub is_np_shape: bool,
}

/// Parses symbol JSON text. `file` names the file in error messages.
pub fn parse_symbol(text: &str, file: &str) -> Result<RawSymbol> {
    let err = |msg: String| Error::Symbol {
        file: file.to_string(),
        msg,
    };
    let root: Value =
        serde_json::from_str(text).map_err(|e| err(format!("not valid JSON: {e}")))?;
    let obj = root
        .as_object()
        .ok_or_else(|| err("the top level is not a JSON object".into()))?;

    let nodes_json = obj
        .get("nodes")
        .and_then(Value::as_array)
        .ok_or_else(|| err("missing the \"nodes\" array (is this an MXNet symbol file?)".into()))?;

    let mut nodes = Vec::with_capacity(nodes_json.len());
    for (id, n) in nodes_json.iter().enumerate() {
        nodes.push(parse_node(n, id, nodes_json.len()).map_err(err)?);
    }

    let heads_json = obj
        .get("heads")
        .and_then(Value::as_array)
        .ok_or_else(|| err("missing the \"heads\" array".into()))?;
    let mut heads = Vec::with_capacity(heads_json.len());
    for h in heads_json {
        let e = parse_entry(h).map_err(|m| err(format!("heads: {m}")))?;
        if e.node >= nodes.len() {
            return Err(err(format!(
                "heads refer to node {} but the graph has {} nodes",
                e.node,
                nodes.len()
            )));
        }
        heads.push(e);
    }
    if heads.is_empty() {
        return Err(err("the graph has no outputs (\"heads\" is empty)".into()));
    }

    if let Some(args) = obj.get("arg_nodes") {
        let args = args
            .as_array()
            .ok_or_else(|| err("\"arg_nodes\" is not an array".into()))?;
        for a in args {
            let id = a
                .as_u64()
                .and_then(|u| usize::try_from(u).ok())
                .ok_or_else(|| {
                    err(format!(
                        "arg_nodes: {} is not a node id",
                        echo_name(&a.to_string())
                    ))
                })?;
            match nodes.get(id) {
                Some(n) if n.op == "null" => {}
                Some(n) => {
                    return Err(err(format!(
                    "arg_nodes lists node {id} ('{}'), which is an operator ({}), not a variable",
                    n.name, n.op
                )))
                }
                None => {
                    return Err(err(format!(
                        "arg_nodes lists node {id}, but the graph has {} nodes",
                        nodes.len()
                    )))
                }
            }
        }
    }

    let mut version = VERSION_0_8_0;
    let mut is_np_shape = false;
    if let Some(attrs) = obj.get("attrs").and_then(Value::as_object) {
        if let Some(v) = attrs.get("mxnet_version") {
            version = typed_int(v)
                .and_then(|n| u64::try_from(n).ok())
                .ok_or_else(|| {
                    err(format!(
                        "attrs.mxnet_version {} is not [\"int\", N] with N >= 0",
                        echo_name(&v.to_string())
                    ))
                })?;
        }
        if let Some(v) = attrs.get("is_np_shape") {
            is_np_shape = typed_int(v).unwrap_or(0) != 0;
        }
    }

    Ok(RawSymbol {
        nodes,
        heads,
        version,
        is_np_shape,
    })
}

/// Reads an nnvm typed attribute `["int", 10901]`.
fn typed_int(v: &Value) -> Option<i64> {
    let a = v.as_array()?;
    if a.len() != 2 || a[0].as_str()? != "int" {
        return None;
    }
    a[1].as_i64()
        .or_else(|| a[1].as_str().and_then(|s| s.trim().parse().ok()))
}

fn parse_entry(v: &Value) -> std::result::Result<RawEntry, String> {
    let a = v
        .as_array()
        .ok_or_else(|| format!("entry {} is not an array", echo_name(&v.to_string())))?;
    if a.len() != 2 && a.len() != 3 {
        return Err(format!(
            "entry {} must be [node, output] or [node, output, version]",
            echo_name(&v.to_string())
        ));
    }
    let idx = |x: &Value| {
        x.as_u64()
            .and_then(|u| usize::try_from(u).ok())
            .ok_or_else(|| {
                format!(
                    "entry {} has a field that is not a node/output index",
                    echo_name(&v.to_string())
                )
            })
    };
    Ok(RawEntry {
        node: idx(&a[0])?,
        output: idx(&a[1])?,
    })
}

fn parse_node(v: &Value, id: usize, count: usize) -> std::result::Result<RawNode, String> {
    let o = v
        .as_object()
        .ok_or_else(|| format!("node {id} is not an object"))?;
    let name = o
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("node {id} has no \"name\""))?
        .to_string();
    let op = o
        .get("op")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("node {id} ('{name}') has no \"op\""))?
        .to_string();
    if o.contains_key("subgraphs") {
        return Err(format!(
            "node {id} ('{name}', {op}) has subgraphs (control flow or a fused subgraph op), which mxnet-web does not support"
        ));
    }

    let mut attrs = BTreeMap::new();
    // Oldest spelling first so that newer ones win on conflicts, as MXNet's loader merges them.
    for key in ["param", "attr", "attrs"] {
        match o.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (k, val) in m {
                    let s = match val {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => if *b { "True".into() } else { "False".into() },
                        other => {
                            return Err(format!(
                                "node {id} ('{name}', {op}): attribute '{k}' has a non-string value {other}"
                            ))
                        }
                    };
                    attrs.insert(k.clone(), s);
                }
            }
            Some(other) => {
                return Err(format!(
                    "node {id} ('{name}', {op}): \"{key}\" is not an object: {other}"
                ))
            }
        }
    }

    let mut inputs = Vec::new();
    if let Some(ins) = o.get("inputs") {
        let ins = ins
            .as_array()
            .ok_or_else(|| format!("node {id} ('{name}', {op}): \"inputs\" is not an array"))?;
        for e in ins {
            let e = parse_entry(e).map_err(|m| format!("node {id} ('{name}', {op}): {m}"))?;
            if e.node >= count {
                return Err(format!(
                    "node {id} ('{name}', {op}) takes input from node {}, but the graph has {count} nodes",
                    e.node
                ));
            }
            if e.node >= id {
                return Err(format!(
                    "node {id} ('{name}', {op}) takes input from node {}, which does not come before it: \
                     the nodes are not in topological order (or the graph has a cycle)",
                    e.node
                ));
            }
            inputs.push(e);
        }
    }
    if op == "null" && !inputs.is_empty() {
        return Err(format!("node {id} ('{name}') is a variable but has inputs"));
    }
    Ok(RawNode {
        op,
        name,
        attrs,
        inputs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_modern_file() {
        let j = r#"{"nodes":[{"op":"null","name":"data","inputs":[]},
            {"op":"null","name":"w","attrs":{"__shape__":"(2, 0)"},"inputs":[]},
            {"op":"FullyConnected","name":"fc","attrs":{"num_hidden":"2","no_bias":"True"},"inputs":[[0,0,0],[1,0,0]]}],
            "arg_nodes":[0,1],"node_row_ptr":[0,1,2,3],"heads":[[2,0,0]],"attrs":{"mxnet_version":["int",10901]}}"#;
        let s = parse_symbol(j, "m.json").unwrap();
        assert_eq!(s.version, 10901);
        assert_eq!(s.nodes.len(), 3);
        assert_eq!(s.nodes[2].attrs["num_hidden"], "2");
        assert_eq!(
            s.nodes[2].inputs,
            vec![
                RawEntry { node: 0, output: 0 },
                RawEntry { node: 1, output: 0 }
            ]
        );
        assert_eq!(s.heads, vec![RawEntry { node: 2, output: 0 }]);
    }

    #[test]
    fn parses_old_spellings() {
        let j = r#"{"nodes":[{"op":"null","name":"data","param":{},"inputs":[],"backward_source_id":-1},
            {"op":"Activation","name":"a","param":{"act_type":"relu"},"attr":{"ctx_group":"x"},"inputs":[[0,0]],"backward_source_id":-1}],
            "arg_nodes":[0],"heads":[[1,0]]}"#;
        let s = parse_symbol(j, "old.json").unwrap();
        assert_eq!(s.version, VERSION_0_8_0);
        assert_eq!(s.nodes[1].attrs["act_type"], "relu");
        assert_eq!(s.nodes[1].attrs["ctx_group"], "x");
    }

    #[test]
    fn rejects_bad_structure() {
        let cases = [
            ("", "not valid JSON"),
            ("[]", "not a JSON object"),
            (r#"{"heads":[[0,0]]}"#, "nodes"),
            (
                r#"{"nodes":[{"op":"null","name":"d"}],"heads":[[3,0]]}"#,
                "heads refer to node 3",
            ),
            (
                r#"{"nodes":[{"op":"null","name":"d"},{"op":"relu","name":"r","inputs":[[5,0]]}],"heads":[[1,0]]}"#,
                "from node 5",
            ),
            (
                r#"{"nodes":[{"op":"relu","name":"r","inputs":[[0,0]]}],"heads":[[0,0]]}"#,
                "topological",
            ),
            (
                r#"{"nodes":[{"op":"null","name":"d"}],"heads":[]}"#,
                "no outputs",
            ),
            (
                r#"{"nodes":[{"op":"null","name":"d","attrs":{"a":[1]}}],"heads":[[0,0]]}"#,
                "non-string",
            ),
            (
                r#"{"nodes":[{"op":"null","name":"d"}],"heads":[[0]]}"#,
                "heads",
            ),
            (
                r#"{"nodes":[{"op":"relu","name":"r"}],"arg_nodes":[0],"heads":[[0,0]]}"#,
                "not a variable",
            ),
        ];
        for (j, want) in cases {
            let e = parse_symbol(j, "bad.json").unwrap_err().to_string();
            assert!(e.contains("bad.json") && e.contains(want), "{j}: {e}");
        }
    }
}
