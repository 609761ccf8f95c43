// mxnet-web: worker mode (`Model.load(src, { worker: true })`, `Model.fromBytes(…, { worker: true })`).
//
// The model lives in a dedicated module Web Worker (pkg/worker-entry.js), one per model: the
// download, binding, WebGPU upload and every forward pass run there, so the page's main thread
// stays responsive. WorkerModel mirrors Model: `run`, `profile`, `warmup`, `info`, `dispose`, `backend`,
// `fallbackReason`, `precision`, `precisionNote`, `inputNames`, `outputCount`; `info()` resolves asynchronously (it is
// answered by the worker). Inputs are copied once into fresh buffers that are transferred to the
// worker; outputs are transferred back (no copy). `dispose()` ends the worker, which releases
// all of its memory.
//
// The worker is started with `new Worker(new URL("./worker-entry.js", import.meta.url),
// { type: "module" })`, the form Vite and webpack 5 recognise and bundle. When the package is
// served from another origin (a CDN), where browsers refuse a cross-origin worker script, it is
// started from a same-origin blob that imports the entry from there.

const PREFIX = "mxnet-web: ";
const DISPOSED_MESSAGE = `${PREFIX}this model was disposed`;

/** Loads a model in a new worker. `source` and options as `Model.load`. */
export async function loadInWorker(source, opts) {
  const { worker: _, signal, onProgress, fetch: fetchFn, ...options } = opts;
  checkCallbacks(signal, onProgress, fetchFn);
  return start(signal, (model) =>
    model.init({ op: "load", source: resolveSource(source), options, progress: onProgress !== undefined, proxyFetch: fetchFn !== undefined }, [], {
      onProgress,
      fetchFn,
      signal,
    }),
  );
}

/** Binds a model from bytes in a new worker. Arguments as `Model.fromBytes`. */
export async function fromBytesInWorker(symbolJson, paramsBytes, opts) {
  const { worker: _, signal, onProgress, fetch: __, ...options } = opts;
  checkCallbacks(signal, onProgress, undefined);
  const params = copyBytes(paramsBytes, "paramsBytes");
  const symbol = typeof symbolJson === "string" ? symbolJson : copyBytes(symbolJson, "symbolJson");
  const transfer = typeof symbol === "string" ? [params.buffer] : [params.buffer, symbol.buffer];
  return start(signal, (model) => model.init({ op: "fromBytes", symbolJson: symbol, paramsBytes: params, options }, transfer, {}));
}

/** Starts a worker, runs the first request; on failure or abort the worker is ended. */
async function start(signal, first) {
  if (signal?.aborted) throw abortError(signal);
  const worker = await spawn();
  if (signal?.aborted) {
    worker.terminate();
    throw abortError(signal);
  }
  const model = new WorkerModel(CONSTRUCT, worker);
  const onAbort = () => model.abortLoad(abortError(signal));
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await first(model);
    return model;
  } catch (err) {
    model.dispose();
    throw err;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

/** Starts the worker and waits for its "ready" message (the wasm glue and index.js imported). */
async function spawn() {
  if (typeof Worker !== "function") {
    throw new Error(`${PREFIX}worker mode needs Web Workers (a browser page); this environment has none`);
  }
  let worker;
  let blobUrl = null;
  try {
    worker = new Worker(new URL("./worker-entry.js", import.meta.url), { type: "module" });
  } catch (err) {
    if (err?.name !== "SecurityError") throw err;
    // The package is served from another origin: a same-origin module that imports the entry.
    const entry = import.meta.url.replace(/[^/]*$/, "worker-entry.js");
    blobUrl = URL.createObjectURL(new Blob([`import ${JSON.stringify(entry)};\n`], { type: "text/javascript" }));
    worker = new Worker(blobUrl, { type: "module" });
  }
  try {
    await new Promise((resolve, reject) => {
      const onMessage = (e) => {
        if (e.data?.ready) done(resolve);
      };
      const onError = (e) => {
        e.preventDefault?.();
        const detail = e.message ? `: ${e.message}` : " (the script failed to load: check that worker-entry.js is served as JavaScript)";
        done(() => reject(new Error(`${PREFIX}the model worker could not start${detail}`)));
      };
      const done = (then) => {
        worker.removeEventListener("message", onMessage);
        worker.removeEventListener("error", onError);
        then();
      };
      worker.addEventListener("message", onMessage);
      worker.addEventListener("error", onError);
    });
  } catch (err) {
    worker.terminate();
    throw err;
  } finally {
    if (blobUrl !== null) URL.revokeObjectURL(blobUrl);
  }
  return worker;
}

const CONSTRUCT = Symbol("mxnet-web.worker.construct");

/** A model running in a dedicated Web Worker (what `Model.load(src, { worker: true })` returns). */
export class WorkerModel {
  /** @type {Worker | null} */
  #worker;
  /** Requests awaiting their answer, by id: { resolve, reject, onProgress, fetchFn, signal }. */
  #pending = new Map();
  #nextId = 1;
  #disposed = false;
  #inputNames = Object.freeze([]);
  #outputCount = 0;
  #backend = "cpu";
  #fallbackReason = undefined;
  #precision = "f32";
  #precisionNote = undefined;
  #info = null;

  /** @private Use `Model.load(src, { worker: true })`. */
  constructor(token, worker) {
    if (token !== CONSTRUCT) throw new TypeError(`${PREFIX}use Model.load(src, { worker: true }) to create a worker model`);
    this.#worker = worker;
    worker.addEventListener("message", (e) => this.#onMessage(e.data));
    worker.addEventListener("error", (e) => {
      e.preventDefault?.();
      this.#fail(new Error(`${PREFIX}the model worker failed${e.message ? `: ${e.message}` : ""}`));
    });
    worker.addEventListener("messageerror", () => this.#fail(new Error(`${PREFIX}a message from the model worker could not be read`)));
  }

  /** @private The first request (load / fromBytes): fills in what the getters return. */
  async init(msg, transfer, hooks) {
    const value = await this.#request(msg, transfer, hooks);
    this.#inputNames = Object.freeze(value.inputNames);
    this.#outputCount = value.outputCount;
    this.#info = value.info;
  }

  /** @private Rejects the load in progress and ends the worker (a worker mid-bind cannot be interrupted). */
  abortLoad(err) {
    this.#fail(err);
    this.dispose();
  }

  /** `"cpu"` or `"webgpu"`: the backend that runs this model (in its worker). */
  get backend() {
    return this.#backend;
  }

  /** Why `backend: "auto"` did not pick WebGPU (undefined when it did or a backend was forced). */
  get fallbackReason() {
    return this.#fallbackReason;
  }

  /** `"f32"` or `"f16"`: the precision of the convolution and dense weights that run. */
  get precision() {
    return this.#precision;
  }

  /** Why the weights run in f32 although `precision: "f16"` was asked for (undefined otherwise). */
  get precisionNote() {
    return this.#precisionNote;
  }

  get inputNames() {
    return this.#inputNames;
  }

  get outputCount() {
    return this.#outputCount;
  }

  /** Runs a forward pass in the worker. Arguments and result as `Model.run`. */
  async run(inputs) {
    this.#live();
    const { value, transfer } = prepareInputs(inputs, this.#inputNames);
    return this.#request({ op: "run", inputs: value }, transfer);
  }

  /** Times each step of a forward pass in the worker (as `Model.profile`). */
  async profile(inputs) {
    this.#live();
    const { value, transfer } = prepareInputs(inputs, this.#inputNames);
    return this.#request({ op: "profile", inputs: value }, transfer);
  }

  /** Runs one forward pass on zeros of these input shapes (as `Model.warmup`). */
  async warmup(shapes) {
    this.#live();
    return this.#request({ op: "warmup", shapes });
  }

  /** The model summary (as `Model.info`), answered by the worker: a Promise. */
  async info(shapes) {
    this.#live();
    if (shapes === undefined || shapes === null) return structuredClone(this.#info);
    return this.#request({ op: "info", shapes });
  }

  /** Ends the worker, freeing all of the model's memory; runs in progress complete first. */
  dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    if (this.#pending.size === 0) this.#terminate();
  }

  #terminate() {
    this.#worker?.terminate();
    this.#worker = null;
  }

  #live() {
    if (this.#disposed) throw new Error(DISPOSED_MESSAGE);
  }

  #request(msg, transfer = [], hooks = {}) {
    return new Promise((resolve, reject) => {
      if (this.#worker === null) {
        reject(new Error(DISPOSED_MESSAGE));
        return;
      }
      const id = this.#nextId++;
      this.#pending.set(id, { resolve, reject, ...hooks });
      try {
        this.#worker.postMessage({ ...msg, id }, transfer);
      } catch (err) {
        this.#pending.delete(id);
        reject(err?.name === "DataCloneError" ? new TypeError(`${PREFIX}${msg.op}(): an argument cannot be sent to the worker (${err.message})`) : err);
      }
    });
  }

  #onMessage(msg) {
    const pending = this.#pending.get(msg?.id);
    if (pending === undefined) return;
    if (msg.progress !== undefined) {
      pending.onProgress?.(msg.progress);
      return;
    }
    if (msg.fetch !== undefined) {
      this.#proxyFetch(msg.fetch, pending);
      return;
    }
    this.#pending.delete(msg.id);
    if (msg.state) {
      this.#backend = msg.state.backend;
      this.#fallbackReason = msg.state.fallbackReason;
      this.#precision = msg.state.precision;
      this.#precisionNote = msg.state.precisionNote;
    }
    if (msg.ok) pending.resolve(msg.value);
    else pending.reject(toError(msg.error));
    if (this.#disposed && this.#pending.size === 0) this.#terminate();
  }

  /** Runs the user's fetch in the page for the worker; the body streams over when possible. */
  async #proxyFetch({ fetchId, url, headers }, { fetchFn, signal }) {
    const reply = (m, transfer) => this.#worker?.postMessage({ op: "fetched", fetchId, ...m }, transfer);
    let response;
    try {
      response = await fetchFn(url, headers ? { signal: signal ?? new AbortController().signal, headers } : { signal: signal ?? new AbortController().signal });
    } catch (err) {
      reply({ error: { name: err?.name ?? "Error", message: String(err?.message ?? err) } }, []);
      return;
    }
    const meta = { status: response.status, statusText: response.statusText, headers: [...response.headers] };
    try {
      if (response.body) {
        reply({ ...meta, body: response.body }, [response.body]);
        return;
      }
    } catch {
      // No transferable streams in this browser: send the whole body.
    }
    try {
      const body = await response.arrayBuffer();
      reply({ ...meta, body }, [body]);
    } catch (err) {
      reply({ error: { name: err?.name ?? "Error", message: String(err?.message ?? err) } }, []);
    }
  }

  /** Rejects every pending request (the worker died or the load was aborted). */
  #fail(err) {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(err);
    if (this.#disposed) this.#terminate();
  }
}

if (typeof Symbol.dispose === "symbol") {
  Object.defineProperty(WorkerModel.prototype, Symbol.dispose, {
    value: function dispose() {
      this.dispose();
    },
    writable: true,
    configurable: true,
  });
}

/** Copies each input's data into a fresh Float32Array whose buffer is transferred. */
function prepareInputs(inputs, names) {
  const transfer = [];
  const copy = (t) => {
    if (t === null || typeof t !== "object") return t;
    const d = t.data;
    const numeric = ArrayBuffer.isView(d) && !(d instanceof DataView) && !(typeof BigInt64Array === "function" && (d instanceof BigInt64Array || d instanceof BigUint64Array));
    if (!numeric && !Array.isArray(d)) return t;
    const data = d instanceof Float32Array ? d.slice() : Float32Array.from(d);
    transfer.push(data.buffer);
    return { data, shape: Array.isArray(t.shape) ? t.shape.slice() : t.shape };
  };
  let value;
  if (Array.isArray(inputs)) value = inputs.map(copy);
  else if (inputs !== null && typeof inputs === "object" && names.length === 1 && Array.isArray(inputs.shape) && inputs.data !== undefined) value = copy(inputs);
  else if (inputs !== null && typeof inputs === "object") value = Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, copy(t)]));
  else value = inputs;
  return { value, transfer };
}

/** Relative URLs resolve against the page, as without a worker. */
function resolveSource(source) {
  const base = globalThis.document?.baseURI ?? globalThis.location?.href;
  const abs = (u) => {
    try {
      return new URL(String(u), base).href;
    } catch {
      throw new TypeError(`${PREFIX}invalid URL '${u}'`);
    }
  };
  if (typeof source === "string" || source instanceof URL) return abs(source);
  if (source !== null && typeof source === "object" && source.symbol !== undefined && source.params !== undefined) {
    return { symbol: abs(source.symbol), params: abs(source.params) };
  }
  throw new TypeError(`${PREFIX}load() takes a URL prefix or { symbol: url, params: url }`);
}

function copyBytes(v, what) {
  if (v instanceof ArrayBuffer) return new Uint8Array(v.slice(0));
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice();
  throw new TypeError(`${PREFIX}${what} must be a Uint8Array or an ArrayBuffer`);
}

function checkCallbacks(signal, onProgress, fetchFn) {
  if (onProgress !== undefined && typeof onProgress !== "function") throw new TypeError(`${PREFIX}onProgress must be a function`);
  if (fetchFn !== undefined && typeof fetchFn !== "function") throw new TypeError(`${PREFIX}fetch must be a function`);
  if (signal !== undefined && (signal === null || typeof signal.aborted !== "boolean")) throw new TypeError(`${PREFIX}signal must be an AbortSignal`);
}

function abortError(signal) {
  const reason = signal.reason;
  if (reason instanceof Error || (reason !== null && typeof reason === "object" && typeof reason.name === "string")) return reason;
  return new DOMException(`${PREFIX}the load was aborted`, "AbortError");
}

function toError({ name, message }) {
  if (name === "AbortError") return new DOMException(message, "AbortError");
  const err = name === "TypeError" ? new TypeError(message) : name === "RangeError" ? new RangeError(message) : new Error(message);
  if (err.name !== name) err.name = name;
  return err;
}
