//! Detection operators → `detection.wgsl`.

use crate::error::{Error, Result};
use crate::ops::detection::DetectionOp;

use super::{Lowering, Operand};

pub(crate) fn lower(
    _l: &mut Lowering,
    op: &DetectionOp,
    _ins: &[Operand],
    _outs: &[Operand],
) -> Result<()> {
    Err(Error::Unsupported(format!("{op:?} on WebGPU")))
}
