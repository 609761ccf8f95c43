//! Pooling → `pool.wgsl`.

use crate::error::{fmt_shape, Error, Result};
use crate::ops::pool::{PoolOp, PoolType, Pooling};

use super::{batch_pieces, Lowering, Operand, U};
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
        let u = U::new()
            .u(n)
            .bits(mode)
            .u(p.count_include_pad as usize)
            .u((spatial.len() == 3) as usize)
            .u(input[0])
            .u(input[1])
            .u(input[2])
            .u(input.iter().product())
            .u(output[0])
            .u(output[1])
            .u(output[2])
            .u(out_size)
            .u(kernel[0])
            .u(kernel[1])
            .u(kernel[2])
            .u(x_off)
            .u(stride[0])
            .u(stride[1])
            .u(stride[2])
            .u(y_off)
            .u(pad[0])
            .u(pad[1])
            .u(pad[2])
            .u(0);
        l.specialized(mode).linear(POOL, n, u, vec![xb], vec![yb])?;
    }
    Ok(())
}
