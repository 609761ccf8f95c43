//! TODO(family owner): operators of this family. See `src/ops/mod.rs` for the contract.

use crate::error::Result;
use crate::format::attrs::Attrs;
use crate::ops::{InputRole, Operator, Scratch};
use crate::tensor::{View, ViewMut};

/// Operators of this family.
#[derive(Debug, Clone)]
pub enum PoolOp {}

impl Operator for PoolOp {
    fn parse(_op: &str, _attrs: &Attrs) -> Result<Option<Self>> {
        Ok(None)
    }
    fn name(&self) -> &'static str {
        match *self {}
    }
    fn inputs(&self) -> Vec<(String, InputRole)> {
        match *self {}
    }
    fn infer_shape(&self, _inputs: &mut [Option<Vec<usize>>]) -> Result<Vec<Vec<usize>>> {
        match *self {}
    }
    fn forward(&self, _inputs: &[View], _outputs: &mut [ViewMut], _scratch: &mut Scratch) -> Result<()> {
        match *self {}
    }
}
