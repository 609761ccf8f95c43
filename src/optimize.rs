//! Backend-independent graph rewrites applied before planning.
//!
//! **BatchNorm folding.** At inference BatchNorm is a per-channel affine map
//! `y = x·scale[c] + shift[c]` (see [`crate::ops::norm::BatchNorm::scale_shift`]). When it directly
//! follows a Convolution whose output nothing else reads, it is folded into that convolution:
//! `W'[f] = W[f]·scale[f]`, `b'[f] = b[f]·scale[f] + shift[f]`, and the BatchNorm node becomes an
//! identity view (no work, no buffer). Every Gluon model-zoo network with BatchNorm has this
//! pattern; folding removes a full memory pass per layer on every backend.
//!
//! **Epilogue fusion** ([`fuse_epilogues`]). A residual add (`elemwise_add` of a convolution's
//! or FullyConnected's result and a tensor computed before it) and a following activation
//! (`Activation(relu)`, `LeakyReLU` leaky, `clip`, as in ResNet, MobileNetV2's ReLU6, YOLO's
//! leaky ReLU, MLP heads and transformer feed-forward blocks) are folded into the producer's
//! store: `y = act(x·W + bias + residual)` (see [`crate::ops::epilogue`]). An activation after
//! a BatchNorm that could not be folded (pre-activation ResNet v2 and DenseNet: BN → relu →
//! conv) is fused into the BatchNorm the same way. The
//! fused ops become identity views. Each removes a kernel launch and a full pass over the
//! activation on every backend.
//!
//! Both rewrites keep node ids: a convolution that had no bias gets a new bias variable appended
//! at the end of the node list (variables may appear anywhere; only operator-to-operator edges
//! must point backwards). `Model::info` reports the original graph.

use crate::bind::BoundModel;
use crate::format::attrs::Attrs;
use crate::graph::{Entry, Node, NodeKind};
use crate::ops::conv::ConvOp;
use crate::ops::dense::DenseOp;
use crate::ops::elementwise::{BinaryFn, ElementwiseOp};
use crate::ops::epilogue::FusedAct;
use crate::ops::norm::NormOp;
use crate::ops::Op;
use crate::tensor::{DType, Tensor};

/// Folds every eligible BatchNorm into the convolution before it. Returns how many were folded.
pub fn fold_batchnorm(model: &mut BoundModel) -> usize {
    let n = model.graph.nodes.len();
    let readers = reader_counts(model);
    let is_param = |m: &BoundModel, e: &Entry| {
        matches!(m.graph.nodes[e.node].kind, NodeKind::Variable) && m.params.contains_key(&e.node)
    };

    let mut folded = 0;
    for bn_id in 0..n {
        let bn = match &model.graph.nodes[bn_id].kind {
            NodeKind::Op(Op::Norm(NormOp::BatchNorm(bn)))
                if !bn.output_mean_var && bn.axis == 1 =>
            {
                bn.clone()
            }
            _ => continue,
        };
        let bn_inputs = model.graph.nodes[bn_id].inputs.clone();
        let conv_entry = bn_inputs[0];
        let conv_id = conv_entry.node;
        let conv = match &model.graph.nodes[conv_id].kind {
            NodeKind::Op(Op::Conv(ConvOp::Convolution(c))) => c.clone(),
            _ => continue,
        };
        let conv_inputs = model.graph.nodes[conv_id].inputs.clone();
        // The convolution's result must feed only this BatchNorm, and its weights only it.
        if readers[conv_id] != 1
            || !conv_inputs[1..]
                .iter()
                .all(|e| is_param(model, e) && readers[e.node] == 1)
            || !bn_inputs[1..].iter().all(|e| is_param(model, e))
        {
            continue;
        }
        let p = |e: &Entry| &model.params[&e.node].data;
        let f = conv.num_filter;
        if bn_inputs[1..].iter().any(|e| p(e).len() != f) {
            continue;
        }
        let (scale, shift) = bn.scale_shift(
            p(&bn_inputs[1]),
            p(&bn_inputs[2]),
            p(&bn_inputs[3]),
            p(&bn_inputs[4]),
        );

        // New bias = old bias·scale + shift.
        let bias: Vec<f32> = match conv_inputs.get(2) {
            Some(b) if p(b).len() == f => p(b)
                .iter()
                .zip(&scale)
                .zip(&shift)
                .map(|((b, s), t)| b * s + t)
                .collect(),
            Some(_) => continue,
            None => shift.clone(),
        };
        // Scale each filter of the weight.
        let w_id = conv_inputs[1].node;
        // Only a weight of shape (F, ...) with something in each filter is folded: any other
        // (a zero-sized dim, a wrong leading dim) is left for shape inference to report with
        // the parameter's name.
        let w = match model.params.get_mut(&w_id) {
            Some(w)
                if w.shape.first() == Some(&f) && !w.data.is_empty() && w.data.len() % f == 0 =>
            {
                w
            }
            _ => continue,
        };
        let per_filter = w.data.len() / f;
        for (filter, s) in w.data.chunks_mut(per_filter).zip(&scale) {
            filter.iter_mut().for_each(|v| *v *= s);
        }
        let bias_entry = match conv_inputs.get(2) {
            Some(b) => *b,
            None => {
                let id = model.graph.nodes.len();
                model.graph.nodes.push(Node {
                    name: format!("{}_bias_folded", model.graph.nodes[conv_id].name),
                    kind: NodeKind::Variable,
                    inputs: vec![],
                    hidden: Default::default(),
                });
                model.param_dtypes.insert(id, DType::F32);
                Entry {
                    node: id,
                    output: 0,
                }
            }
        };
        model.params.insert(
            bias_entry.node,
            Tensor {
                shape: vec![f],
                data: bias,
            },
        );

        let mut new_conv = conv;
        new_conv.no_bias = false;
        let conv_node = &mut model.graph.nodes[conv_id];
        conv_node.kind = NodeKind::Op(Op::Conv(ConvOp::Convolution(new_conv)));
        conv_node.inputs = vec![conv_inputs[0], conv_inputs[1], bias_entry];

        let identity = match Op::parse("_copy", &Attrs::default()) {
            Ok(op) => op,
            Err(_) => continue,
        };
        let bn_node = &mut model.graph.nodes[bn_id];
        bn_node.kind = NodeKind::Op(identity);
        bn_node.inputs = vec![conv_entry];
        folded += 1;
    }
    folded
}

/// How often each node's outputs are read (graph heads count as readers).
fn reader_counts(model: &BoundModel) -> Vec<usize> {
    let mut readers = vec![0usize; model.graph.nodes.len()];
    for node in &model.graph.nodes {
        for e in &node.inputs {
            readers[e.node] += 1;
        }
    }
    for h in &model.graph.heads {
        readers[h.node] += 1;
    }
    readers
}

/// The producer whose result `e` is, looking through same-shape identity views (a folded
/// BatchNorm, Dropout, an already fused op), when it can take a fused epilogue (a Convolution,
/// a FullyConnected, or for an activation alone a BatchNorm with one output) and every node on
/// the way — the producer included — is read only once: then the value may be changed in place
/// without anyone else seeing it.
fn sole_producer(model: &BoundModel, readers: &[usize], mut e: Entry) -> Option<usize> {
    loop {
        let node = &model.graph.nodes[e.node];
        if readers[e.node] != 1 || e.output != 0 {
            return None;
        }
        match &node.kind {
            NodeKind::Op(Op::Elementwise(ElementwiseOp::Identity { .. })) => {
                e = *node.inputs.first()?;
            }
            NodeKind::Op(
                Op::Conv(ConvOp::Convolution(_)) | Op::Dense(DenseOp::FullyConnected(_)),
            ) => return Some(e.node),
            NodeKind::Op(Op::Norm(NormOp::BatchNorm(bn))) if !bn.output_mean_var => {
                return Some(e.node)
            }
            _ => return None,
        }
    }
}

/// The fusable tail of producer `id` (see [`sole_producer`]): its activation, and its residual
/// flag where it can add one (not BatchNorm).
fn epilogue_mut(model: &mut BoundModel, id: usize) -> Option<(&mut FusedAct, Option<&mut bool>)> {
    match &mut model.graph.nodes[id].kind {
        NodeKind::Op(Op::Conv(ConvOp::Convolution(c))) => {
            Some((&mut c.epilogue.act, Some(&mut c.epilogue.residual)))
        }
        NodeKind::Op(Op::Dense(DenseOp::FullyConnected(fc))) => {
            Some((&mut fc.epilogue.act, Some(&mut fc.epilogue.residual)))
        }
        NodeKind::Op(Op::Norm(NormOp::BatchNorm(bn))) => Some((&mut bn.act, None)),
        _ => None,
    }
}

/// Turns node `id` into an identity view of `source`.
fn make_identity(model: &mut BoundModel, id: usize, source: Entry) -> bool {
    let Ok(identity) = Op::parse("_copy", &Attrs::default()) else {
        return false;
    };
    let node = &mut model.graph.nodes[id];
    node.kind = NodeKind::Op(identity);
    node.inputs = vec![source];
    true
}

/// Fuses residual adds and activations into the convolutions and FullyConnected layers they
/// follow (see the module
/// documentation). Returns how many ops were fused.
pub fn fuse_epilogues(model: &mut BoundModel) -> usize {
    // Fusing moves reads around without changing any node's reader count: the fused op's
    // identity view still reads the convolution chain once, and the residual is read by the
    // convolution instead of the add.
    let readers = reader_counts(model);
    let mut fused = 0;
    for id in 0..model.graph.nodes.len() {
        let NodeKind::Op(op) = &model.graph.nodes[id].kind else {
            continue;
        };
        let inputs = model.graph.nodes[id].inputs.clone();
        if let Some(act) = FusedAct::of(op) {
            // producer → act: the activation runs in the producer's store.
            let Some(producer) = inputs
                .first()
                .and_then(|&e| sole_producer(model, &readers, e))
            else {
                continue;
            };
            let Some((fused_act, _)) = epilogue_mut(model, producer) else {
                continue;
            };
            if *fused_act != FusedAct::None {
                continue;
            }
            *fused_act = act;
            if make_identity(model, id, inputs[0]) {
                fused += 1;
            }
        } else if matches!(
            op,
            Op::Elementwise(ElementwiseOp::Binary {
                op: BinaryFn::Add,
                ..
            })
        ) && inputs.len() == 2
        {
            // producer + r (same shape by elemwise_add's definition): r becomes the producer's
            // residual input. r must be computed before the producer (node order is the
            // execution order), so try each operand as the producer.
            for (c, r) in [(0, 1), (1, 0)] {
                let Some(producer) = sole_producer(model, &readers, inputs[c]) else {
                    continue;
                };
                let residual = inputs[r];
                if residual.node >= producer {
                    continue;
                }
                let Some((fused_act, Some(has_residual))) = epilogue_mut(model, producer) else {
                    continue;
                };
                if *has_residual || *fused_act != FusedAct::None {
                    continue;
                }
                *has_residual = true;
                model.graph.nodes[producer].inputs.push(residual);
                if make_identity(model, id, inputs[c]) {
                    fused += 1;
                }
                break;
            }
        }
    }
    fused
}
