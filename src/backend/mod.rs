//! Backends execute a [`crate::plan::Plan`].
//!
//! - [`cpu`]: the reference backend and the browser fallback; GEMM-based convolution and dense.
//! - `webgpu` (cargo feature `webgpu`): WGSL compute kernels through wgpu, natively and in the
//!   browser.

pub mod cpu;
#[cfg(feature = "webgpu")]
pub mod webgpu;
