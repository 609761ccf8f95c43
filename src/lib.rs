//! # mxnet-web
//!
//! Runs Apache MXNet / Gluon models (`prefix-symbol.json` + `prefix-NNNN.params`) in the browser
//! and natively. The crate reads top-down in the order data flows:
//!
//! ```text
//! format (bytes → raw symbol, params) → graph (typed ops) → bind (weights ↔ variables)
//!   → plan (shapes, schedule, buffers) → backend (cpu) → Model (public API)
//! ```
//!
//! Operator semantics live in [`ops`], one file per family.

pub mod backend;
pub mod error;
pub mod format;
pub mod ops;
pub mod tensor;

pub use error::{Error, Result};
pub use tensor::{DType, Tensor};
