//! Pooling → `pool.wgsl`.

use crate::error::{fmt_shape, Error, Result};
use crate::ops::pool::{PoolOp, PoolType, Pooling};

use super::{batch_pieces, Lowering, Operand};
use crate::backend::webgpu::kernels::POOL;
use crate::backend::webgpu::wgsl::{fit, PoolMode, PoolParams};

pub(crate) fn lower(
    l: &mut Lowering,
    op: &PoolOp,
    ins: &[Operand],
    outs: &[Operand],
) -> Result<()> {
    let PoolOp::Pooling(p) = op;
    let (x, y) = match (ins.first(), outs.first()) {
        (Some(x), Some(y)) => (x, y),
        _ => {
            return Err(Error::Backend(
                "Pooling needs one input and one output".into(),
            ))
        }
    };
    pooling(l, p, x, y)
}

fn pooling(l: &mut Lowering, p: &Pooling, x: &Operand, y: &Operand) -> Result<()> {
    if x.shape.len() < 3 || x.shape.len() != y.shape.len() {
        return Err(Error::shape(format!(
            "Pooling: data {} / output {}",
            fmt_shape(&x.shape),
            fmt_shape(&y.shape)
        )));
    }
    // The op's own resolved geometry (src/ops/pool.rs, as the CPU backend reads it).
    let g = p.geometry(&x.shape)?;
    let nd = x.shape.len() - 2;
    if y.shape[..2] != x.shape[..2] || y.shape[2..] != g.output[3 - nd..] {
        return Err(Error::shape(format!(
            "Pooling: output {} does not match data {}",
            fmt_shape(&y.shape),
            fmt_shape(&x.shape)
        )));
    }
    let (input, output, kernel, stride, pad) = (g.input, g.output, g.kernel, g.stride, g.pad);
    let mode = match p.pool_type {
        PoolType::Max => PoolMode::MAX,
        PoolType::Avg => PoolMode::AVG,
        PoolType::Sum | PoolType::Lp(1) => PoolMode::SUM,
        PoolType::Lp(2) => PoolMode::LP2,
        PoolType::Lp(_) => PoolMode::LP3,
    };
    let out_size: usize = output.iter().product();
    let channels = x.shape[1];
    for piece in batch_pieces(&[x, y], &POOL)? {
        let ((xb, x_off), (yb, y_off)) = (piece.slabs[0], piece.slabs[1]);
        let n = piece.count * channels * out_size;
        let u = PoolParams {
            n: fit(n)?,
            mode,
            count_include_pad: p.count_include_pad.into(),
            three_d: g.three_d.into(),
            in_d: fit(input[0])?,
            in_h: fit(input[1])?,
            in_w: fit(input[2])?,
            in_size: fit(input.iter().product::<usize>())?,
            out_d: fit(output[0])?,
            out_h: fit(output[1])?,
            out_w: fit(output[2])?,
            out_size: fit(out_size)?,
            k_d: fit(kernel[0])?,
            k_h: fit(kernel[1])?,
            k_w: fit(kernel[2])?,
            x_off: fit(x_off)?,
            s_d: fit(stride[0])?,
            s_h: fit(stride[1])?,
            s_w: fit(stride[2])?,
            y_off: fit(y_off)?,
            p_d: fit(pad[0])?,
            p_h: fit(pad[1])?,
            p_w: fit(pad[2])?,
            ..Default::default()
        };
        l.specialized(mode).linear(POOL, n, u, vec![xb], vec![yb])?;
    }
    Ok(())
}
