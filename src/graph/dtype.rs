//! Dtype inference for integer semantics.
//!
//! Every tensor is held in f32 (README, "dtypes"), but MXNet computes some graphs in integer
//! dtypes: GluonCV's CenterNet decoder casts topk indices to int64 and divides them
//! (`broadcast_div`, C truncation) to get class ids and rows. This pass infers the dtype MXNet
//! gives each node output, the way MXNet's type inference does for these operators, and then
//! specialises the elementwise operators whose results differ on integer tensors:
//!
//! - `elemwise_div` / `broadcast_div` of two integer tensors, `_div_scalar` / `_rdiv_scalar` of
//!   an integer tensor: truncating integer division ([`BinaryFn::IntDiv`]);
//! - any `*_scalar` op on an integer tensor: the scalar is first converted to the tensor's dtype
//!   (spec §5.19: int32 `3 * 2.5 = 6`).
//!
//! Sources of integer dtypes: `Cast`, `zeros_like`/`ones_like` with `dtype`, `_arange` / `_zeros`
//! / `_ones` / `_full` with `dtype`, `shape_array` / `size_array` (int64), `one_hot` with
//! `dtype`, and topk/argsort index outputs with an integer `dtype`. Variables (inputs and
//! parameters) are float32, since parameters are converted on load. Ops whose semantics are
//! floating-point (convolution, normalisation, activation, ...) give float32.

use crate::graph::{Node, NodeKind};
use crate::ops::creation::CreationOp;
use crate::ops::detection::DetectionOp;
use crate::ops::elementwise::{cast_value, BinaryFn, ElementwiseOp};
use crate::ops::index::IndexOp;
use crate::ops::reduce::{ReduceOp, TopKReturn};
use crate::ops::shape::ShapeOp;
use crate::ops::Op;
use crate::tensor::DType;

/// True for the integer dtypes (bool included: MXNet's bool arithmetic is integral).
pub fn is_integer(d: DType) -> bool {
    !matches!(d, DType::F32 | DType::F64 | DType::F16 | DType::BF16)
}

/// The dtype of every visible output of every node (`dtypes[node][output]`). `nodes` must be
/// topologically ordered with valid entries.
pub fn infer(nodes: &[Node]) -> Vec<Vec<DType>> {
    let mut out: Vec<Vec<DType>> = Vec::with_capacity(nodes.len());
    for node in nodes {
        let ins: Vec<DType> = node
            .inputs
            .iter()
            .map(|e| {
                out.get(e.node)
                    .and_then(|o| o.get(e.output))
                    .copied()
                    .unwrap_or(DType::F32)
            })
            .collect();
        let dts = match &node.kind {
            NodeKind::Variable => vec![DType::F32],
            NodeKind::Op(op) => {
                let n = op.num_outputs();
                let first = ins.first().copied().unwrap_or(DType::F32);
                let same = |d: DType| vec![d; n];
                match op {
                    Op::Elementwise(e) => match e {
                        ElementwiseOp::Cast { dtype } => same(*dtype),
                        ElementwiseOp::Fill { dtype, .. } => same(dtype.unwrap_or(first)),
                        ElementwiseOp::Where => same(ins.get(1).copied().unwrap_or(DType::F32)),
                        // Mixed float/integer operands are an error in MXNet; compute in float.
                        _ if ins.iter().all(|&d| is_integer(d)) => same(first),
                        _ => same(DType::F32),
                    },
                    Op::Creation(CreationOp::Arange { dtype, .. })
                    | Op::Creation(CreationOp::Full { dtype, .. }) => same(*dtype),
                    Op::Shape(ShapeOp::ShapeArray) | Op::Shape(ShapeOp::SizeArray) => {
                        same(DType::I64)
                    }
                    Op::Shape(ShapeOp::Concat { .. }) | Op::Shape(ShapeOp::Stack { .. }) => {
                        if ins.iter().all(|&d| is_integer(d)) {
                            same(first)
                        } else {
                            same(DType::F32)
                        }
                    }
                    // Layout ops keep the data's dtype (input 0).
                    Op::Shape(_) => same(first),
                    Op::Index(IndexOp::OneHot { dtype, .. }) => same(*dtype),
                    Op::Index(IndexOp::Embedding { .. }) => same(DType::F32),
                    Op::Index(_) => same(first),
                    Op::Detection(DetectionOp::GatherNd) => same(first),
                    Op::Reduce(ReduceOp::TopK {
                        ret, index_dtype, ..
                    }) => match ret {
                        TopKReturn::Value | TopKReturn::Mask => same(first),
                        TopKReturn::Indices => same(*index_dtype),
                        TopKReturn::Both => vec![first, *index_dtype],
                    },
                    Op::Reduce(ReduceOp::ArgExtreme { .. }) => same(DType::F32),
                    Op::Reduce(_) => same(first),
                    _ => same(DType::F32),
                }
            }
        };
        out.push(dts);
    }
    out
}

/// Infers dtypes and rewrites the elementwise operators that behave differently on integer
/// tensors (see the module documentation).
pub fn specialise_integer_ops(nodes: &mut [Node]) {
    let dtypes = infer(nodes);
    for (id, node) in nodes.iter_mut().enumerate() {
        let in_dtypes: Vec<DType> = node
            .inputs
            .iter()
            .map(|e| dtypes[e.node].get(e.output).copied().unwrap_or(DType::F32))
            .collect();
        let all_int = !in_dtypes.is_empty() && in_dtypes.iter().all(|&d| is_integer(d));
        if !all_int {
            continue;
        }
        let NodeKind::Op(Op::Elementwise(e)) = &mut node.kind else {
            continue;
        };
        match e {
            ElementwiseOp::Binary { op, .. } | ElementwiseOp::Broadcast { op, .. }
                if *op == BinaryFn::Div =>
            {
                *op = BinaryFn::IntDiv;
            }
            ElementwiseOp::Scalar { op, scalar, .. } => {
                *scalar = cast_value(*scalar, dtypes[id][0]);
                if *op == BinaryFn::Div {
                    *op = BinaryFn::IntDiv;
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Graph;

    fn elementwise(g: &Graph, name: &str) -> ElementwiseOp {
        let id = g.node_id(name).unwrap();
        match g.nodes[id].op() {
            Some(Op::Elementwise(e)) => e.clone(),
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn integer_division_is_specialised() {
        // topk indices cast to int64, divided by a shape_array entry and by a scalar; a float
        // division next to it stays a float division.
        let j = r#"{"nodes":[{"op":"null","name":"data"},
            {"op":"topk","name":"tk","attrs":{"k":"3","ret_typ":"both"},"inputs":[[0,0,0]]},
            {"op":"Cast","name":"idx","attrs":{"dtype":"int64"},"inputs":[[1,1,0]]},
            {"op":"shape_array","name":"shp","inputs":[[0,0,0]]},
            {"op":"slice_axis","name":"w","attrs":{"axis":"0","begin":"1","end":"2"},"inputs":[[3,0,0]]},
            {"op":"broadcast_div","name":"row","inputs":[[2,0,0],[4,0,0]]},
            {"op":"_div_scalar","name":"half","attrs":{"scalar":"2.9"},"inputs":[[2,0,0]]},
            {"op":"_mul_scalar","name":"dbl","attrs":{"scalar":"2.5"},"inputs":[[2,0,0]]},
            {"op":"_div_scalar","name":"fdiv","attrs":{"scalar":"2.9"},"inputs":[[1,0,0]]},
            {"op":"broadcast_div","name":"mixed","inputs":[[1,0,0],[2,0,0]]}],
            "arg_nodes":[0],"heads":[[5,0,0],[6,0,0],[7,0,0],[8,0,0],[9,0,0]],
            "attrs":{"mxnet_version":["int",10901]}}"#;
        let g = Graph::from_json(j, "g.json").unwrap();
        let dts = infer(&g.nodes);
        assert_eq!(dts[1], vec![DType::F32, DType::F32]);
        assert_eq!(dts[2], vec![DType::I64]);
        assert_eq!(dts[4], vec![DType::I64]);
        assert!(matches!(
            elementwise(&g, "row"),
            ElementwiseOp::Broadcast {
                op: BinaryFn::IntDiv,
                ..
            }
        ));
        match elementwise(&g, "half") {
            ElementwiseOp::Scalar { op, scalar, .. } => {
                assert_eq!((op, scalar), (BinaryFn::IntDiv, 2.0));
            }
            other => panic!("{other:?}"),
        }
        match elementwise(&g, "dbl") {
            ElementwiseOp::Scalar { op, scalar, .. } => {
                assert_eq!((op, scalar), (BinaryFn::Mul, 2.0))
            }
            other => panic!("{other:?}"),
        }
        match elementwise(&g, "fdiv") {
            ElementwiseOp::Scalar { op, scalar, .. } => {
                assert_eq!((op, scalar), (BinaryFn::Div, 2.9))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            elementwise(&g, "mixed"),
            ElementwiseOp::Broadcast {
                op: BinaryFn::Div,
                ..
            }
        ));
    }

    #[test]
    fn int_div_truncates_like_c() {
        let f = |a: f32, b: f32| BinaryFn::IntDiv.apply(a, b);
        assert_eq!(f(-7.0, 2.0), -3.0);
        assert_eq!(f(7.0, -2.0), -3.0);
        assert_eq!(f(-7.0, -2.0), 3.0);
        assert_eq!(f(5.0, 0.0), 0.0);
        // 25165826 / 3 = 8388608.67: f32 division rounds it up to 8388609.
        assert_eq!(f(25_165_826.0, 3.0), 8_388_608.0);
    }
}
