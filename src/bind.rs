//! Binding weights to graph variables, as `gluon.nn.SymbolBlock.imports` does (spec §3).
//!
//! - Inputs are the variables named in [`BindOptions::inputs`] (default `["data"]`), in that
//!   order; a listed name that is not a graph variable is accepted and unused, as in MXNet.
//! - Every other variable is a parameter and must be in the params file, whose keys lose an
//!   `arg:` / `aux:` prefix first (the role is not checked, as in MXNet).
//! - `allow_missing` tolerates parameters absent from the file (using one is then an error naming
//!   it); `ignore_extra` tolerates keys that match no variable.
//! - Labels of loss-output operators (`softmax_label`) are optional and unused: MXNet would demand
//!   them, but they never affect inference (documented deviation, spec §3.3).
//! - All parameters are converted to f32 for compute (documented deviation, spec §5.18).
//! - `prefix_map` renames file keys (`FROM=TO`) so files saved under another block prefix load;
//!   when names differ only by a prefix, the missing-parameter error says which map fixes it.

use std::collections::{BTreeMap, BTreeSet};

use crate::dims::echo_name;
use crate::error::{Error, Result};
use crate::format::params::ParamsFile;
use crate::graph::Graph;
use crate::ops::InputRole;
use crate::tensor::{DType, Tensor};

/// MXNet's tail for naming errors (note the missing space after "prefix.", kept verbatim).
const NAMING_HINT: &str = "Please make sure source and target networks have the same prefix.\
For more info on naming, please see https://mxnet.io/api/python/docs/tutorials/packages/gluon/blocks/naming.html";

/// How to bind a params file to a graph.
#[derive(Debug, Clone)]
pub struct BindOptions {
    /// Names of the graph's data inputs, in the order `run` takes them.
    pub inputs: Vec<String>,
    /// Accept parameters that are missing from the file.
    pub allow_missing: bool,
    /// Accept file keys that match no graph variable.
    pub ignore_extra: bool,
    /// `(FROM, TO)`: a file key (after `arg:`/`aux:` stripping) starting with FROM is renamed to
    /// start with TO instead. The first matching map applies.
    pub prefix_map: Vec<(String, String)>,
}

impl Default for BindOptions {
    fn default() -> Self {
        BindOptions {
            inputs: vec!["data".to_string()],
            allow_missing: false,
            ignore_extra: false,
            prefix_map: vec![],
        }
    }
}

impl BindOptions {
    /// Parses a `FROM=TO` prefix map (either side may be empty).
    pub fn parse_prefix_map(s: &str) -> Result<(String, String)> {
        match s.split_once('=') {
            Some((from, to)) => Ok((from.to_string(), to.to_string())),
            None => Err(Error::Bind(format!(
                "prefix map '{s}' must have the form FROM=TO (either side may be empty)"
            ))),
        }
    }
}

/// A graph with its parameters attached.
#[derive(Debug, Clone)]
pub struct BoundModel {
    pub graph: Graph,
    /// Parameter values by variable node id.
    pub params: BTreeMap<usize, Tensor>,
    /// The dtype each parameter had in the file (compute is f32).
    pub param_dtypes: BTreeMap<usize, DType>,
    /// Input names in `run` order, with their variable node (None: not a graph variable, unused).
    pub inputs: Vec<(String, Option<usize>)>,
    /// Parameters absent from the file (only with `allow_missing`).
    pub missing: BTreeSet<usize>,
    /// Label variables of loss-output ops that are not bound (unused at inference).
    pub unbound_labels: BTreeSet<usize>,
    /// The params file's name, for messages.
    pub params_file: String,
}

/// MXNet's `_brief_print_list`: more than 7 names print as the first 3, `...`, the last 4.
pub fn brief_list<S: AsRef<str>>(names: &[S]) -> String {
    let q = |s: &[S]| {
        s.iter()
            .map(|n| format!("'{}'", echo_name(n.as_ref())))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if names.len() > 7 {
        format!("{}, ..., {}", q(&names[..3]), q(&names[names.len() - 4..]))
    } else {
        q(names)
    }
}

/// Strips the `arg:` / `aux:` role prefix of a checkpoint key.
pub fn strip_role(key: &str) -> &str {
    key.strip_prefix("arg:")
        .or_else(|| key.strip_prefix("aux:"))
        .unwrap_or(key)
}

/// The graph variable name a params-file key binds to: the role prefix stripped, then the
/// first matching prefix map applied.
pub fn file_key<'a>(raw: &'a str, opts: &BindOptions) -> std::borrow::Cow<'a, str> {
    apply_prefix_map(strip_role(raw), &opts.prefix_map)
}

fn apply_prefix_map<'a>(key: &'a str, maps: &[(String, String)]) -> std::borrow::Cow<'a, str> {
    for (from, to) in maps {
        if let Some(rest) = key.strip_prefix(from.as_str()) {
            return format!("{to}{rest}").into();
        }
    }
    key.into()
}

/// Binds a params file to a graph.
pub fn bind(
    graph: Graph,
    params: ParamsFile,
    params_file: &str,
    opts: &BindOptions,
) -> Result<BoundModel> {
    if params.names.is_empty() && !params.arrays.is_empty() {
        return Err(Error::Bind(format!(
            "params file {params_file} holds an unnamed list of {} arrays; a model's params file maps names to arrays",
            params.arrays.len()
        )));
    }
    // File keys after role stripping and prefix maps, in file order; a later duplicate wins as
    // in MXNet's dict.
    let mut file_keys: Vec<String> = Vec::new();
    let mut file: BTreeMap<String, usize> = BTreeMap::new();
    for (i, raw) in params.names.iter().enumerate() {
        let k = file_key(raw, opts).into_owned();
        if file.insert(k.clone(), i).is_none() {
            file_keys.push(k);
        }
    }

    let roles = graph.variable_roles();
    let mut inputs = Vec::new();
    let mut input_nodes = BTreeSet::new();
    for name in &opts.inputs {
        let id = graph.variables().find(|&v| graph.nodes[v].name == *name);
        if let Some(id) = id {
            input_nodes.insert(id);
        }
        inputs.push((name.clone(), id));
    }

    // Parameters: every variable that is not an input, args before aux (MXNet's order).
    let live = graph.live_nodes();
    let mut param_ids: Vec<usize> = Vec::new();
    let mut unbound_labels = BTreeSet::new();
    for want_aux in [false, true] {
        for v in graph.variables() {
            if input_nodes.contains(&v) || (roles[&v] == InputRole::Aux) != want_aux {
                continue;
            }
            let name = &graph.nodes[v].name;
            if roles[&v] == InputRole::Label && !file.contains_key(name) {
                unbound_labels.insert(v);
                continue;
            }
            param_ids.push(v);
        }
    }

    let mut missing = BTreeSet::new();
    for &v in &param_ids {
        let name = &graph.nodes[v].name;
        if file.contains_key(name) {
            continue;
        }
        if !opts.allow_missing {
            let mut msg = format!(
                "Parameter '{}' is missing in file: {params_file}, which contains parameters: {}. {NAMING_HINT}",
                echo_name(name),
                brief_list(&file_keys)
            );
            let missing_names: Vec<&str> = param_ids
                .iter()
                .map(|&p| graph.nodes[p].name.as_str())
                .filter(|n| !file.contains_key(*n))
                .collect();
            msg.push_str(&diagnose(
                &missing_names,
                &file_keys,
                &graph,
                &opts.inputs,
                live[v],
            ));
            return Err(Error::Bind(msg));
        }
        missing.insert(v);
    }

    let param_names: BTreeMap<&str, usize> = param_ids
        .iter()
        .map(|&v| (graph.nodes[v].name.as_str(), v))
        .collect();
    if !opts.ignore_extra {
        for k in &file_keys {
            if !param_names.contains_key(k.as_str()) {
                let choices: Vec<&str> = param_ids
                    .iter()
                    .map(|&v| graph.nodes[v].name.as_str())
                    .collect();
                return Err(Error::Bind(format!(
                    "Parameter '{}' loaded from file: {params_file} is not present in ParameterDict, choices are: {}. \
                     Set ignore_extra to True to ignore. {NAMING_HINT}",
                    echo_name(k),
                    brief_list(&choices)
                )));
            }
        }
    }

    let mut values = BTreeMap::new();
    let mut dtypes = BTreeMap::new();
    let mut arrays: Vec<Option<crate::format::params::NDArray>> =
        params.arrays.into_iter().map(Some).collect();
    for (&name, &v) in &param_names {
        if let Some(&i) = file.get(name) {
            if let Some(a) = arrays[i].take() {
                dtypes.insert(v, a.dtype);
                values.insert(
                    v,
                    Tensor {
                        shape: a.shape,
                        data: a.data,
                    },
                );
            }
        }
    }

    Ok(BoundModel {
        graph,
        params: values,
        param_dtypes: dtypes,
        inputs,
        missing,
        unbound_labels,
        params_file: params_file.to_string(),
    })
}

/// Explains a missing-parameter error beyond MXNet's text: a common prefix difference (and the
/// prefix map that fixes it), structural `save_parameters` names, or a mistaken input name.
fn diagnose(
    missing: &[&str],
    file_keys: &[String],
    graph: &Graph,
    input_names: &[String],
    used: bool,
) -> String {
    let first = missing[0];
    let unmatched: Vec<&str> = file_keys
        .iter()
        .map(String::as_str)
        .filter(|k| graph.variables().all(|v| graph.nodes[v].name != *k))
        .collect();

    // A graph input mistaken for a parameter: it is in neither the file nor the input names.
    let first_id = graph.node_id(first);
    let consumed_as_data = first_id
        .map(|id| graph.variable_roles().get(&id) == Some(&InputRole::Data))
        .unwrap_or(false);
    if consumed_as_data
        && !unmatched
            .iter()
            .any(|k| k.ends_with(first) || first.ends_with(k))
    {
        let first = echo_name(first);
        return format!(
            "\nHint: '{first}' looks like a data input of the graph, not a parameter; the input names given were {}. \
             Pass it as an input (CLI: --input {first}=FILE.npy; options: inputs: [\"{first}\"]).",
            brief_list(input_names)
        );
    }
    if !used {
        return String::new();
    }

    // Try every (file key, missing name) pair sharing a suffix as a candidate FROM=TO map, and
    // keep the one that makes the most missing names appear.
    // Bounded work for any file: at most MAX_CANDIDATES maps are tried, each in O(missing).
    const MAX_CANDIDATES: usize = 256;
    let unmatched_set: std::collections::HashSet<&str> = unmatched.iter().copied().collect();
    let mut best: Option<(String, String, usize)> = None;
    for k in unmatched.iter().take(MAX_CANDIDATES) {
        let mut common = k
            .bytes()
            .rev()
            .zip(first.bytes().rev())
            .take_while(|(a, b)| a == b)
            .count();
        // Cut both names at a character boundary.
        while common > 0
            && !(k.is_char_boundary(k.len() - common)
                && first.is_char_boundary(first.len() - common))
        {
            common -= 1;
        }
        if common == 0 {
            continue;
        }
        let (from, to) = (&k[..k.len() - common], &first[..first.len() - common]);
        let fixed = missing
            .iter()
            .filter(|m| {
                m.strip_prefix(to)
                    .is_some_and(|r| unmatched_set.contains(format!("{from}{r}").as_str()))
            })
            .count();
        if best.as_ref().map_or(true, |b| fixed > b.2) {
            best = Some((from.to_string(), to.to_string(), fixed));
        }
    }
    if let Some((from, to, fixed)) = best {
        if fixed * 2 >= missing.len() && fixed > 0 {
            let rest = echo_name(&first[to.len()..]).into_owned();
            let (from, to, first) = (echo_name(&from), echo_name(&to), echo_name(first));
            let how = if from.is_empty() {
                format!("lack the graph's prefix '{to}'")
            } else if to.is_empty() {
                format!("carry an extra prefix '{from}'")
            } else {
                format!("use the prefix '{from}' where the graph uses '{to}'")
            };
            return format!(
                "\nHint: the names differ only by a prefix: the file's keys {how} (e.g. file '{from}{rest}' vs graph '{first}'); \
                 {fixed} of {} missing parameters match that way. Load with the prefix map '{from}={to}' \
                 (CLI: --prefix-map '{from}={to}'; JS: prefixMap: {{\"{from}\": \"{to}\"}}).",
                missing.len(),
            );
        }
    }
    if unmatched.iter().any(|k| k.contains('.')) && !first.contains('.') {
        return "\nHint: the file's keys look like structural names written by Block.save_parameters (e.g. '0.weight'), \
                which cannot be matched to the names in a symbol file. Export the model with HybridBlock.export(), \
                or save with collect_params().save() / save_params()."
            .to_string();
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::params::NDArray;

    fn graph() -> Graph {
        let j = r#"{"nodes":[{"op":"null","name":"data"},
            {"op":"null","name":"net0_dense0_weight"},{"op":"null","name":"net0_dense0_bias"},
            {"op":"FullyConnected","name":"net0_dense0_fwd","attrs":{"num_hidden":"2"},"inputs":[[0,0,0],[1,0,0],[2,0,0]]}],
            "arg_nodes":[0,1,2],"heads":[[3,0,0]],"attrs":{"mxnet_version":["int",10901]}}"#;
        Graph::from_json(j, "g.json").unwrap()
    }

    fn file(names: &[&str]) -> ParamsFile {
        ParamsFile {
            arrays: names
                .iter()
                .map(|_| NDArray {
                    shape: vec![2],
                    dtype: DType::F32,
                    data: vec![1.0, 2.0],
                })
                .collect(),
            names: names.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn brief_list_like_mxnet() {
        let v: Vec<String> = (0..9).map(|i| i.to_string()).collect();
        assert_eq!(brief_list(&v), "'0', '1', '2', ..., '5', '6', '7', '8'");
        assert_eq!(brief_list(&["a", "b"]), "'a', 'b'");
    }

    #[test]
    fn strips_roles_and_binds() {
        let b = bind(
            graph(),
            file(&["arg:net0_dense0_weight", "arg:net0_dense0_bias"]),
            "p",
            &BindOptions::default(),
        )
        .unwrap();
        assert_eq!(b.params.len(), 2);
        assert_eq!(b.inputs, vec![("data".to_string(), Some(0))]);
    }

    #[test]
    fn missing_parameter_message_and_prefix_hint() {
        let e = bind(
            graph(),
            file(&["dense0_weight", "dense0_bias"]),
            "x.params",
            &BindOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("Parameter 'net0_dense0_weight' is missing in file: x.params, which contains parameters: 'dense0_weight', 'dense0_bias'. Please make sure source and target networks have the same prefix.For more info"), "{e}");
        assert!(e.contains("'=net0_'"), "{e}");
        let opts = BindOptions {
            prefix_map: vec![("".into(), "net0_".into())],
            ..Default::default()
        };
        assert!(bind(
            graph(),
            file(&["dense0_weight", "dense0_bias"]),
            "x.params",
            &opts
        )
        .is_ok());
    }

    #[test]
    fn extra_and_allow_missing() {
        let e = bind(
            graph(),
            file(&["net0_dense0_weight", "net0_dense0_bias", "x"]),
            "e.params",
            &BindOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("Parameter 'x' loaded from file: e.params is not present in ParameterDict"),
            "{e}"
        );
        let opts = BindOptions {
            ignore_extra: true,
            ..Default::default()
        };
        assert!(bind(
            graph(),
            file(&["net0_dense0_weight", "net0_dense0_bias", "x"]),
            "e.params",
            &opts
        )
        .is_ok());
        let opts = BindOptions {
            allow_missing: true,
            ..Default::default()
        };
        let b = bind(graph(), file(&["net0_dense0_weight"]), "m.params", &opts).unwrap();
        assert_eq!(b.missing.len(), 1);
    }

    #[test]
    fn wrong_input_name_hint() {
        let opts = BindOptions {
            inputs: vec!["x".into()],
            ..Default::default()
        };
        let e = bind(
            graph(),
            file(&["net0_dense0_weight", "net0_dense0_bias"]),
            "p",
            &opts,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("Parameter 'data' is missing") && e.contains("data input"),
            "{e}"
        );
    }
}
