//! `_arange`, `_zeros`, `_ones`, `_full`: a fill kernel, or (for `_arange`, whose values depend
//! on f32 rounding the op file defines) the op's own values uploaded once as a constant and
//! copied into the output slot each forward.

use crate::backend::webgpu::kernels::FILL;
use crate::error::{Error, Result};
use crate::ops::creation::CreationOp;

use super::{fill_uniform, Lowering, Operand};

pub(crate) fn lower(l: &mut Lowering, op: &CreationOp, outs: &[Operand]) -> Result<()> {
    let out = outs
        .first()
        .ok_or_else(|| Error::Backend(format!("{:?} without output", op)))?;
    match op {
        CreationOp::Full { value, .. } => {
            for j in 0..out.layout.chunks() {
                let n = out.layout.elem_range(j).len();
                let u = fill_uniform(n, *value)?;
                l.linear(FILL, n, u, vec![], vec![out.chunk(j)])?;
            }
        }
        CreationOp::Arange { .. } => {
            let values = op.values()?;
            let c = l.constant_f32(&values);
            for j in 0..out.layout.chunks() {
                let r = out.layout.elem_range(j);
                l.copy(c, r.start, out.chunk(j), 0, r.len());
            }
        }
    }
    Ok(())
}
