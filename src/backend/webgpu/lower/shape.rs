//! Shape operators → `copy.wgsl`. Concat and stack are written here (one strided copy per
//! input into its place in the output); every other operator of the family is lowered from the
//! index map its CPU kernel produces (see `probe.rs`).

use crate::error::{fmt_shape, Error, Result};
use crate::ops::shape::ShapeOp;
use crate::ops::Op;
use crate::tensor::numel;

use super::{copy_uniform, fill_uniform, simplify, Lowering, Operand};
use crate::backend::webgpu::kernels::{GATHER_INDEX, STRIDED_COPY};
use crate::backend::webgpu::probe::{probe, IndexMap};

/// Most axes of a strided copy (the shader's arrays hold 16).
const MAX_COPY_RANK: usize = 16;

pub(crate) fn lower(
    l: &mut Lowering,
    op: &Op,
    s: &ShapeOp,
    ins: &[Operand],
    outs: &[Operand],
) -> Result<()> {
    match s {
        ShapeOp::Concat { dim, .. } => {
            let out = outs
                .first()
                .ok_or_else(|| Error::Backend("Concat without output".into()))?;
            let axis = resolve(*dim, out.shape.len())?;
            join(l, ins, out, axis)
        }
        ShapeOp::Stack { axis, .. } => {
            let out = outs
                .first()
                .ok_or_else(|| Error::Backend("stack without output".into()))?;
            let axis = resolve(*axis, out.shape.len())?;
            join(l, ins, out, axis)
        }
        _ => from_probe(l, op, ins, outs),
    }
}

fn resolve(axis: i64, ndim: usize) -> Result<usize> {
    let a = if axis < 0 { axis + ndim as i64 } else { axis };
    if a < 0 || a >= ndim as i64 {
        return Err(Error::shape(format!(
            "axis {axis} out of range for {ndim} dimensions"
        )));
    }
    Ok(a as usize)
}

/// Concat along `axis` of the output; stack is the same with the new axis (each input then
/// fills one index of it).
fn join(l: &mut Lowering, ins: &[Operand], out: &Operand, axis: usize) -> Result<()> {
    let outer: usize = numel(&out.shape[..axis]);
    let out_row: usize = numel(&out.shape[axis..]);
    let y = out.whole(&STRIDED_COPY)?;
    let mut at = 0usize;
    for x in ins {
        // Each input is (outer, row) with row = the elements of one outer index.
        let row = x.numel().checked_div(outer).unwrap_or(0);
        if outer * row != x.numel() {
            return Err(Error::shape(format!(
                "Concat: input {} does not fit output {}",
                fmt_shape(&x.shape),
                fmt_shape(&out.shape)
            )));
        }
        let n = x.numel();
        let u = copy_uniform(
            n,
            &[outer, row],
            0,
            at as i64,
            &[row as i64, 1],
            &[out_row as i64, 1],
            false,
        )?;
        l.linear(STRIDED_COPY, n, u, vec![x.whole(&STRIDED_COPY)?], vec![y])?;
        at += row;
    }
    if at != out_row {
        return Err(Error::shape(format!(
            "Concat: inputs fill {at} of {out_row} values per row of {}",
            fmt_shape(&out.shape)
        )));
    }
    Ok(())
}

fn from_probe(l: &mut Lowering, op: &Op, ins: &[Operand], outs: &[Operand]) -> Result<()> {
    let in_shapes: Vec<Vec<usize>> = ins.iter().map(|o| o.shape.clone()).collect();
    let out_shapes: Vec<Vec<usize>> = outs.iter().map(|o| o.shape.clone()).collect();
    let maps = probe(op, &in_shapes, &out_shapes)?;
    let x = ins.first();
    for (map, out) in maps.into_iter().zip(outs) {
        let y = out.whole(&STRIDED_COPY)?;
        match map {
            IndexMap::Constant(values) => {
                let c = l.constant_f32(&values);
                l.copy(c, 0, y, 0, values.len());
            }
            IndexMap::Strided {
                shape,
                strides,
                offset,
            } => {
                let x = x.ok_or_else(|| Error::Backend(format!("{}: no input", op.name())))?;
                let dst = crate::tensor::strides(&shape)
                    .iter()
                    .map(|&s| s as i64)
                    .collect::<Vec<_>>();
                let (shape, st) = simplify(&shape, &[strides, dst]);
                if shape.len() > MAX_COPY_RANK {
                    return Err(Error::Unsupported(format!(
                        "{}: a copy over {} axes",
                        op.name(),
                        shape.len()
                    )));
                }
                let n = out.numel();
                let u = copy_uniform(n, &shape, offset, 0, &st[0], &st[1], false)?;
                l.linear(STRIDED_COPY, n, u, vec![x.whole(&STRIDED_COPY)?], vec![y])?;
            }
            IndexMap::Table { idx, constant } => {
                let x = x.ok_or_else(|| Error::Backend(format!("{}: no input", op.name())))?;
                let table = l.constant_i32(&idx);
                let n = idx.len();
                let u = fill_uniform(n, constant)?;
                l.linear(
                    GATHER_INDEX,
                    n,
                    u,
                    vec![x.whole(&GATHER_INDEX)?, table],
                    vec![y],
                )?;
            }
        }
    }
    Ok(())
}
