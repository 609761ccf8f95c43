//! BilinearResize2D and AdaptiveAvgPooling2D → `resize.wgsl` (one thread per output value).

use crate::error::{Error, Result};
use crate::ops::resize::{bilinear_scale, ResizeOp};

use super::{Lowering, Operand};
use crate::backend::webgpu::kernels::{ADAPTIVE_AVG, BILINEAR};
use crate::backend::webgpu::wgsl::{fit, ResizeParams};

pub(crate) fn lower(
    l: &mut Lowering,
    op: &ResizeOp,
    ins: &[Operand],
    outs: &[Operand],
) -> Result<()> {
    let (x, y) = match (ins.first(), outs.first()) {
        (Some(x), Some(y)) if x.shape.len() == 4 && y.shape.len() == 4 => (x, y),
        _ => return Err(Error::Backend(format!("{}: needs NCHW data", op_name(op)))),
    };
    let (h, w, oh, ow) = (x.shape[2], x.shape[3], y.shape[2], y.shape[3]);
    let n = y.numel();
    let (kernel, align, sh, sw) = match op {
        ResizeOp::Bilinear { align_corners, .. } => (
            BILINEAR,
            *align_corners,
            bilinear_scale(h, oh, *align_corners),
            bilinear_scale(w, ow, *align_corners),
        ),
        ResizeOp::AdaptiveAvgPool { .. } => (ADAPTIVE_AVG, false, 0.0, 0.0),
    };
    let u = ResizeParams {
        n: fit(n)?,
        h: fit(h)?,
        w: fit(w)?,
        oh: fit(oh)?,
        ow: fit(ow)?,
        align: align.into(),
        scale_h: sh,
        scale_w: sw,
    };
    l.linear(
        kernel,
        n,
        u,
        vec![x.whole(&kernel)?],
        vec![y.whole(&kernel)?],
    )
}

fn op_name(op: &ResizeOp) -> &'static str {
    use crate::ops::Operator;
    op.name()
}
