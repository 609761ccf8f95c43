//! BatchNorm, InstanceNorm, LayerNorm, GroupNorm, LRN, L2Normalization → `norm.wgsl`.

use crate::error::{fmt_shape, Error, Result};
use crate::ops::norm::{BatchNormVariant, L2Mode, NormOp};
use crate::tensor::numel;

use super::elementwise::same_slabs;
use super::{BufRef, Lowering, Operand};
use crate::backend::webgpu::kernels::{BATCH_NORM, BATCH_NORM_STATS, LRN, ROW_NORM};
use crate::backend::webgpu::wgsl::{fit, EpilogueCode, NormCode, NormParams};
use crate::ops::epilogue::Epilogue;

fn resolve(axis: i64, ndim: usize) -> Result<usize> {
    let a = if axis < 0 { axis + ndim as i64 } else { axis };
    if a < 0 || a >= ndim as i64 {
        return Err(Error::shape(format!(
            "axis {axis} out of range for {ndim} dimensions"
        )));
    }
    Ok(a as usize)
}

/// The values of norm.wgsl's uniform block ([`NormParams`]) in lowering terms.
#[derive(Default)]
struct NormArgs {
    n: usize,
    channels: usize,
    inner: usize,
    len: usize,
    eps: f32,
    mode: u32,
    gamma_mode: u32,
    gamma_mod: usize,
    stats: bool,
    nsize: usize,
    alpha: f32,
    beta: f32,
    knorm: f32,
}

impl NormArgs {
    fn uniform(&self) -> Result<NormParams> {
        Ok(NormParams {
            n: fit(self.n)?,
            channels: fit(self.channels)?,
            inner: fit(self.inner)?,
            len: fit(self.len)?,
            eps: self.eps,
            mode: self.mode,
            gamma_mode: self.gamma_mode,
            gamma_mod: fit(self.gamma_mod)?,
            stats: self.stats.into(),
            nsize: fit(self.nsize)?,
            alpha: self.alpha,
            beta: self.beta,
            knorm: self.knorm,
            ..Default::default()
        })
    }
}

pub(crate) fn lower(
    l: &mut Lowering,
    op: &NormOp,
    ins: &[Operand],
    outs: &[Operand],
) -> Result<()> {
    let (x, y) = match (ins.first(), outs.first()) {
        (Some(x), Some(y)) => (x, y),
        _ => {
            return Err(Error::Backend(
                "normalisation without data or output".into(),
            ))
        }
    };
    let shape = &x.shape;
    let dim = |k: usize| shape.get(k).copied().unwrap_or(1);
    match op {
        NormOp::BatchNorm(bn) => {
            let params = ins
                .get(1..5)
                .ok_or_else(|| Error::Backend("BatchNorm needs 5 inputs".into()))?;
            let axis = resolve(bn.axis, shape.len())?;
            let channels = shape[axis];
            let inner = numel(&shape[axis + 1..]);
            let p: Vec<BufRef> = params
                .iter()
                .map(|o| o.whole(&BATCH_NORM))
                .collect::<Result<_>>()?;
            for (j, range) in same_slabs(x, y, &BATCH_NORM)? {
                let np = NormArgs {
                    n: range.len(),
                    channels,
                    inner: inner.max(1),
                    len: range.start,
                    eps: bn.eps,
                    mode: if bn.fix_gamma {
                        NormCode::FIX_GAMMA
                    } else {
                        NormCode::GAMMA
                    },
                    ..Default::default()
                };
                let (op, act_a, act_b) = EpilogueCode::of(Epilogue {
                    residual: false,
                    act: bn.act,
                });
                let u = NormParams {
                    act_a,
                    act_b,
                    ..np.uniform()?
                };
                l.specialized(op).linear(
                    BATCH_NORM,
                    range.len(),
                    u,
                    vec![x.chunk(j), p[0], p[1], p[2], p[3]],
                    vec![y.chunk(j)],
                )?;
            }
            if bn.output_mean_var {
                let (m, s) = match outs {
                    [_, m, s] => (m, s),
                    _ => {
                        return Err(Error::Backend(
                            "BatchNorm output_mean_var needs 3 outputs".into(),
                        ))
                    }
                };
                let np = NormArgs {
                    n: channels,
                    eps: bn.eps,
                    mode: if bn.variant == BatchNormVariant::V1 {
                        NormCode::VARIANCE
                    } else {
                        NormCode::INV_STD
                    },
                    ..Default::default()
                };
                l.linear(
                    BATCH_NORM_STATS,
                    channels,
                    np.uniform()?,
                    vec![p[2], p[3]],
                    vec![m.whole(&BATCH_NORM_STATS)?, s.whole(&BATCH_NORM_STATS)?],
                )?;
            }
            Ok(())
        }
        NormOp::InstanceNorm { eps } => {
            let (rows, len) = (dim(0) * dim(1), numel(shape.get(2..).unwrap_or(&[])));
            let np = NormArgs {
                n: rows,
                inner: 1,
                len,
                eps: *eps,
                gamma_mode: NormCode::GAMMA_BY_ROW,
                gamma_mod: dim(1),
                ..Default::default()
            };
            row_norm(l, np, x, ins.get(1), ins.get(2), y, None)
        }
        NormOp::LayerNorm {
            axis,
            eps,
            output_mean_var,
        } => {
            let a = resolve(*axis, shape.len())?;
            let inner = numel(&shape[a + 1..]);
            let rows = numel(&shape[..a]) * inner;
            let np = NormArgs {
                n: rows,
                inner: inner.max(1),
                len: shape[a],
                eps: *eps,
                gamma_mode: NormCode::GAMMA_BY_POSITION,
                stats: *output_mean_var,
                ..Default::default()
            };
            row_norm(
                l,
                np,
                x,
                ins.get(1),
                ins.get(2),
                y,
                output_mean_var.then(|| outs.get(1..3)).flatten(),
            )
        }
        NormOp::GroupNorm {
            num_groups,
            eps,
            output_mean_var,
        } => {
            let rows = dim(0) * num_groups;
            let len = x.numel().checked_div(rows).unwrap_or(0);
            let np = NormArgs {
                n: rows,
                inner: 1,
                len,
                eps: *eps,
                gamma_mode: NormCode::GAMMA_BY_ROW,
                gamma_mod: *num_groups,
                stats: *output_mean_var,
                ..Default::default()
            };
            row_norm(
                l,
                np,
                x,
                ins.get(1),
                ins.get(2),
                y,
                output_mean_var.then(|| outs.get(1..3)).flatten(),
            )
        }
        NormOp::L2Normalization { eps, mode } => {
            let spatial = numel(shape.get(2..).unwrap_or(&[]));
            let (rows, len, inner) = match mode {
                L2Mode::Instance => (dim(0), numel(shape.get(1..).unwrap_or(&[])), 1),
                L2Mode::Channel => (dim(0) * spatial, dim(1), spatial),
                L2Mode::Spatial => (dim(0) * dim(1), spatial, 1),
            };
            let np = NormArgs {
                n: rows,
                inner: inner.max(1),
                len,
                eps: *eps,
                mode: NormCode::L2,
                ..Default::default()
            };
            row_norm(l, np, x, None, None, y, None)
        }
        NormOp::Lrn {
            nsize,
            alpha,
            beta,
            knorm,
        } => {
            let np = NormArgs {
                n: x.numel(),
                channels: dim(1),
                inner: numel(shape.get(2..).unwrap_or(&[])).max(1),
                nsize: *nsize,
                alpha: alpha / *nsize as f32,
                beta: *beta,
                knorm: *knorm,
                ..Default::default()
            };
            l.linear(
                LRN,
                x.numel(),
                np.uniform()?,
                vec![x.whole(&LRN)?],
                vec![y.whole(&LRN)?],
            )
        }
    }
}

fn row_norm(
    l: &mut Lowering,
    np: NormArgs,
    x: &Operand,
    gamma: Option<&Operand>,
    beta: Option<&Operand>,
    y: &Operand,
    stats: Option<&[Operand]>,
) -> Result<()> {
    if np.len == 0 {
        return Ok(());
    }
    let g = gamma
        .map(|g| g.whole(&ROW_NORM))
        .transpose()?
        .unwrap_or(BufRef::Dummy);
    let b = beta
        .map(|b| b.whole(&ROW_NORM))
        .transpose()?
        .unwrap_or(BufRef::Dummy);
    let (m, s) = match stats {
        Some([m, s]) => (m.whole(&ROW_NORM)?, s.whole(&ROW_NORM)?),
        Some(other) => {
            return Err(Error::Backend(format!(
                "normalisation statistics: {} outputs",
                other.len()
            )))
        }
        None => (BufRef::DummyOut(1), BufRef::DummyOut(2)),
    };
    if np.n * np.len != x.numel() {
        return Err(Error::shape(format!(
            "normalisation rows do not cover {}",
            fmt_shape(&x.shape)
        )));
    }
    let rows = np.n;
    l.per_row(
        ROW_NORM,
        rows,
        np.uniform()?,
        vec![x.whole(&ROW_NORM)?, g, b],
        vec![y.whole(&ROW_NORM)?, m, s],
    )
}
