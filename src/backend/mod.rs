//! Backends execute a [`crate::plan::Plan`].
//!
//! - [`cpu`]: the reference backend and the browser fallback; GEMM-based convolution and dense.
//! - `webgpu` (cargo feature `webgpu`): WGSL compute kernels through wgpu, natively and in the
//!   browser.

pub mod cpu;
#[cfg(feature = "webgpu")]
pub mod webgpu;

/// Per-step times of one forward pass (`Model::profile`; the CLI's `bench --profile`).
#[derive(Debug, Clone)]
pub struct Profile {
    /// How the steps were timed.
    pub clock: ProfileClock,
    /// (step label: node, op and what ran, e.g. the kernels with their grids; time), in plan
    /// order.
    pub steps: Vec<(String, std::time::Duration)>,
}

/// The clock behind a [`Profile`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileClock {
    /// WebGPU: GPU timestamps around each step's compute passes (the `timestamp-query`
    /// feature), all steps in one submission.
    GpuTimestamps,
    /// WebGPU: host time of one submit-and-wait per step (the device has no timestamp
    /// queries), which includes the submission overhead.
    WallPerSubmit,
    /// CPU: host time around each step of an ordinary forward pass (natively only: wasm32 has
    /// no clock in `std`).
    HostPerStep,
}
