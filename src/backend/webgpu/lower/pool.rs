//! Pooling → `pool.wgsl`.

use crate::error::{fmt_shape, Error, Result};
use crate::ops::pool::{PoolOp, PoolType, Pooling};

use super::{batch_pieces, Lowering, Operand};
use crate::backend::webgpu::wgsl::{fit, PoolParams};
use crate::backend::webgpu::kernels::POOL;

fn to3(v: &[usize], fill: usize) -> [usize; 3] {
    let mut out = [fill; 3];
    let n = v.len().min(3);
    out[3 - n..].copy_from_slice(&v[v.len() - n..]);
    out
}

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
    let spatial = &x.shape[2..];
    let input = to3(spatial, 1);
    let output = to3(&y.shape[2..], 1);
    let (kernel, stride, pad) = if p.global_pool {
        (input, [1; 3], [0; 3])
    } else {
        (to3(&p.kernel, 1), to3(&p.stride, 1), to3(&p.pad, 0))
    };
    let mode: u32 = match p.pool_type {
        PoolType::Max => 0,
        PoolType::Avg => 1,
        PoolType::Sum | PoolType::Lp(1) => 2,
        PoolType::Lp(2) => 3,
        PoolType::Lp(_) => 4,
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
            three_d: (spatial.len() == 3).into(),
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
