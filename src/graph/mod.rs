//! The typed graph: variables and operator nodes with parsed [`Op`]s.
//!
//! Built from a [`RawSymbol`]: aliases resolved to canonical names (spec §2.7), attributes parsed
//! once into typed ops (an unknown operator or attribute is an error naming the node), and MXNet's
//! legacy upgrade applied (spec §2.5): in files older than 0.9.0, operator inputs that were not
//! stored (BatchNorm's moving statistics, SoftmaxOutput's label, ...) are added as variables named
//! `<node>_<slot>`, exactly as MXNet does when it loads such a file.

pub mod dtype;
pub mod shape;

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::format::attrs::{is_dunder, Attrs};
use crate::format::symbol::{RawEntry, RawSymbol};
use crate::ops::{canonical_name, InputRole, Op};

/// Output `output` of node `node`.
pub type Entry = RawEntry;

/// What a node is.
#[derive(Debug, Clone)]
pub enum NodeKind {
    /// A graph variable: a data input, a weight or an aux state (the JSON does not say which).
    Variable,
    /// An operator application.
    Op(Op),
}

/// A graph node.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub kind: NodeKind,
    pub inputs: Vec<Entry>,
    /// Hidden (`__x__`) attributes, kept for `inspect` (`__shape__`, `__dtype__`, ...).
    pub hidden: BTreeMap<String, String>,
}

impl Node {
    /// The operator name, or `"null"` for a variable.
    pub fn op_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Variable => "null",
            NodeKind::Op(op) => op.name(),
        }
    }

    pub fn op(&self) -> Option<&Op> {
        match &self.kind {
            NodeKind::Op(op) => Some(op),
            NodeKind::Variable => None,
        }
    }
}

/// A typed MXNet graph.
#[derive(Debug, Clone)]
pub struct Graph {
    /// Topologically ordered: every input refers to an earlier node.
    pub nodes: Vec<Node>,
    pub heads: Vec<Entry>,
    /// `major*10000 + minor*100 + patch` of the MXNet that wrote the file.
    pub version: u64,
    /// The symbol file's name, for messages.
    pub file: String,
}

/// MXNet 0.9.0: files older than this did not store aux (and label) inputs.
const VERSION_0_9_0: u64 = 900;
/// MXNet 0.9.5: argmax/argmin `axis=-1` was changed to mean "flatten" (spec §2.5).
const VERSION_0_9_5: u64 = 905;

impl Graph {
    /// Types a raw symbol. `file` names the symbol file in error messages.
    pub fn from_raw(raw: RawSymbol, file: &str) -> Result<Graph> {
        let mut nodes: Vec<Node> = Vec::with_capacity(raw.nodes.len());
        // Raw node index -> index in `nodes` (upgraded graphs gain variables).
        let mut remap: Vec<usize> = Vec::with_capacity(raw.nodes.len());
        let symbol_err = |msg: String| Error::Symbol {
            file: file.to_string(),
            msg,
        };

        for rn in raw.nodes {
            let hidden: BTreeMap<String, String> = rn
                .attrs
                .iter()
                .filter(|(k, _)| is_dunder(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let mut inputs: Vec<Entry> = rn
                .inputs
                .iter()
                .map(|e| Entry {
                    node: remap[e.node],
                    output: e.output,
                })
                .collect();

            if rn.op == "null" {
                // Non-dunder attributes on variables are copies of the op's attributes (spec §2.4
                // quirk): ignored.
                remap.push(nodes.len());
                nodes.push(Node {
                    name: rn.name,
                    kind: NodeKind::Variable,
                    inputs,
                    hidden,
                });
                continue;
            }

            let canonical = canonical_name(&rn.op).to_string();
            let mut attr_map = rn.attrs.clone();
            if raw.version < VERSION_0_9_5
                && (canonical == "argmax" || canonical == "argmin")
                && attr_map.get("axis").map(|s| s.trim()) == Some("-1")
            {
                attr_map.remove("axis");
            }
            let attrs = Attrs::new(attr_map);
            let op = Op::parse(&canonical, &attrs).map_err(|e| match e {
                Error::UnknownOp { op } => symbol_err(format!(
                    "node '{}': unknown operator '{op}' (not an MXNet operator mxnet-web supports; \
                     custom operators such as those registered from Python cannot be loaded)",
                    rn.name
                )),
                e => Error::Symbol {
                    file: file.to_string(),
                    msg: e.at_node(&rn.name, &canonical).to_string(),
                },
            })?;

            // Pre-0.9 upgrade: append the missing trailing inputs as new variables.
            let slots = op.inputs();
            if inputs.len() < slots.len() && raw.version < VERSION_0_9_0 {
                for (slot, _role) in &slots[inputs.len()..] {
                    let var_name = format!("{}_{}", rn.name, slot);
                    let id = nodes.len();
                    nodes.push(Node {
                        name: var_name,
                        kind: NodeKind::Variable,
                        inputs: vec![],
                        hidden: BTreeMap::new(),
                    });
                    inputs.push(Entry {
                        node: id,
                        output: 0,
                    });
                }
            }
            if inputs.len() != slots.len() {
                let names: Vec<&str> = slots.iter().map(|(n, _)| n.as_str()).collect();
                return Err(symbol_err(format!(
                    "node '{}' ({}): expects {} inputs ({}) but has {}",
                    rn.name,
                    op.name(),
                    slots.len(),
                    names.join(", "),
                    inputs.len()
                )));
            }
            remap.push(nodes.len());
            nodes.push(Node {
                name: rn.name,
                kind: NodeKind::Op(op),
                inputs,
                hidden,
            });
        }

        let heads: Vec<Entry> = raw
            .heads
            .iter()
            .map(|e| Entry {
                node: remap[e.node],
                output: e.output,
            })
            .collect();
        let mut graph = Graph {
            nodes,
            heads,
            version: raw.version,
            file: file.to_string(),
        };
        graph.check_entries()?;
        dtype::specialise_integer_ops(&mut graph.nodes);
        Ok(graph)
    }

    /// Parses symbol JSON text straight into a typed graph.
    pub fn from_json(text: &str, file: &str) -> Result<Graph> {
        Graph::from_raw(crate::format::symbol::parse_symbol(text, file)?, file)
    }

    /// Every entry must name a visible output of its node.
    fn check_entries(&self) -> Result<()> {
        let check = |e: &Entry, user: &str| -> Result<()> {
            let n = &self.nodes[e.node];
            let count = match &n.kind {
                NodeKind::Variable => 1,
                NodeKind::Op(op) => op.num_outputs(),
            };
            if e.output >= count {
                return Err(Error::Symbol {
                    file: self.file.clone(),
                    msg: format!(
                        "{user} uses output {} of node '{}' ({}), which has {count} visible output(s)",
                        e.output,
                        n.name,
                        n.op_name()
                    ),
                });
            }
            Ok(())
        };
        for n in &self.nodes {
            for e in &n.inputs {
                check(e, &format!("node '{}'", n.name))?;
            }
        }
        for h in &self.heads {
            check(h, "the graph's heads")?;
        }
        Ok(())
    }

    /// Variable node ids in node order.
    pub fn variables(&self) -> impl Iterator<Item = usize> + '_ {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n.kind, NodeKind::Variable))
            .map(|(i, _)| i)
    }

    /// Nodes whose values reach nothing but the label slots of loss-output operators, directly
    /// or through other such nodes (`softmax_label → Reshape → SoftmaxOutput.label`). They are
    /// never computed at inference, and variables among them are optional labels.
    pub fn label_only_nodes(&self) -> Vec<bool> {
        let n = self.nodes.len();
        // consumers[i]: (consumer node, slot role) for every use of node i.
        let mut uses: Vec<Vec<(usize, InputRole)>> = vec![Vec::new(); n];
        for (c, node) in self.nodes.iter().enumerate() {
            if let NodeKind::Op(op) = &node.kind {
                let slots = op.inputs();
                for (k, e) in node.inputs.iter().enumerate() {
                    let role = slots.get(k).map(|s| s.1).unwrap_or(InputRole::Data);
                    uses[e.node].push((c, role));
                }
            }
        }
        let heads: Vec<usize> = self.heads.iter().map(|h| h.node).collect();
        let mut label_only = vec![false; n];
        for i in (0..n).rev() {
            label_only[i] = !uses[i].is_empty()
                && !heads.contains(&i)
                && uses[i]
                    .iter()
                    .all(|&(c, role)| role == InputRole::Label || label_only[c]);
        }
        label_only
    }

    /// The role of each variable, from the operator slots that consume it (spec §2.6). A variable
    /// consumed by nothing is `Data`; one consumed in several roles takes the first non-Data role;
    /// one that only feeds labels (possibly through Reshape and the like) is a `Label`.
    pub fn variable_roles(&self) -> BTreeMap<usize, InputRole> {
        let label_only = self.label_only_nodes();
        let mut roles: BTreeMap<usize, InputRole> = self
            .variables()
            .map(|v| {
                (
                    v,
                    if label_only[v] {
                        InputRole::Label
                    } else {
                        InputRole::Data
                    },
                )
            })
            .collect();
        for n in &self.nodes {
            if let NodeKind::Op(op) = &n.kind {
                for (e, (_, role)) in n.inputs.iter().zip(op.inputs()) {
                    if let Some(r) = roles.get_mut(&e.node) {
                        if *r == InputRole::Data {
                            *r = role;
                        }
                    }
                }
            }
        }
        roles
    }

    /// Node ids needed to compute the heads (a graph may contain unused branches).
    pub fn live_nodes(&self) -> Vec<bool> {
        let mut live = vec![false; self.nodes.len()];
        for h in &self.heads {
            live[h.node] = true;
        }
        for i in (0..self.nodes.len()).rev() {
            if live[i] {
                for e in &self.nodes[i].inputs {
                    live[e.node] = true;
                }
            }
        }
        live
    }

    /// Looks up a node id by name.
    pub fn node_id(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }
}
