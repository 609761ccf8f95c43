//! Reductions, argmax/argmin and topk/sort/argsort → `reduce.wgsl`.

use crate::error::{fmt_shape, Error, Result};
use crate::ops::reduce::{ReduceKind, ReduceOp, TopKReturn};
use crate::tensor::{numel, strides};

use super::elementwise::cast_code;
use super::{simplify, BufRef, Lowering, Operand};
use crate::backend::webgpu::kernels::{REDUCE, TOPK};
use crate::backend::webgpu::wgsl::{fit, vec4s, ReduceCode, ReduceParams, TopkParams, TopkRet};

fn resolve(axis: i64, ndim: usize) -> Result<usize> {
    let a = if axis < 0 { axis + ndim as i64 } else { axis };
    if a < 0 || a >= ndim as i64 {
        return Err(Error::shape(format!(
            "axis {axis} out of range for {ndim} dimensions"
        )));
    }
    Ok(a as usize)
}

/// Which axes are reduced (MXNet's rules: none listed = all, `exclude` flips).
fn reduced_axes(shape: &[usize], axes: Option<&[i64]>, exclude: bool) -> Result<Vec<bool>> {
    let nd = shape.len();
    match axes {
        Some(a) if !a.is_empty() => {
            let mut listed = vec![false; nd];
            for &ax in a {
                listed[resolve(ax, nd)?] = true;
            }
            Ok(listed.into_iter().map(|l| l != exclude).collect())
        }
        _ => Ok(vec![true; nd]),
    }
}

pub(crate) fn lower(
    l: &mut Lowering,
    op: &ReduceOp,
    ins: &[Operand],
    outs: &[Operand],
) -> Result<()> {
    let (x, y) = match (ins.first(), outs.first()) {
        (Some(x), Some(y)) => (x, y),
        _ => return Err(Error::Backend("reduction without data or output".into())),
    };
    match op {
        ReduceOp::Reduce {
            kind,
            axes,
            exclude,
            ..
        } => {
            let code = match kind {
                ReduceKind::Sum => ReduceCode::SUM,
                ReduceKind::Mean => ReduceCode::MEAN,
                ReduceKind::Max => ReduceCode::MAX,
                ReduceKind::Min => ReduceCode::MIN,
                ReduceKind::Prod => ReduceCode::PROD,
                ReduceKind::NanSum => ReduceCode::NANSUM,
                ReduceKind::NanProd => ReduceCode::NANPROD,
            };
            let red = reduced_axes(&x.shape, axes.as_deref(), *exclude)?;
            reduce(l, code, x, &red, y)
        }
        ReduceOp::Norm { ord, axes, .. } => {
            let red = reduced_axes(&x.shape, axes.as_deref(), false)?;
            let code = if *ord == 1 {
                ReduceCode::L1
            } else {
                ReduceCode::L2
            };
            reduce(l, code, x, &red, y)
        }
        ReduceOp::ArgExtreme { max, axis, .. } => {
            let red = match axis {
                None => vec![true; x.shape.len()],
                Some(a) => {
                    let a = resolve(*a, x.shape.len())?;
                    (0..x.shape.len()).map(|k| k == a).collect()
                }
            };
            let code = if *max {
                ReduceCode::ARGMAX
            } else {
                ReduceCode::ARGMIN
            };
            reduce(l, code, x, &red, y)
        }
        ReduceOp::TopK {
            axis,
            k,
            ret,
            ascending,
            index_dtype,
            ..
        } => {
            let (outer, n, inner) = match axis {
                None => (1, x.numel(), 1),
                Some(a) => {
                    let a = resolve(*a, x.shape.len())?;
                    (numel(&x.shape[..a]), x.shape[a], numel(&x.shape[a + 1..]))
                }
            };
            let k = if *k <= 0 { n } else { (*k as usize).min(n) };
            let ret_code = match ret {
                TopKReturn::Value => TopkRet::VALUE,
                TopKReturn::Indices => TopkRet::INDICES,
                TopKReturn::Both => TopkRet::BOTH,
                TopKReturn::Mask => TopkRet::MASK,
            };
            let total = outer * n * inner;
            let u = TopkParams {
                total: fit(total)?,
                n: fit(n)?,
                inner: fit(inner)?,
                k: fit(k)?,
                ret: ret_code,
                ascending: (*ascending).into(),
                cast_code: cast_code(*index_dtype),
                x_off: 0,
            };
            let out1 = match outs.get(1) {
                Some(o) => o.whole(&TOPK)?,
                None => BufRef::DummyOut(1),
            };
            l.linear(
                TOPK,
                total,
                u,
                vec![x.whole(&TOPK)?],
                vec![y.whole(&TOPK)?, out1],
            )
        }
    }
}

/// One workgroup per output element: the kept axes pick the element, the reduced axes are
/// walked in row-major order (so argmax's index is the position along the reduced axes).
fn reduce(l: &mut Lowering, code: u32, x: &Operand, reduced: &[bool], y: &Operand) -> Result<()> {
    let st: Vec<i64> = strides(&x.shape).iter().map(|&s| s as i64).collect();
    let (mut ks, mut kst, mut rs, mut rst) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (k, &d) in x.shape.iter().enumerate() {
        if reduced[k] {
            rs.push(d);
            rst.push(st[k]);
        } else {
            ks.push(d);
            kst.push(st[k]);
        }
    }
    let count = numel(&rs);
    let n_out = numel(&ks);
    if n_out != y.numel() {
        return Err(Error::shape(format!(
            "reduction of {} gives {} values, output {} holds {}",
            fmt_shape(&x.shape),
            n_out,
            fmt_shape(&y.shape),
            y.numel()
        )));
    }
    let (ks, kst) = simplify(&ks, &[kst]);
    // Merging axes keeps the row-major order, so argmax's linear index is unchanged.
    let (rs, rst) = simplify(&rs, &[rst]);
    if ks.len() > 8 || rs.len() > 8 {
        return Err(Error::Unsupported(format!(
            "reduction over {} needs more than 8 axes on the GPU",
            fmt_shape(&x.shape)
        )));
    }
    let u = ReduceParams {
        n_out: fit(n_out)?,
        count: fit(count)?,
        op: code,
        kept_rank: fit(ks.len())?,
        red_rank: fit(rs.len())?,
        kept_shape: vec4s(&ks)?,
        kept_strides: vec4s(&kst[0])?,
        red_shape: vec4s(&rs)?,
        red_strides: vec4s(&rst[0])?,
        ..Default::default()
    };
    let (xb, yb) = (x.whole(&REDUCE)?, y.whole(&REDUCE)?);
    l.specialized(code)
        .per_row(REDUCE, n_out, u, vec![xb], vec![yb])
}
