// mxnet-web: the Web Worker side of worker mode (`Model.load(src, { worker: true })`).
//
// pkg/worker.js starts one dedicated module worker per model from this file; here the model is
// downloaded, bound and run with the ordinary API (WebGPU where the worker has navigator.gpu,
// else the CPU backend), so none of that blocks the page. Protocol, one message per request:
//   page → worker  { id, op: "load" | "fromBytes" | "run" | "profile" | "info" | "warmup", ... }
//                  | { op: "fetched", fetchId, ... } (the answer to a custom fetch)
//   worker → page  { id, ok: true, value, state } | { id, ok: false, error: { name, message } }
//                  | { id, progress: event } | { id, fetch: { url, init } } (a custom fetch runs in the page)
// Output tensors go back as transferables (no copy). An aborted load or dispose() ends the worker
// from the page (terminate), so no cancellation message is needed.

import { Model } from "./index.js";

/** The model this worker runs (one per worker). */
let model = null;
/** Pending custom-fetch calls answered by the page, by fetch id. */
const fetches = new Map();
let nextFetch = 0;
/** The model's requests, chained. */
let queue = Promise.resolve();

self.addEventListener("message", (event) => {
  const msg = event.data;
  if (msg?.op === "fetched") {
    const pending = fetches.get(msg.fetchId);
    fetches.delete(msg.fetchId);
    if (pending === undefined) return;
    if (msg.error) pending.reject(toError(msg.error));
    else pending.resolve(new Response(msg.body, { status: msg.status, statusText: msg.statusText, headers: msg.headers }));
    return;
  }
  // Requests on the model run one after another (info() waits for a run in progress).
  const result = msg?.op === "load" || msg?.op === "fromBytes" ? handle(msg) : (queue = queue.then(() => handle(msg)));
  queue = queue.catch(() => {});
  result.then(
    ({ value, transfer = [] }) => self.postMessage({ id: msg.id, ok: true, value, state: state() }, transfer),
    (err) => self.postMessage({ id: msg.id, ok: false, error: fromError(err), state: state() }),
  );
});
self.postMessage({ ready: true });

async function handle(msg) {
  switch (msg.op) {
    case "load":
    case "fromBytes": {
      if (model !== null) throw new Error("mxnet-web: this worker already holds a model");
      const options = {
        ...msg.options,
        onProgress: msg.progress ? (e) => self.postMessage({ id: msg.id, progress: e }) : undefined,
        fetch: msg.proxyFetch ? (url, init) => pageFetch(msg.id, url, init) : undefined,
      };
      model =
        msg.op === "load"
          ? await Model.load(msg.source, options)
          : await Model.fromBytes(msg.symbolJson, msg.paramsBytes, options);
      return { value: { inputNames: [...model.inputNames], outputCount: model.outputCount, info: model.info() } };
    }
    case "run": {
      const outputs = await live().run(msg.inputs);
      const buffers = new Set(outputs.map((o) => o.data.buffer));
      return { value: outputs, transfer: [...buffers] };
    }
    case "profile":
      return { value: await live().profile(msg.inputs) };
    case "warmup":
      return { value: await live().warmup(msg.shapes) };
    case "info":
      return { value: live().info(msg.shapes) };
    default:
      throw new Error(`mxnet-web worker: unknown request ${String(msg?.op)}`);
  }
}

function live() {
  if (model === null) throw new Error("mxnet-web: this model was disposed");
  return model;
}

/** The backend fields the page mirrors after every request (auto may fall back at a run). */
function state() {
  return model === null
    ? null
    : {
        backend: model.backend,
        fallbackReason: model.fallbackReason,
        precision: model.precision,
        precisionNote: model.precisionNote,
      };
}

/** A custom fetch given to Model.load runs in the page; its response body streams back. */
function pageFetch(loadId, url, init) {
  const fetchId = nextFetch++;
  return new Promise((resolve, reject) => {
    fetches.set(fetchId, { resolve, reject });
    const headers = init?.headers ? [...new Headers(init.headers)] : undefined;
    self.postMessage({ id: loadId, fetch: { fetchId, url: String(url), headers } });
    init?.signal?.addEventListener("abort", () => {
      if (fetches.delete(fetchId)) reject(init.signal.reason);
    });
  });
}

/** Errors cross postMessage as { name, message } and are rebuilt as Errors on the other side. */
function fromError(err) {
  return { name: err?.name ?? "Error", message: String(err?.message ?? err) };
}

function toError({ name, message }) {
  const err = name === "AbortError" ? new DOMException(message, "AbortError") : new Error(message);
  if (name !== "AbortError" && name !== "Error") err.name = name;
  return err;
}
