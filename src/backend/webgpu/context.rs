//! The GPU device: adapter selection, device creation with the adapter's own limits, and the
//! capture of asynchronous GPU errors (validation, out-of-memory, device loss) so that they
//! surface as [`Error::Backend`] instead of wgpu's default panic.

use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

use super::kernels::KernelCache;

/// Options for [`GpuContext::with_options`].
#[derive(Debug, Clone, Default)]
pub struct GpuOptions {
    /// Caps the size of one storage binding (bytes) below the device's own limit. Tensors larger
    /// than this are split into slabs exactly as they are for the device limit; tests use it to
    /// exercise slab splitting on small models (e.g. 1 MiB).
    pub max_binding_bytes: Option<u64>,
    /// Force wgpu's fallback (software) adapter.
    pub force_fallback_adapter: bool,
}

/// What the adapter is (reported by `GpuContext::adapter`).
#[derive(Debug, Clone)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub driver_info: String,
    /// Largest storage binding the executor uses (bytes): the device limit, or the
    /// [`GpuOptions::max_binding_bytes`] cap.
    pub max_binding_bytes: u64,
    pub max_buffer_bytes: u64,
    pub max_workgroups_per_dimension: u32,
    /// The device was created with `shader-f16` (requested whenever the adapter has it; the
    /// kernels are f32 today, f16 storage is the planned use).
    pub shader_f16: bool,
    /// The device was created with `timestamp-query`: profiles time steps on the GPU.
    pub timestamp_query: bool,
    /// The adapter renders on the CPU (SwiftShader, llvmpipe, lavapipe, or any adapter the
    /// platform marks as a fallback/CPU device): slower than the CPU backend, so `auto` skips it.
    pub software: bool,
}

/// Whether an adapter is a software renderer: wgpu's `DeviceType::Cpu` (natively the driver's
/// own report; in the browser `GPUAdapterInfo.isFallbackAdapter`), or a name naming one of the
/// known software implementations (some report themselves as "other").
pub(crate) fn is_software_adapter(device_type: wgpu::DeviceType, name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    device_type == wgpu::DeviceType::Cpu
        || [
            "swiftshader",
            "llvmpipe",
            "lavapipe",
            "softpipe",
            "microsoft basic render driver",
        ]
        .iter()
        .any(|s| name.contains(s))
}

impl std::fmt::Display for AdapterSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}, {}{}; driver {} {}; max binding {} MiB)",
            self.name,
            self.backend,
            self.device_type,
            if self.software { ", software" } else { "" },
            self.driver,
            self.driver_info,
            self.max_binding_bytes >> 20
        )
    }
}

/// Limits the executor plans with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExecLimits {
    /// Largest storage binding in bytes (a multiple of 4).
    pub max_binding: u64,
    pub max_groups_per_dim: u32,
    pub uniform_align: u64,
}

pub(crate) struct ContextInner {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub summary: AdapterSummary,
    pub limits: ExecLimits,
    pub kernels: Mutex<KernelCache>,
    /// Errors nobody captured in an error scope, and device loss: reported by the next run.
    pub uncaptured: Arc<Mutex<Vec<String>>>,
    /// Set by the device-lost callback.
    pub lost: Arc<std::sync::atomic::AtomicBool>,
    /// Why the device was lost (the device-lost callback's reason and message).
    pub lost_reason: Arc<Mutex<Option<String>>>,
}

/// A WebGPU device and its queue, shared by every executable built on it (cheap to clone).
#[derive(Clone)]
pub struct GpuContext {
    pub(crate) inner: Arc<ContextInner>,
}

impl std::fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuContext")
            .field("adapter", &self.inner.summary)
            .finish()
    }
}

impl GpuContext {
    /// Requests the default high-performance adapter and a device with the adapter's own limits.
    /// Errors with [`Error::Backend`] when no adapter is available.
    pub async fn new() -> Result<GpuContext> {
        GpuContext::with_options(GpuOptions::default()).await
    }

    /// [`GpuContext::new`] with options.
    pub async fn with_options(opts: GpuOptions) -> Result<GpuContext> {
        // wgpu aborts the wasm instance when the host has no WebGPU at all (Node.js, older
        // browsers): check for `navigator.gpu` first so that is an ordinary error.
        #[cfg(target_arch = "wasm32")]
        {
            let global = js_sys::global();
            let gpu = js_sys::Reflect::get(&global, &"navigator".into())
                .ok()
                .filter(|n| !n.is_undefined() && !n.is_null())
                .and_then(|n| js_sys::Reflect::get(&n, &"gpu".into()).ok())
                .filter(|g| !g.is_undefined() && !g.is_null());
            if gpu.is_none() {
                return Err(Error::Backend(
                    "this JavaScript environment has no WebGPU (navigator.gpu is missing)".into(),
                ));
            }
        }
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                force_fallback_adapter: opts.force_fallback_adapter,
                compatible_surface: None,
                apply_limit_buckets: false,
            })
            .await
            .map_err(|e| Error::Backend(format!("no WebGPU adapter: {e}")))?;
        let info = adapter.get_info();
        let adapter_limits = adapter.limits();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("mxnet-web"),
                // Everything is f32 today; shader-f16 is requested when present so that f16
                // kernels can be added without changing how devices are made. Timestamp queries
                // serve `profile_blocking` (per-step GPU times) where the adapter has them.
                required_features: adapter.features()
                    & (wgpu::Features::SHADER_F16 | wgpu::Features::TIMESTAMP_QUERY),
                required_limits: adapter_limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| {
                Error::Backend(format!(
                    "cannot open a device on adapter '{}': {e}",
                    info.name
                ))
            })?;

        let uncaptured = Arc::new(Mutex::new(Vec::<String>::new()));
        let lost = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let lost_reason = Arc::new(Mutex::new(None::<String>));
        {
            let sink = uncaptured.clone();
            device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
                if let Ok(mut v) = sink.lock() {
                    v.push(e.to_string());
                }
            }));
            let sink = uncaptured.clone();
            let lost_flag = lost.clone();
            let why = lost_reason.clone();
            device.set_device_lost_callback(move |reason, msg| {
                lost_flag.store(true, std::sync::atomic::Ordering::SeqCst);
                let text = format!("device lost ({reason:?}): {msg}");
                if let Ok(mut w) = why.lock() {
                    *w = Some(text.clone());
                }
                if let Ok(mut v) = sink.lock() {
                    v.push(text);
                }
            });
        }

        let limits = device.limits();
        let device_binding = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        let max_binding = opts
            .max_binding_bytes
            .map_or(device_binding, |cap| cap.min(device_binding))
            & !3;
        if max_binding < 1024 {
            return Err(Error::Backend(format!(
                "max storage binding of {max_binding} bytes is too small"
            )));
        }
        let summary = AdapterSummary {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: info.driver.clone(),
            driver_info: info.driver_info.clone(),
            max_binding_bytes: max_binding,
            max_buffer_bytes: limits.max_buffer_size,
            max_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
            shader_f16: device.features().contains(wgpu::Features::SHADER_F16),
            timestamp_query: device.features().contains(wgpu::Features::TIMESTAMP_QUERY),
            software: is_software_adapter(info.device_type, &info.name),
        };
        let exec_limits = ExecLimits {
            max_binding,
            max_groups_per_dim: limits.max_compute_workgroups_per_dimension.max(1),
            uniform_align: limits.min_uniform_buffer_offset_alignment.max(256) as u64,
        };
        // In the browser wgpu's handles are neither Send nor Sync (one JS thread owns them), so
        // this Arc is only shared ownership there; natively it is shared across threads.
        #[allow(clippy::arc_with_non_send_sync)]
        let inner = Arc::new(ContextInner {
            device,
            queue,
            summary,
            limits: exec_limits,
            kernels: Mutex::new(KernelCache::default()),
            uncaptured,
            lost,
            lost_reason,
        });
        Ok(GpuContext { inner })
    }

    /// Blocking [`GpuContext::new`] (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new_blocking() -> Result<GpuContext> {
        pollster::block_on(GpuContext::new())
    }

    /// Blocking [`GpuContext::with_options`] (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn with_options_blocking(opts: GpuOptions) -> Result<GpuContext> {
        pollster::block_on(GpuContext::with_options(opts))
    }

    /// The adapter in use and the limits the executor plans with.
    /// True once the device was lost (a new context is then needed).
    pub fn is_lost(&self) -> bool {
        self.inner.lost.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Why the device was lost (None while it is not).
    pub fn lost_reason(&self) -> Option<String> {
        if !self.is_lost() {
            return None;
        }
        let why = self.inner.lost_reason.lock().ok().and_then(|w| w.clone());
        Some(why.unwrap_or_else(|| "device lost".into()))
    }

    /// Destroys the device, as a driver reset would (for tests of device-loss recovery). The
    /// context counts as lost from now on, whenever the device-lost callback runs.
    pub fn destroy(&self) {
        if let Ok(mut w) = self.inner.lost_reason.lock() {
            w.get_or_insert_with(|| "device lost (Destroyed): destroyed by destroy()".into());
        }
        self.inner
            .lost
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.inner.device.destroy();
    }

    pub fn adapter(&self) -> &AdapterSummary {
        &self.inner.summary
    }

    pub(crate) fn device(&self) -> &wgpu::Device {
        &self.inner.device
    }

    pub(crate) fn queue(&self) -> &wgpu::Queue {
        &self.inner.queue
    }

    pub(crate) fn limits(&self) -> ExecLimits {
        self.inner.limits
    }

    /// Takes the errors reported outside any error scope since the last call.
    pub(crate) fn take_uncaptured(&self) -> Option<String> {
        let mut v = self.inner.uncaptured.lock().ok()?;
        if v.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut *v).join("; "))
        }
    }
}

/// Runs `f` inside validation, out-of-memory and internal error scopes and turns the first
/// captured error into `Error::Backend` prefixed by `what`.
pub(crate) async fn scoped<T>(
    device: &wgpu::Device,
    what: impl FnOnce() -> String,
    f: impl FnOnce() -> T,
) -> Result<T> {
    let internal = device.push_error_scope(wgpu::ErrorFilter::Internal);
    let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let out = f();
    // Pop all three before awaiting: pops take effect at once, so no other task's scopes can
    // interleave with ours while we wait (several models share one device).
    let (v, o, i) = (validation.pop(), oom.pop(), internal.pop());
    let (v, o, i) = (v.await, o.await, i.await);
    match v.or(o).or(i) {
        None => Ok(out),
        Some(e) => Err(Error::Backend(format!("{}: {}", what(), describe(&e)))),
    }
}

/// A one-line description of a wgpu error (its source chain joined).
pub(crate) fn describe(e: &wgpu::Error) -> String {
    let kind = match e {
        wgpu::Error::OutOfMemory { .. } => "GPU out of memory",
        wgpu::Error::Validation { .. } => "GPU validation error",
        wgpu::Error::Internal { .. } => "GPU internal error",
    };
    let mut text = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let m = s.to_string();
        if !text.contains(&m) {
            text.push_str(": ");
            text.push_str(&m);
        }
        src = s.source();
    }
    format!(
        "{kind}: {}",
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::is_software_adapter;
    use wgpu::DeviceType;

    #[test]
    fn software_adapters_are_recognised() {
        assert!(is_software_adapter(DeviceType::Cpu, "anything"));
        assert!(is_software_adapter(
            DeviceType::Other,
            "llvmpipe (LLVM 15.0.6, 256 bits)"
        ));
        assert!(is_software_adapter(
            DeviceType::Other,
            "SwiftShader Device (Subzero)"
        ));
        assert!(is_software_adapter(DeviceType::Other, "lavapipe"));
        assert!(!is_software_adapter(
            DeviceType::DiscreteGpu,
            "NVIDIA GeForce RTX 4090"
        ));
        assert!(!is_software_adapter(DeviceType::Other, ""));
    }
}
