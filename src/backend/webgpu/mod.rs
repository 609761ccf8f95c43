//! The WebGPU backend: executes a [`crate::plan::Plan`] with WGSL compute kernels, natively
//! through wgpu (Vulkan, Metal, DX12) and in the browser through its WebGPU.
//!
//! How a plan runs:
//! - [`GpuWeights`] uploads a model's parameters once (shared by every plan of the model).
//!   Tensors larger than the device's storage-binding limit are split along their first axis
//!   into *slabs* (the 392 MiB fc6 weight of VGG16, say), and the kernels that read them are
//!   dispatched once per slab.
//! - [`WebGpuExecutable::new`] lowers every step of the plan to dispatches of a small set of
//!   kernels (see `kernels.rs`: one WGSL file per family under `shaders/`), with every shape,
//!   stride and offset in a per-dispatch uniform block. All buffers (one per plan slot, plus
//!   uniforms and the readback buffer), pipelines and bind groups are created here.
//! - [`WebGpuExecutable::run`] writes the inputs, records every dispatch into one command
//!   encoder, submits once and reads all outputs back with a single mapping. No buffer is
//!   allocated per run ([`RunStats`] counts it).
//!
//! Shape operators are lowered without re-deriving their semantics: the op's own CPU `forward`
//! is run once, at build time, on index-encoded inputs, and the resulting index map is fitted
//! to a strided copy (or kept as a gather table when it is not strided, e.g. reflect padding).

mod context;
mod exec;
mod kernels;
mod lower;
mod probe;
mod wgsl;

pub use super::{Profile, ProfileClock};
pub use context::{AdapterSummary, GpuContext, GpuOptions};
pub use exec::{BuildStats, GpuWeights, RunStats, WebGpuExecutable};
