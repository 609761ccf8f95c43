//! Backends execute a [`crate::plan::Plan`].
//!
//! - [`cpu`]: the reference backend and the browser fallback; GEMM-based convolution and dense.

pub mod cpu;
