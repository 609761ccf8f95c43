//! Activation, LeakyReLU, the softmax family and the loss heads → `elementwise.wgsl` (`map`,
//! `binary` for PReLU) and `softmax.wgsl`.

use crate::error::{fmt_shape, Error, Result};
use crate::ops::activation::{
    prelu_gamma_layout, ActType, ActivationOp, LeakyType, RegressionKind,
};
use crate::tensor::DType;

use super::elementwise::{cast_code, map, same_slabs, Binary, MapCode, Unary};
use super::{fill_uniform, simplify, Lowering, Operand};
use crate::backend::webgpu::kernels::{BINARY, FILL, SOFTMAX};
use crate::backend::webgpu::wgsl::{fit, vec4s, ElementwiseParams, SoftmaxFlags, SoftmaxParams};

pub(crate) fn lower(
    l: &mut Lowering,
    op: &ActivationOp,
    ins: &[Operand],
    outs: &[Operand],
) -> Result<()> {
    let (x, y) = match (ins.first(), outs.first()) {
        (Some(x), Some(y)) => (x, y),
        _ => {
            return Err(Error::Backend(format!(
                "{}: no data or output",
                op_name(op)
            )))
        }
    };
    match op {
        ActivationOp::Activation { act } => {
            let c = match act {
                ActType::Relu => MapCode::ACT_RELU,
                ActType::Sigmoid => Unary::SIGMOID,
                ActType::Tanh => Unary::TANH,
                ActType::SoftRelu => MapCode::SOFTRELU,
                ActType::SoftSign => Unary::SOFTSIGN,
            };
            map(l, c, 0.0, 0.0, x, y)
        }
        ActivationOp::LeakyReLU {
            act,
            slope,
            lower_bound,
            upper_bound,
        } => match act {
            LeakyType::Leaky => map(l, MapCode::LEAKY, *slope, 0.0, x, y),
            LeakyType::Elu => map(l, MapCode::ELU, *slope, 0.0, x, y),
            LeakyType::Selu => map(l, MapCode::SELU, 0.0, 0.0, x, y),
            LeakyType::Gelu => map(l, MapCode::GELU, 0.0, 0.0, x, y),
            LeakyType::RRelu => {
                let s = (lower_bound + upper_bound) / 2.0;
                map(l, MapCode::LEAKY, s, 0.0, x, y)?;
                if let Some(mask) = outs.get(1) {
                    for (j, range) in same_slabs(mask, mask, &FILL)? {
                        let u = fill_uniform(range.len(), s)?;
                        l.linear(FILL, range.len(), u, vec![], vec![mask.chunk(j)])?;
                    }
                }
                Ok(())
            }
            LeakyType::PRelu => {
                let gamma = ins
                    .get(1)
                    .ok_or_else(|| Error::Backend("LeakyReLU(prelu) needs gamma".into()))?;
                prelu(l, x, gamma, y)
            }
        },
        ActivationOp::Softmax {
            out_dtype,
            use_length,
            ..
        } => {
            let rows = op.softmax_rows(&x.shape)?;
            let length = if *use_length {
                Some(
                    ins.get(1)
                        .ok_or_else(|| Error::Backend("softmax: missing length".into()))?,
                )
            } else {
                None
            };
            let cast = match out_dtype {
                Some(d) if !matches!(d, DType::F32 | DType::F64) => Some(cast_code(*d)),
                _ => None,
            };
            softmax(l, &rows, cast, x, length, y)
        }
        ActivationOp::SoftmaxOutput { .. } | ActivationOp::SoftmaxActivation { .. } => {
            softmax(l, &op.softmax_rows(&x.shape)?, None, x, None, y)
        }
        ActivationOp::RegressionOutput {
            kind: RegressionKind::Logistic,
        } => map(l, Unary::SIGMOID, 0.0, 0.0, x, y),
        ActivationOp::RegressionOutput { .. }
        | ActivationOp::SvmOutput
        | ActivationOp::MakeLoss { .. } => map(l, MapCode::IDENTITY, 0.0, 0.0, x, y),
    }
}

fn op_name(op: &ActivationOp) -> &'static str {
    use crate::ops::Operator;
    op.name()
}

/// One workgroup per row of the resolved softmax (`ActivationOp::softmax_rows`, shared with the
/// CPU kernel); `length` is softmax's `use_length` input, `cast` the output dtype's code.
fn softmax(
    l: &mut Lowering,
    spec: &crate::ops::activation::SoftmaxRows,
    cast: Option<u32>,
    x: &Operand,
    length: Option<&Operand>,
    y: &Operand,
) -> Result<()> {
    let (outer, n, inner) = (spec.outer, spec.n, spec.inner);
    if n == 0 {
        return Ok(());
    }
    let flag = |on: bool, bit: u32| if on { bit } else { 0 };
    let flags = flag(spec.negate, SoftmaxFlags::NEGATE)
        | flag(spec.log, SoftmaxFlags::LOG)
        | flag(length.is_some(), SoftmaxFlags::LENGTH)
        | flag(cast.is_some(), SoftmaxFlags::CAST)
        | flag(spec.onednn_nan, SoftmaxFlags::ONEDNN_NAN);
    let (temperature, cast) = (spec.temperature, cast.unwrap_or(0));
    let rows = outer * inner;
    let len = match length {
        Some(o) => o.whole(&SOFTMAX)?,
        None => super::BufRef::Dummy,
    };
    let u = SoftmaxParams {
        rows: fit(rows)?,
        n: fit(n)?,
        inner: fit(inner)?,
        flags,
        temperature,
        cast_code: cast,
        x_off: 0,
        y_off: 0,
    };
    l.per_row(
        SOFTMAX,
        rows,
        u,
        vec![x.whole(&SOFTMAX)?, len],
        vec![y.whole(&SOFTMAX)?],
    )
}

/// PReLU: gamma laid out against the data as src/ops/activation.rs resolves it
/// ([`prelu_gamma_layout`]: its extent along data axes 0 and 1).
fn prelu(l: &mut Lowering, x: &Operand, gamma: &Operand, y: &Operand) -> Result<()> {
    let data = &x.shape;
    let extent = prelu_gamma_layout(&gamma.shape, data)?;
    let own = crate::tensor::strides(data)
        .iter()
        .map(|&s| s as i64)
        .collect::<Vec<_>>();
    let gs: Vec<i64> = (0..data.len())
        .map(|k| match k {
            0 if extent[0] > 1 => extent[1] as i64,
            1 if extent[1] > 1 => 1,
            _ => 0,
        })
        .collect();
    let (shape, st) = simplify(data, &[own, gs]);
    if shape.len() > 8 {
        return Err(Error::Unsupported(format!(
            "LeakyReLU(prelu) on {} has too many axes",
            fmt_shape(data)
        )));
    }
    let n = y.numel();
    let u = ElementwiseParams {
        n: fit(n)?,
        op: Binary::PRELU,
        rank: fit(shape.len())?,
        shape: vec4s(&shape)?,
        strides0: vec4s(&st[0])?,
        strides1: vec4s(&st[1])?,
        ..Default::default()
    };
    let ins = vec![x.whole(&BINARY)?, gamma.whole(&BINARY)?];
    l.specialized(Binary::PRELU)
        .linear(BINARY, n, u, ins, vec![y.whole(&BINARY)?])
}
