//! The WebAssembly surface (`wasm32` only): a thin `#[wasm_bindgen]` layer over [`Model`].
//!
//! It converts JS values, calls the library and turns every [`crate::Error`] into a JS `Error`
//! with the same message. The npm package's hand-written `pkg/index.js` wraps it with fetching,
//! progress, named inputs and TypeScript types; users never call this module directly.

use js_sys::{Array, Float32Array, Object, Reflect};
use wasm_bindgen::prelude::*;

use crate::bind::BindOptions;
use crate::model::{BackendChoice, Model};
use crate::tensor::Tensor;

thread_local! {
    /// The JS function told about a panic (`setPanicHandler`; the package's index.js sets it).
    static PANIC_HANDLER: std::cell::RefCell<Option<js_sys::Function>> =
        const { std::cell::RefCell::new(None) };
}

#[wasm_bindgen(start)]
fn start() {
    // Panics are bugs, never the result of bad input. In wasm a panic aborts: the instance
    // traps (`RuntimeError: unreachable`) right after this hook and its state (allocator,
    // borrowed cells, the futures queue) is no longer safe to use. The hook therefore asks
    // wasm-bindgen for a fresh instance at the next call into the module and hands the message
    // to JS, which rejects whatever was pending on this instance with it.
    std::panic::set_hook(Box::new(|info| {
        // A worker thread (threaded build) only marks the CPU pool dead: the caller waiting
        // for its task then panics on the main thread, where the instance is replaced.
        crate::backend::cpu::pool::on_panic();
        if crate::backend::cpu::pool::is_worker() {
            console_error_panic_hook::hook(info);
            return;
        }
        wasm_bindgen::handler::schedule_reinit();
        let handler = PANIC_HANDLER.with(|h| h.try_borrow().ok().and_then(|h| h.clone()));
        match handler {
            Some(f) => {
                let _ = f.call1(&JsValue::NULL, &JsValue::from_str(&info.to_string()));
            }
            None => console_error_panic_hook::hook(info),
        }
    }));
}

/// Sets the function called with the panic message when the module panics (just before it
/// traps). Used by the package's index.js.
#[wasm_bindgen(js_name = setPanicHandler)]
pub fn set_panic_handler(f: js_sys::Function) {
    PANIC_HANDLER.with(|h| *h.borrow_mut() = Some(f));
}

/// Caps the threads the CPU kernels use (the caller included; 1 to 64). Only the threaded
/// build has more than one; the package calls it before it starts the workers.
#[wasm_bindgen(js_name = setPoolThreads)]
pub fn set_pool_threads(n: u32) {
    crate::backend::cpu::pool::set_threads(n as usize);
}

/// The threads the CPU kernels split their work into now: the cap, or fewer while workers
/// are still starting (always 1 in the single-threaded build).
#[wasm_bindgen(js_name = poolThreads)]
pub fn pool_threads() -> u32 {
    crate::backend::cpu::pool::threads() as u32
}

/// Threaded build: the loop of a worker (Web Worker / worker thread) started by the package;
/// never returns.
#[cfg(target_feature = "atomics")]
#[wasm_bindgen(js_name = __mxnet_worker_loop)]
pub fn worker_loop() {
    crate::backend::cpu::pool::run_worker()
}

/// Threaded build: called by a worker's JS when its loop threw (the thread trapped), so that
/// a caller waiting for its task panics instead of waiting forever.
#[cfg(target_feature = "atomics")]
#[wasm_bindgen(js_name = __mxnet_worker_died)]
pub fn worker_died() {
    crate::backend::cpu::pool::worker_died()
}

/// The size of this instance's linear memory in bytes.
#[wasm_bindgen(js_name = memoryBytes)]
pub fn memory_bytes() -> f64 {
    core::arch::wasm32::memory_size(0) as f64 * 65536.0
}

/// Test hook: panics (so the instance traps) inside a synchronous call. The package's tests use
/// it to check that a trap is contained whatever input limits the library gains.
#[doc(hidden)]
#[wasm_bindgen(js_name = __testTrapSync)]
pub fn test_trap_sync() {
    panic!("deliberate panic for testing (__testTrapSync)");
}

/// Test hook: panics inside an asynchronous call, after yielding to the event loop, i.e. from
/// the futures queue's microtask exactly as a panic inside `run()` on WebGPU would.
#[doc(hidden)]
#[wasm_bindgen(js_name = __testTrapAsync)]
pub async fn test_trap_async() -> Result<(), JsError> {
    let _ =
        wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&JsValue::UNDEFINED)).await;
    panic!("deliberate panic for testing (__testTrapAsync)");
}

/// Test hook: destroys the shared WebGPU device (as a driver reset or the page would), so that
/// device-loss recovery can be tested. Returns false when there is no device.
#[doc(hidden)]
#[cfg(feature = "webgpu")]
#[wasm_bindgen(js_name = __testLoseDevice)]
pub fn test_lose_device() -> bool {
    crate::model::destroy_shared_gpu_context()
}

fn js_err(e: crate::Error) -> JsError {
    JsError::new(&e.to_string())
}

/// A loaded model (use `Model` from the package's `index.js`, which wraps this class).
#[wasm_bindgen]
pub struct WasmModel {
    model: Model,
    choice: BackendChoice,
}

#[wasm_bindgen]
impl WasmModel {
    /// Parses and binds a model. `inputs`: input names in run order; `prefix_map`: `FROM=TO`
    /// strings; `backend`: "auto" | "cpu" | "webgpu".
    #[wasm_bindgen(js_name = fromBytes)]
    #[allow(clippy::too_many_arguments)]
    pub fn from_bytes(
        symbol_json: &str,
        symbol_name: &str,
        params: &[u8],
        params_name: &str,
        inputs: Vec<String>,
        allow_missing: bool,
        ignore_extra: bool,
        prefix_map: Vec<String>,
        backend: &str,
    ) -> Result<WasmModel, JsError> {
        let prefix_map = prefix_map
            .iter()
            .map(|s| BindOptions::parse_prefix_map(s))
            .collect::<crate::Result<Vec<_>>>()
            .map_err(js_err)?;
        let opts = BindOptions {
            inputs,
            allow_missing,
            ignore_extra,
            prefix_map,
        };
        let choice = BackendChoice::parse(backend).map_err(js_err)?;
        let model = Model::from_bytes(symbol_json, symbol_name, params, params_name, &opts)
            .map_err(js_err)?;
        Ok(WasmModel { model, choice })
    }

    /// Limits the bytes one forward pass may take (activations plus kernel scratch); `None`:
    /// the platform's default. `bytes` is a positive safe integer (checked by pkg/index.js).
    #[wasm_bindgen(js_name = setMemoryLimit)]
    pub fn set_memory_limit(&mut self, bytes: Option<f64>) {
        self.model.set_memory_limit(bytes.map(|b| b as u64));
    }

    /// Asks for `"f32"` (the default) or `"f16"` weights of convolutions and FullyConnected
    /// layers on WebGPU. Call before `selectBackend`.
    #[wasm_bindgen(js_name = setPrecision)]
    pub fn set_precision(&mut self, precision: &str) -> Result<(), JsError> {
        let p = crate::model::Precision::parse(precision).map_err(js_err)?;
        self.model.set_precision(p);
        Ok(())
    }

    /// "f32" or "f16": the precision of the weights that run.
    #[wasm_bindgen(getter)]
    pub fn precision(&self) -> String {
        self.model.precision().name().to_string()
    }

    /// Why the weights run in f32 although f16 was asked for (undefined otherwise).
    #[wasm_bindgen(getter, js_name = precisionNote)]
    pub fn precision_note(&self) -> Option<String> {
        self.model.precision_note().map(String::from)
    }

    /// Selects the backend chosen at creation: requests a WebGPU adapter and device and uploads
    /// the weights (`webgpu`, or `auto` falling back to the CPU). Call once after `fromBytes`.
    #[wasm_bindgen(js_name = selectBackend)]
    pub async fn select_backend(&mut self) -> Result<(), JsError> {
        self.model.set_backend(self.choice).await.map_err(js_err)
    }

    /// Input names in run order.
    #[wasm_bindgen(js_name = inputNames)]
    pub fn input_names(&self) -> Vec<String> {
        self.model.input_names()
    }

    /// "cpu" or "webgpu": the backend that runs this model.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.model.backend().name().to_string()
    }

    /// Why `auto` did not pick WebGPU (undefined when it did, or when a backend was forced).
    #[wasm_bindgen(getter, js_name = fallbackReason)]
    pub fn fallback_reason(&self) -> Option<String> {
        self.model.fallback_reason().map(String::from)
    }

    /// Runs a forward pass. `inputs`: an array of `{ data: Float32Array, shape: number[] }` in
    /// input order. Resolves to one `{ data, shape }` per output head.
    pub async fn run(&mut self, inputs: Array) -> Result<Array, JsError> {
        let tensors = self.tensors_from_js(&inputs)?;
        let outs = self.model.run_async(&tensors).await.map_err(js_err)?;
        let result = Array::new();
        for t in outs {
            let o = Object::new();
            let data = Float32Array::from(t.data.as_slice());
            let shape: Array = t.shape.iter().map(|&d| JsValue::from(d as f64)).collect();
            let _ = Reflect::set(&o, &"data".into(), &data);
            let _ = Reflect::set(&o, &"shape".into(), &shape);
            result.push(&o);
        }
        Ok(result)
    }

    /// Runs a forward pass and times each step on the GPU (timestamp queries). Resolves to
    /// `{ clock, steps: [{ step, ms }] }` in plan order, or `null` on the CPU backend.
    #[cfg(feature = "webgpu")]
    pub async fn profile(&mut self, inputs: Array) -> Result<JsValue, JsError> {
        let tensors = self.tensors_from_js(&inputs)?;
        let Some(profile) = self.model.profile(&tensors).await.map_err(js_err)? else {
            return Ok(JsValue::NULL);
        };
        let steps = Array::new();
        for (label, time) in &profile.steps {
            let o = Object::new();
            let _ = Reflect::set(&o, &"step".into(), &label.into());
            let _ = Reflect::set(&o, &"ms".into(), &(time.as_secs_f64() * 1e3).into());
            steps.push(&o);
        }
        let result = Object::new();
        let clock = match profile.clock {
            crate::backend::ProfileClock::GpuTimestamps => "gpu-timestamps",
            crate::backend::ProfileClock::WallPerSubmit => "host-per-submit",
            crate::backend::ProfileClock::HostPerStep => "host-per-step",
        };
        let _ = Reflect::set(&result, &"clock".into(), &clock.into());
        let _ = Reflect::set(&result, &"steps".into(), &steps);
        Ok(result.into())
    }

    /// The `{ data: Float32Array, shape: number[] }` items of `inputs` as tensors, checked.
    fn tensors_from_js(&self, inputs: &Array) -> Result<Vec<Tensor>, JsError> {
        let mut tensors = Vec::with_capacity(inputs.length() as usize);
        let names = self.model.input_names();
        for (i, item) in inputs.iter().enumerate() {
            let name = names.get(i).cloned().unwrap_or_else(|| format!("#{i}"));
            let data = Reflect::get(&item, &"data".into())
                .ok()
                .and_then(|d| d.dyn_into::<Float32Array>().ok())
                .ok_or_else(|| {
                    JsError::new(&format!("input '{name}': data must be a Float32Array"))
                })?;
            let shape_js = Reflect::get(&item, &"shape".into())
                .ok()
                .filter(Array::is_array)
                .ok_or_else(|| {
                    JsError::new(&format!(
                        "input '{name}': shape must be an array of dimensions"
                    ))
                })?;
            let mut shape = Vec::new();
            for d in Array::from(&shape_js).iter() {
                match d.as_f64() {
                    Some(v) if v >= 0.0 && v.fract() == 0.0 && v <= u32::MAX as f64 => {
                        shape.push(v as usize)
                    }
                    Some(v) if v.fract() == 0.0 && v > u32::MAX as f64 => {
                        return Err(JsError::new(&format!(
                            "input '{name}': shape entry {v} is too large (at most {} in wasm32)",
                            u32::MAX
                        )))
                    }
                    _ => {
                        return Err(JsError::new(&format!(
                            "input '{name}': shape entries must be non-negative integers"
                        )))
                    }
                }
            }
            let t = Tensor::new(shape, data.to_vec())
                .map_err(|e| JsError::new(&format!("input '{name}': {e}")))?;
            tensors.push(t);
        }
        Ok(tensors)
    }

    /// The model summary as JSON text (see `ModelInfo`); with `shapes` (one array per input),
    /// also output shapes and FLOPs.
    #[wasm_bindgen(js_name = infoJson)]
    pub fn info_json(&self, shapes: Option<Array>) -> Result<String, JsError> {
        let shapes: Option<Vec<Vec<usize>>> = shapes.map(|a| {
            a.iter()
                .map(|s| {
                    Array::from(&s)
                        .iter()
                        .filter_map(|d| d.as_f64())
                        .map(|d| d as usize)
                        .collect()
                })
                .collect()
        });
        let info = self.model.info(shapes.as_deref()).map_err(js_err)?;
        Ok(info.to_json().to_string())
    }
}
