//! Embedding, take, pick, one_hot → `index.wgsl`.

use crate::error::{fmt_shape, Error, Result};
use crate::ops::index::{IndexMode, IndexOp};
use crate::tensor::numel;

use super::{Lowering, Operand};
use crate::backend::webgpu::kernels::{ONE_HOT, PICK, TAKE};
use crate::backend::webgpu::wgsl::{fit, IndexModeCode, IndexParams};

fn resolve(axis: i64, ndim: usize) -> Result<usize> {
    let a = if axis < 0 { axis + ndim as i64 } else { axis };
    if a < 0 || a >= ndim as i64 {
        return Err(Error::shape(format!(
            "axis {axis} out of range for {ndim} dimensions"
        )));
    }
    Ok(a as usize)
}

#[allow(clippy::too_many_arguments)]
fn uniform(
    n: usize,
    outer: usize,
    axis_len: usize,
    inner: usize,
    n_idx: usize,
    mode: IndexMode,
    rows: (usize, usize),
    on_off: (f32, f32),
) -> Result<IndexParams> {
    Ok(IndexParams {
        n: fit(n)?,
        outer: fit(outer)?,
        axis_len: fit(axis_len)?,
        inner: fit(inner)?,
        n_idx: fit(n_idx)?,
        mode: match mode {
            IndexMode::Wrap => IndexModeCode::WRAP,
            IndexMode::Clip | IndexMode::Raise => IndexModeCode::CLIP,
        },
        row_lo: fit(rows.0)?,
        row_hi: fit(rows.1)?,
        on_value: on_off.0,
        off_value: on_off.1,
        ..Default::default()
    })
}

pub(crate) fn lower(
    l: &mut Lowering,
    op: &IndexOp,
    ins: &[Operand],
    outs: &[Operand],
) -> Result<()> {
    let y = outs
        .first()
        .ok_or_else(|| Error::Backend("index op without output".into()))?;
    let input = |k: usize| {
        ins.get(k)
            .ok_or_else(|| Error::Backend(format!("index op lacks input {k}")))
    };
    let n = y.numel();
    match op {
        IndexOp::Embedding {
            input_dim,
            output_dim,
        } => {
            let (idx, w) = (input(0)?, input(1)?);
            // The weight may be split into slabs of whole rows: each slab writes the rows it holds.
            for j in 0..w.layout.chunks() {
                let rows = if w.layout.chunks() == 1 {
                    0..*input_dim
                } else {
                    w.layout.row_range(j)
                };
                if w.layout.chunks() > 1 && w.layout.row_elems != *output_dim {
                    return Err(Error::Unsupported(format!(
                        "Embedding weight {} split inside a row",
                        fmt_shape(&w.shape)
                    )));
                }
                let u = uniform(
                    n,
                    1,
                    *input_dim,
                    *output_dim,
                    idx.numel(),
                    IndexMode::Clip,
                    (rows.start, rows.end),
                    (0.0, 0.0),
                )?;
                l.linear(
                    TAKE,
                    n,
                    u,
                    vec![w.chunk(j), idx.whole(&TAKE)?],
                    vec![y.whole(&TAKE)?],
                )?;
            }
            Ok(())
        }
        IndexOp::Take { axis, mode } => {
            let (a, idx) = (input(0)?, input(1)?);
            let ax = resolve(*axis, a.shape.len())?;
            let (outer, len, inner) = (
                numel(&a.shape[..ax]),
                a.shape[ax],
                numel(&a.shape[ax + 1..]),
            );
            if len == 0 {
                return Ok(());
            }
            let u = uniform(
                n,
                outer,
                len,
                inner,
                idx.numel(),
                *mode,
                (0, len),
                (0.0, 0.0),
            )?;
            l.linear(
                TAKE,
                n,
                u,
                vec![a.whole(&TAKE)?, idx.whole(&TAKE)?],
                vec![y.whole(&TAKE)?],
            )
        }
        IndexOp::Pick { axis, mode, .. } => {
            let (data, idx) = (input(0)?, input(1)?);
            let ax = resolve(*axis, data.shape.len())?;
            let (outer, len, inner) = (
                numel(&data.shape[..ax]),
                data.shape[ax],
                numel(&data.shape[ax + 1..]),
            );
            if len == 0 {
                return Ok(());
            }
            let u = uniform(n, outer, len, inner, 0, *mode, (0, len), (0.0, 0.0))?;
            l.linear(
                PICK,
                n,
                u,
                vec![data.whole(&PICK)?, idx.whole(&PICK)?],
                vec![y.whole(&PICK)?],
            )
        }
        IndexOp::OneHot {
            depth,
            on_value,
            off_value,
            ..
        } => {
            let idx = input(0)?;
            let u = uniform(
                n,
                1,
                *depth,
                *depth,
                idx.numel(),
                IndexMode::Clip,
                (0, *depth),
                (*on_value, *off_value),
            )?;
            l.linear(
                ONE_HOT,
                n,
                u,
                vec![idx.whole(&ONE_HOT)?],
                vec![y.whole(&ONE_HOT)?],
            )
        }
    }
}
