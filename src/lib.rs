//! # mxnet-web
//!
//! Runs Apache MXNet / Gluon models (`prefix-symbol.json` + `prefix-NNNN.params`) in the browser
//! and natively. The crate reads top-down in the order data flows:
//!
//! ```text
//! format (bytes → raw symbol, params) → graph (typed ops, legacy upgrade, shapes)
//!   → bind (weights ↔ variables, SymbolBlock.imports rules) → plan (schedule, buffer slots)
//!   → backend (cpu) → Model (public API)
//! ```
//!
//! Operator semantics live in [`ops`], one file per family.
// The threaded wasm build (nightly, +atomics) waits with memory.atomic.wait32.
#![cfg_attr(
    all(target_arch = "wasm32", target_feature = "atomics"),
    feature(stdarch_wasm_atomic_wait)
)]

pub mod backend;
pub mod bind;
pub mod dims;
pub mod error;
pub mod format;
pub mod graph;
pub mod model;
pub mod ops;
pub mod optimize;
pub mod plan;
pub mod tensor;
#[cfg(target_arch = "wasm32")]
pub mod web;

pub use bind::BindOptions;
pub use error::{Error, Result};
pub use model::{Model, ModelInfo, Precision};
pub use tensor::{DType, Tensor};
