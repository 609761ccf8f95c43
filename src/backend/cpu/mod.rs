//! The CPU backend: executes a plan with the operators' CPU kernels, reusing buffers.

pub mod gemm;
