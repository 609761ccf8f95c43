//! The public API: load a model, run it.
//!
//! ```no_run
//! use mxnet_web::{BindOptions, Model, Tensor};
//! let mut model = Model::from_files("net-symbol.json", "net-0000.params", &BindOptions::default())?;
//! let out = model.run(&[Tensor::zeros(vec![1, 3, 224, 224])])?;
//! # Ok::<(), mxnet_web::Error>(())
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::backend::cpu::CpuExecutable;
#[cfg(feature = "webgpu")]
use crate::backend::webgpu::{GpuContext, GpuWeights, RunStats, WebGpuExecutable};
use crate::bind::{bind, file_key, BindOptions, BoundModel};
use crate::error::{fmt_shape, Error, Result};
use crate::format::params::{index_params, ParamsFile};
use crate::graph::shape::infer_shapes;
use crate::graph::{Graph, NodeKind};
use crate::ops::InputRole;
use crate::plan::{build_plan_with_limit, MemoryLimit};
use crate::tensor::{numel, Tensor};

/// Which backend a model should run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChoice {
    /// WebGPU when an adapter and a device are obtained and the model fits the device, else the
    /// CPU (with the reason in [`Model::fallback_reason`]).
    Auto,
    Cpu,
    WebGpu,
}

impl BackendChoice {
    /// Parses `auto`, `cpu` or `webgpu`.
    pub fn parse(s: &str) -> Result<BackendChoice> {
        match s {
            "auto" => Ok(BackendChoice::Auto),
            "cpu" => Ok(BackendChoice::Cpu),
            "webgpu" => Ok(BackendChoice::WebGpu),
            other => Err(Error::Input(format!(
                "unknown backend '{other}' (expected auto, webgpu or cpu)"
            ))),
        }
    }
}

/// The precision of the weights of convolutions and FullyConnected layers on the WebGPU
/// backend. Activations, biases and accumulation stay f32; the CPU backend is always f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// The default and the reference.
    #[default]
    F32,
    /// Weights stored as f16 (rounded to nearest) where the device has `shader-f16`: half the
    /// GPU memory and half the weight reads, at about 1e-3 relative error (f32 elsewhere).
    F16,
}

impl Precision {
    /// Parses `f32` or `f16`.
    pub fn parse(s: &str) -> Result<Precision> {
        match s {
            "f32" => Ok(Precision::F32),
            "f16" => Ok(Precision::F16),
            other => Err(Error::Input(format!(
                "unknown precision '{other}' (expected f32 or f16)"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
        }
    }
}

/// The backend a model runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Cpu,
    WebGpu,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::WebGpu => "webgpu",
        }
    }
}

#[cfg(feature = "webgpu")]
thread_local! {
    // ManuallyDrop: the thread's shared device is never dropped by the thread-local destructor,
    // because dropping a wgpu queue then may touch wgpu's own thread-locals, which can already
    // be gone (a panic that aborts the process at thread exit, seen with debug assertions). A
    // replaced (lost) device is dropped explicitly in `shared_gpu_context`.
    static GPU_CONTEXT: std::cell::RefCell<Option<std::mem::ManuallyDrop<GpuContext>>> =
        const { std::cell::RefCell::new(None) };
}

/// The device every model of this thread (in the browser: of the page) shares. Requesting a
/// device is slow and browsers limit how many a page may hold; sharing one also shares the
/// compiled pipelines. A lost device is replaced on the next request.
#[cfg(feature = "webgpu")]
async fn shared_gpu_context() -> Result<GpuContext> {
    if let Some(ctx) = GPU_CONTEXT
        .with(|c| c.borrow().as_deref().cloned())
        .filter(|c| !c.is_lost())
    {
        return Ok(ctx);
    }
    let ctx = GpuContext::new().await?;
    let replaced = GPU_CONTEXT.with(|c| {
        c.borrow_mut()
            .replace(std::mem::ManuallyDrop::new(ctx.clone()))
    });
    drop(replaced.map(std::mem::ManuallyDrop::into_inner));
    Ok(ctx)
}

/// Destroys the shared device (tests of device-loss recovery). False when there is none.
#[cfg(feature = "webgpu")]
#[doc(hidden)]
pub fn destroy_shared_gpu_context() -> bool {
    match GPU_CONTEXT.with(|c| c.borrow().as_deref().cloned()) {
        Some(ctx) => {
            ctx.destroy();
            true
        }
        None => false,
    }
}

/// A plan compiled for one backend. A model holds a handful (one per input shape set), so the
/// size difference between the variants does not matter.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum Executable {
    Cpu(CpuExecutable),
    #[cfg(feature = "webgpu")]
    Gpu(WebGpuExecutable),
}

/// A loaded model, ready to run. Plans are built per distinct set of input shapes and cached.
/// A new model runs on the CPU; [`Model::set_backend`] chooses another backend.
#[derive(Debug)]
pub struct Model {
    /// The bound model after backend-independent rewrites ([`crate::optimize`]).
    bound: BoundModel,
    /// The graph as the file describes it (what `info` reports).
    original: Graph,
    backend: Backend,
    choice: BackendChoice,
    fallback_reason: Option<String>,
    /// The device and the weights uploaded to it, shared by every GPU plan of this model.
    #[cfg(feature = "webgpu")]
    gpu: Option<std::sync::Arc<GpuWeights>>,
    plans: HashMap<Vec<Vec<usize>>, Executable>,
    last_shapes: Option<Vec<Vec<usize>>>,
    /// Bytes a plan may take; None: the platform's default ([`MemoryLimit::platform_default`]).
    memory_limit: Option<u64>,
    /// Whether the CPU backend may run 3×3 convolutions with Winograd ([`Model::set_winograd`]).
    winograd: bool,
    /// The precision asked for with [`Model::set_precision`].
    precision: Precision,
    /// Why the weights are f32 although f16 was asked for.
    precision_note: Option<String>,
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Gluon's export naming: `PREFIX-symbol.json` and `PREFIX-%04d.params`.
pub fn export_file_names(prefix: &str, epoch: u32) -> (String, String) {
    (
        format!("{prefix}-symbol.json"),
        format!("{prefix}-{epoch:04}.params"),
    )
}

impl Model {
    /// Loads `symbol.json` + `.params` files.
    pub fn from_files(
        symbol: impl AsRef<Path>,
        params: impl AsRef<Path>,
        opts: &BindOptions,
    ) -> Result<Model> {
        let (symbol, params) = (symbol.as_ref(), params.as_ref());
        let json = read_file(symbol)?;
        let json = String::from_utf8(json).map_err(|_| Error::Symbol {
            file: symbol.display().to_string(),
            msg: "not UTF-8 text".into(),
        })?;
        let bytes = read_file(params)?;
        Model::from_bytes(
            &json,
            &symbol.display().to_string(),
            &bytes,
            &params.display().to_string(),
            opts,
        )
    }

    /// Loads Gluon-exported files `PREFIX-symbol.json` and `PREFIX-EPOCH.params`.
    pub fn from_prefix(prefix: &str, epoch: u32, opts: &BindOptions) -> Result<Model> {
        let (s, p) = export_file_names(prefix, epoch);
        Model::from_files(s, p, opts)
    }

    /// Loads from in-memory contents; the names are used in error messages.
    pub fn from_bytes(
        symbol_json: &str,
        symbol_name: &str,
        params: &[u8],
        params_name: &str,
        opts: &BindOptions,
    ) -> Result<Model> {
        let graph = Graph::from_json(symbol_json, symbol_name)?;
        let index = index_params(params, params_name)?;
        // With ignore_extra, records that bind to no variable are never decoded.
        let wanted: std::collections::BTreeSet<&str> = graph
            .variables()
            .map(|v| graph.nodes[v].name.as_str())
            .collect();
        let keep = |raw: &str| !opts.ignore_extra || wanted.contains(file_key(raw, opts).as_ref());
        // Decoding to f32 can take up to 4× the file (8-bit records): refuse what cannot fit
        // before allocating it.
        let needed = index.decoded_bytes(keep);
        let limit = MemoryLimit::platform_default().total;
        if needed > limit {
            return Err(Error::Limit(format!(
                "params file {params_name}: its parameters need {} as float32, over the memory limit of {}",
                crate::dims::fmt_bytes(needed),
                crate::dims::fmt_bytes(limit)
            )));
        }
        let params = index.decode_where(keep);
        Model::from_parts(graph, params, params_name, opts)
    }

    /// Binds an already parsed graph and params file.
    pub fn from_parts(
        graph: Graph,
        params: ParamsFile,
        params_name: &str,
        opts: &BindOptions,
    ) -> Result<Model> {
        let mut bound = bind(graph, params, params_name, opts)?;
        let original = bound.graph.clone();
        crate::optimize::fold_batchnorm(&mut bound);
        crate::optimize::fuse_epilogues(&mut bound);
        Ok(Model {
            bound,
            original,
            backend: Backend::Cpu,
            choice: BackendChoice::Cpu,
            fallback_reason: None,
            #[cfg(feature = "webgpu")]
            gpu: None,
            plans: HashMap::new(),
            last_shapes: None,
            memory_limit: None,
            winograd: crate::backend::cpu::winograd_default(),
            precision: Precision::F32,
            precision_note: None,
        })
    }

    /// The graph as written in the symbol file.
    pub fn graph(&self) -> &Graph {
        &self.original
    }

    /// The bound model as it executes (graph after rewrites, parameters, inputs).
    pub fn bound(&self) -> &BoundModel {
        &self.bound
    }

    /// Input names in the order `run` takes them.
    pub fn input_names(&self) -> Vec<String> {
        self.bound.inputs.iter().map(|(n, _)| n.clone()).collect()
    }

    /// Number of outputs (graph heads).
    pub fn num_outputs(&self) -> usize {
        self.bound.graph.heads.len()
    }

    /// Chooses the backend. `Cpu` always succeeds. `WebGpu` requests an adapter and a device
    /// (with the adapter's own limits) and uploads the weights, or fails. `Auto` does the same
    /// and falls back to the CPU on any failure, recording why in [`Model::fallback_reason`].
    pub async fn set_backend(&mut self, choice: BackendChoice) -> Result<()> {
        self.plans.clear();
        self.choice = choice;
        self.fallback_reason = None;
        self.precision_note = None;
        self.backend = Backend::Cpu;
        #[cfg(feature = "webgpu")]
        {
            self.gpu = None;
        }
        if choice == BackendChoice::Cpu {
            return Ok(());
        }
        #[cfg(feature = "webgpu")]
        let gpu: Result<std::sync::Arc<GpuWeights>> = async {
            let ctx = shared_gpu_context().await?;
            let adapter = ctx.adapter();
            if choice == BackendChoice::Auto && adapter.software {
                // A software adapter (SwiftShader, llvmpipe) is one to two orders of magnitude
                // slower than the CPU backend: auto treats it as no usable GPU.
                let what = if adapter.name.is_empty() {
                    // The browser's GPUAdapterInfo.isFallbackAdapter (wgpu: DeviceType::Cpu).
                    "a fallback adapter".to_string()
                } else {
                    format!("{}, {}", adapter.name, adapter.device_type)
                };
                return Err(Error::Backend(format!(
                    "the only adapter is a software renderer ({what}), slower than the CPU \
                     backend; ask for backend 'webgpu' explicitly to use it anyway"
                )));
            }
            let f16 = self.precision == Precision::F16 && adapter.shader_f16;
            GpuWeights::upload(&self.bound, &ctx, f16).await
        }
        .await;
        #[cfg(not(feature = "webgpu"))]
        let gpu: Result<()> = Err(Error::Unsupported(
            "the WebGPU backend is not compiled into this build (cargo feature `webgpu`)".into(),
        ));
        match gpu {
            #[cfg(feature = "webgpu")]
            Ok(weights) => {
                if self.precision == Precision::F16 && !weights.context().adapter().shader_f16 {
                    self.precision_note = Some(
                        "precision f16 needs the WebGPU feature 'shader-f16', which this device \
                         lacks: the weights are f32"
                            .into(),
                    );
                }
                self.gpu = Some(weights);
                self.backend = Backend::WebGpu;
                Ok(())
            }
            #[cfg(not(feature = "webgpu"))]
            Ok(()) => Ok(()),
            Err(e) if choice == BackendChoice::Auto => {
                self.fallback_reason = Some(format!("WebGPU is not available: {e}"));
                Ok(())
            }
            Err(e) => Err(Error::Backend(format!(
                "backend 'webgpu' is not available: {e}"
            ))),
        }
    }

    /// [`Model::set_backend`], blocking (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn set_backend_blocking(&mut self, choice: BackendChoice) -> Result<()> {
        pollster::block_on(self.set_backend(choice))
    }

    /// Turns Winograd convolution on the CPU backend on or off (default: on, unless the
    /// environment variable `MXNET_WEB_WINOGRAD=0`). Winograd runs 3×3 stride-1 convolutions
    /// with about 2× fewer operations; its results differ from im2col + GEMM by f32 rounding
    /// (~1e-6 relative) and its transformed weights take 4× the weights' memory.
    pub fn set_winograd(&mut self, on: bool) {
        if on != self.winograd {
            self.plans.clear();
            self.last_shapes = None;
        }
        self.winograd = on;
    }

    /// Asks for the weights of convolutions and FullyConnected layers in `precision` on the
    /// WebGPU backend; takes effect at the next [`Model::set_backend`] (call it first). The
    /// CPU backend is always f32; [`Model::precision`] says what runs.
    pub fn set_precision(&mut self, precision: Precision) {
        self.precision = precision;
    }

    /// The precision of the weights that run: f16 only on WebGPU with f16 asked for and the
    /// device's `shader-f16` (see [`Model::precision_note`] otherwise).
    pub fn precision(&self) -> Precision {
        if self.backend == Backend::WebGpu && self.precision_note.is_none() {
            self.precision
        } else {
            Precision::F32
        }
    }

    /// Why the weights run in f32 although f16 was asked for on WebGPU (the device lacks
    /// `shader-f16`); None otherwise.
    pub fn precision_note(&self) -> Option<&str> {
        self.precision_note.as_deref()
    }

    /// Limits the memory a forward pass may take (activation buffers plus kernel scratch, in
    /// bytes); `None` restores the platform's default (2 GiB on wasm32, natively 16 GiB or ¾ of
    /// the RAM). Inputs whose plan exceeds it are refused before anything is allocated.
    pub fn set_memory_limit(&mut self, bytes: Option<u64>) {
        if bytes != self.memory_limit {
            self.plans.clear();
            self.last_shapes = None;
        }
        self.memory_limit = bytes;
    }

    /// The limit plans are checked against on the current backend: the model's (or the
    /// platform's) total, and on WebGPU also the device's largest buffer.
    pub fn memory_limit(&self) -> MemoryLimit {
        let limit = self
            .memory_limit
            .map_or_else(MemoryLimit::platform_default, MemoryLimit::new);
        #[cfg(feature = "webgpu")]
        if let (Backend::WebGpu, Some(w)) = (self.backend, &self.gpu) {
            return MemoryLimit {
                per_buffer: limit.per_buffer.min(w.context().adapter().max_buffer_bytes),
                ..limit
            };
        }
        limit
    }

    /// Checks that inputs of these shapes fit the model and the memory limit, without
    /// allocating anything; returns the plan's bytes (activations and scratch).
    pub fn check_input_shapes(&self, shapes: &[Vec<usize>]) -> Result<u64> {
        let plan = self.plan_for(shapes)?;
        Ok(plan.activation_bytes() as u64 + crate::dims::f32_bytes(plan.scratch_len))
    }

    /// The backend that runs this model.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Why `Auto` chose the CPU (None when it chose WebGPU or a backend was forced).
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback_reason.as_deref()
    }

    /// The WebGPU adapter in use, if any.
    #[cfg(feature = "webgpu")]
    pub fn gpu_adapter(&self) -> Option<&crate::backend::webgpu::AdapterSummary> {
        self.gpu.as_ref().map(|w| w.context().adapter())
    }

    /// GPU counters (submits, dispatches, buffer allocations) of the latest WebGPU run.
    #[cfg(feature = "webgpu")]
    pub fn gpu_run_stats(&self) -> Option<RunStats> {
        match self.plans.get(self.last_shapes.as_ref()?)? {
            Executable::Gpu(e) => Some(e.last_run().clone()),
            Executable::Cpu(_) => None,
        }
    }

    fn check_inputs(&self, inputs: &[Tensor]) -> Result<Vec<Vec<usize>>> {
        let names = self.input_names();
        if inputs.len() != names.len() {
            return Err(Error::Input(format!(
                "the model takes {} input(s) ({}) but {} were given",
                names.len(),
                names.join(", "),
                inputs.len()
            )));
        }
        for (t, name) in inputs.iter().zip(&names) {
            if numel(&t.shape) != t.data.len() {
                return Err(Error::Input(format!(
                    "input '{name}': shape {} needs {} values but has {}",
                    fmt_shape(&t.shape),
                    numel(&t.shape),
                    t.data.len()
                )));
            }
        }
        Ok(inputs.iter().map(|t| t.shape.clone()).collect())
    }

    fn plan_for(&self, shapes: &[Vec<usize>]) -> Result<crate::plan::Plan> {
        build_plan_with_limit(&self.bound, shapes, self.memory_limit()).map_err(|e| match e {
            Error::Node { .. } | Error::Shape(_) => Error::Input(format!(
                "inputs of shape {} do not fit the model: {e}",
                shapes
                    .iter()
                    .map(|s| fmt_shape(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            e => e,
        })
    }

    /// Builds (once per input shapes) the executable on the current backend. Under `Auto`, a
    /// model the device cannot run (a limit, an unsupported case) falls back to the CPU.
    async fn prepare(&mut self, shapes: &[Vec<usize>]) -> Result<()> {
        if self.plans.contains_key(shapes) {
            return Ok(());
        }
        let plan = self.plan_for(shapes)?;
        let exe = match self.backend {
            Backend::Cpu => Executable::Cpu(CpuExecutable::with_winograd(plan, self.winograd)),
            #[cfg(feature = "webgpu")]
            Backend::WebGpu => {
                let weights = self
                    .gpu
                    .clone()
                    .ok_or_else(|| Error::Backend("WebGPU weights missing".into()))?;
                match WebGpuExecutable::with_weights(plan.clone(), &self.bound.graph, weights).await
                {
                    Ok(e) => Executable::Gpu(e),
                    Err(e) if self.choice == BackendChoice::Auto => {
                        self.fallback_reason = Some(format!("WebGPU cannot run this model: {e}"));
                        self.backend = Backend::Cpu;
                        self.gpu = None;
                        self.plans.clear();
                        Executable::Cpu(CpuExecutable::with_winograd(plan, self.winograd))
                    }
                    Err(e) => return Err(e),
                }
            }
            #[cfg(not(feature = "webgpu"))]
            Backend::WebGpu => {
                return Err(Error::Backend("no WebGPU backend in this build".into()))
            }
        };
        self.plans.insert(shapes.to_vec(), exe);
        Ok(())
    }

    /// Runs a forward pass. `inputs` are positional, in [`Model::input_names`] order.
    pub async fn run_async(&mut self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        let shapes = self.check_inputs(inputs)?;
        #[cfg(feature = "webgpu")]
        self.recover_lost_device().await?;
        self.prepare(&shapes).await?;
        self.last_shapes = Some(shapes.clone());
        let refs: Vec<&Tensor> = inputs.iter().collect();
        match self.plans.get_mut(&shapes) {
            Some(Executable::Cpu(e)) => e.run(&self.bound.graph, &self.bound.params, &refs),
            #[cfg(feature = "webgpu")]
            Some(Executable::Gpu(e)) => e.run(&refs).await,
            None => Err(Error::Backend("plan cache".into())),
        }
    }

    /// After the device was lost (a driver reset, `device.destroy()`): the backend is chosen
    /// again on a new device, with the weights uploaded anew. Under `Auto` a failure falls back
    /// to the CPU; either way the reason names the loss.
    #[cfg(feature = "webgpu")]
    async fn recover_lost_device(&mut self) -> Result<()> {
        let Some(lost) = self.gpu.as_ref().and_then(|w| w.context().lost_reason()) else {
            return Ok(());
        };
        let choice = self.choice;
        match self.set_backend(choice).await {
            Ok(()) => {
                if let Some(why) = self.fallback_reason.take() {
                    self.fallback_reason =
                        Some(format!("the WebGPU device was lost ({lost}); {why}"));
                }
                Ok(())
            }
            Err(e) => Err(Error::Backend(format!(
                "the WebGPU device was lost ({lost}) and no new one could be used: {e}"
            ))),
        }
    }

    /// Times each step of a forward pass. WebGPU: GPU timestamps where the device has
    /// `timestamp-query`; else natively one submit and wait per step (so the total is larger
    /// than a normal run's), and in the browser an error. CPU: the host clock around each step,
    /// natively; `None` in the browser (wasm32's `std` has no clock).
    pub async fn profile(&mut self, inputs: &[Tensor]) -> Result<Option<crate::backend::Profile>> {
        self.run_async(inputs).await?;
        let shapes: Vec<Vec<usize>> = inputs.iter().map(|t| t.shape.clone()).collect();
        let refs: Vec<&Tensor> = inputs.iter().collect();
        match self.plans.get_mut(&shapes) {
            #[cfg(feature = "webgpu")]
            Some(Executable::Gpu(e)) => Ok(Some(e.profile(&refs).await?)),
            #[cfg(not(target_arch = "wasm32"))]
            Some(Executable::Cpu(e)) => {
                let bound = &self.bound;
                Ok(Some(e.profile(&bound.graph, &bound.params, &refs)?))
            }
            _ => Ok(None),
        }
    }

    /// [`Model::profile`], blocking (native).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn profile_blocking(
        &mut self,
        inputs: &[Tensor],
    ) -> Result<Option<crate::backend::Profile>> {
        pollster::block_on(self.profile(inputs))
    }

    /// Runs a forward pass, blocking. `inputs` are positional, in [`Model::input_names`] order.
    /// In the browser only the CPU backend can block: use [`Model::run_async`] there.
    pub fn run(&mut self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        #[cfg(not(target_arch = "wasm32"))]
        {
            pollster::block_on(self.run_async(inputs))
        }
        #[cfg(target_arch = "wasm32")]
        {
            if self.backend != Backend::Cpu {
                return Err(Error::Unsupported(
                    "WebGPU runs are asynchronous in the browser: use run_async".into(),
                ));
            }
            let shapes = self.check_inputs(inputs)?;
            if !self.plans.contains_key(&shapes) {
                let plan = self.plan_for(&shapes)?;
                self.plans.insert(
                    shapes.clone(),
                    Executable::Cpu(CpuExecutable::with_winograd(plan, self.winograd)),
                );
            }
            let refs: Vec<&Tensor> = inputs.iter().collect();
            match self.plans.get_mut(&shapes) {
                Some(Executable::Cpu(e)) => e.run(&self.bound.graph, &self.bound.params, &refs),
                _ => Err(Error::Backend("plan cache".into())),
            }
        }
    }

    /// Runs with inputs given by name (any order; every input must be given).
    pub fn run_named(&mut self, inputs: &[(&str, Tensor)]) -> Result<Vec<Tensor>> {
        let mut ordered = Vec::new();
        for (name, _) in &self.bound.inputs {
            let t = inputs.iter().find(|(n, _)| n == name).ok_or_else(|| {
                Error::Input(format!(
                    "input '{name}' was not given (the model's inputs are {})",
                    self.input_names().join(", ")
                ))
            })?;
            ordered.push(t.1.clone());
        }
        for (n, _) in inputs {
            if !self.bound.inputs.iter().any(|(m, _)| m == n) {
                return Err(Error::Input(format!(
                    "'{n}' is not an input of the model (its inputs are {})",
                    self.input_names().join(", ")
                )));
            }
        }
        self.run(&ordered)
    }

    /// A summary of the model; with input shapes, also per-output shapes and FLOPs.
    pub fn info(&self, input_shapes: Option<&[Vec<usize>]>) -> Result<ModelInfo> {
        model_info(&self.original, &self.bound, input_shapes)
    }
}

/// What `inspect` and `model.info()` report.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub mxnet_version: String,
    pub inputs: Vec<(String, Option<Vec<usize>>)>,
    pub outputs: Vec<(String, Option<Vec<usize>>)>,
    /// Operator name → count, over live nodes.
    pub op_counts: BTreeMap<String, usize>,
    /// Operator family (`Op::family`: detection, recurrent, attention, …) → its operators' names.
    pub op_families: BTreeMap<String, Vec<String>>,
    /// Parameters: name, shape, dtype name, role.
    pub params: Vec<(String, Vec<usize>, String, InputRole)>,
    pub param_count: usize,
    pub param_bytes: usize,
    pub flops: Option<u64>,
}

/// Formats MXNet's integer version (10901 → "1.9.1").
pub fn version_string(v: u64) -> String {
    format!("{}.{}.{}", v / 10000, (v / 100) % 100, v % 100)
}

fn model_info(g: &Graph, b: &BoundModel, input_shapes: Option<&[Vec<usize>]>) -> Result<ModelInfo> {
    let live = g.live_nodes();
    let mut op_counts = BTreeMap::new();
    let mut live_ops = Vec::new();
    for (i, n) in g.nodes.iter().enumerate() {
        if let (true, NodeKind::Op(op)) = (live[i], &n.kind) {
            *op_counts.entry(op.name().to_string()).or_insert(0) += 1;
            live_ops.push(op);
        }
    }
    let op_families = crate::ops::Op::families(live_ops);
    let roles = g.variable_roles();
    let mut params = Vec::new();
    let (mut count, mut bytes) = (0, 0);
    // Parameters of the original graph (rewrites may add some, e.g. folded biases).
    for (id, t) in b.params.range(..g.nodes.len()) {
        let dt = b.param_dtypes.get(id).copied().unwrap_or(crate::DType::F32);
        count += t.data.len();
        bytes += t.data.len() * dt.size();
        params.push((
            g.nodes[*id].name.clone(),
            t.shape.clone(),
            dt.name().to_string(),
            roles[id],
        ));
    }
    let mut inputs: Vec<(String, Option<Vec<usize>>)> =
        b.inputs.iter().map(|(n, _)| (n.clone(), None)).collect();
    let mut outputs: Vec<(String, Option<Vec<usize>>)> = g
        .heads
        .iter()
        .map(|h| (format!("{}_output{}", g.nodes[h.node].name, h.output), None))
        .collect();
    let mut flops = None;
    if let Some(shapes) = input_shapes {
        let mut known = BTreeMap::new();
        for ((_, id), s) in b.inputs.iter().zip(shapes) {
            if let Some(id) = id {
                known.insert(*id, s.clone());
            }
        }
        for (id, t) in b.params.range(..g.nodes.len()) {
            known.insert(*id, t.shape.clone());
        }
        let gs = infer_shapes(g, &known)?;
        for (slot, s) in inputs.iter_mut().zip(shapes) {
            slot.1 = Some(s.clone());
        }
        for (o, h) in outputs.iter_mut().zip(&g.heads) {
            o.1 = gs.outputs[h.node].get(h.output).cloned();
        }
        let mut total = 0u64;
        for (i, n) in g.nodes.iter().enumerate() {
            if let (true, NodeKind::Op(op)) = (live[i], &n.kind) {
                let ins: Vec<Vec<usize>> = n
                    .inputs
                    .iter()
                    .map(|e| {
                        gs.outputs[e.node]
                            .get(e.output)
                            .cloned()
                            .unwrap_or_default()
                    })
                    .collect();
                total =
                    total
                        .checked_add(op.flops(&ins, &gs.outputs[i]))
                        .filter(|&t| t != u64::MAX)
                        .ok_or_else(|| {
                            Error::Limit(format!(
                            "the FLOP count for inputs {} overflows 64 bits at node '{}' ({}): \
                             the shapes are too large to run",
                            shapes.iter().map(|s| fmt_shape(s)).collect::<Vec<_>>().join(", "),
                            crate::dims::echo_name(&n.name),
                            op.name()
                        ))
                        })?;
            }
        }
        flops = Some(total);
    }
    Ok(ModelInfo {
        mxnet_version: version_string(g.version),
        inputs,
        outputs,
        op_counts,
        op_families,
        params,
        param_count: count,
        param_bytes: bytes,
        flops,
    })
}

impl ModelInfo {
    /// The summary as a JSON object (camelCase keys, as the JS API returns it).
    pub fn to_json(&self) -> serde_json::Value {
        let named = |v: &[(String, Option<Vec<usize>>)]| {
            v.iter()
                .map(|(n, s)| serde_json::json!({ "name": n, "shape": s }))
                .collect::<Vec<_>>()
        };
        serde_json::json!({
            "mxnetVersion": self.mxnet_version,
            "inputs": named(&self.inputs),
            "outputs": named(&self.outputs),
            "opCounts": self.op_counts,
            "opFamilies": self.op_families,
            "params": self.params.iter().map(|(n, s, d, r)| serde_json::json!({
                "name": n, "shape": s, "dtype": d, "role": format!("{r:?}").to_lowercase()
            })).collect::<Vec<_>>(),
            "paramCount": self.param_count,
            "paramBytes": self.param_bytes,
            "flops": self.flops,
        })
    }
}
