// The demo page: wires the three sections to the backend choice and reports the environment.
// `window.demo` exposes the sections (and `ready`, a promise) for the console and the tests.

import init, { threads, wasmMemoryBytes } from "../pkg/index.js";
import { AnyModelDemo } from "./anymodel.js";
import { DigitsDemo } from "./digits.js";
import { EmbeddingsDemo } from "./embeddings.js";
import { FacesDemo } from "./faces.js";
import { $, formatBytes, formatMs, messageOf, showError, timed } from "./util.js";

const BACKENDS = ["auto", "webgpu", "cpu"];

const globalError = $("#global-error");
window.addEventListener("error", (e) => showError(globalError, e.error ?? e.message, "unexpected error"));
window.addEventListener("unhandledrejection", (e) => showError(globalError, e.reason, "unexpected error"));

/** What this browser offers: WebGPU (with an adapter?) and the wasm module's start time. */
async function describeEnvironment() {
  const parts = [];
  if (!("gpu" in navigator)) {
    parts.push("WebGPU: not available in this browser");
  } else {
    let adapter = null;
    try {
      adapter = await navigator.gpu.requestAdapter();
    } catch (err) {
      parts.push(`WebGPU: requestAdapter failed (${messageOf(err)})`);
    }
    if (adapter) {
      const info = adapter.info ?? (await adapter.requestAdapterInfo?.().catch(() => null)) ?? {};
      const name = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(" ");
      parts.push(`WebGPU: adapter available${name ? ` (${name})` : ""}`);
    } else if (parts.length === 0) {
      parts.push("WebGPU: navigator.gpu exists but no adapter (disabled or no supported GPU)");
    }
  }
  const [, ms] = await timed(() => init());
  parts.push(
    `WebAssembly module started in ${formatMs(ms)} (${formatBytes(wasmMemoryBytes())} of memory, ` +
      `CPU backend on ${threads()} thread${threads() === 1 ? "" : "s"}${self.crossOriginIsolated ? "" : ": the page is not cross-origin isolated"})`,
  );
  return parts.join(" · ");
}

async function main() {
  const select = $("#backend");
  const requested = new URLSearchParams(location.search).get("backend");
  if (requested && BACKENDS.includes(requested)) select.value = requested;
  $("#any-backend").value = select.value;

  const digits = new DigitsDemo($("#digits"));
  const faces = new FacesDemo($("#faces"));
  const embeddings = new EmbeddingsDemo($("#embeddings"), () => faces.detector);
  const any = new AnyModelDemo($("#any"));
  const demo = { digits, faces, embeddings, any, state: "loading", ready: null };
  window.demo = demo;

  $("#environment").textContent = await describeEnvironment().catch((err) => `environment: ${messageOf(err)}`);

  /**
   * Loads the digit and face models on the chosen backend (again, when the choice changes), one
   * section after the other: the first is usable sooner, and two sections never compete for
   * the CPU (or the GPU) while they start.
   */
  const loadAll = async () => {
    const backend = select.value;
    document.body.dataset.state = demo.state = "loading";
    select.disabled = true;
    // Each section shows its own errors; here only whether all went well matters.
    const succeeded = (promise) => promise.then(() => true, () => false);
    const digitsOk = await succeeded(digits.load(backend));
    const facesOk = await succeeded(faces.load(backend).then(() => (faces.image ? faces.detect() : faces.useBundled())));
    const embeddingsOk = await succeeded(embeddings.load(backend));
    select.disabled = false;
    document.body.dataset.state = demo.state = digitsOk && facesOk && embeddingsOk ? "ready" : "error";
  };
  select.addEventListener("change", () => {
    $("#any-backend").value = select.value;
    demo.ready = loadAll();
  });
  demo.ready = loadAll();
  await demo.ready;
}

main().catch((err) => {
  document.body.dataset.state = "error";
  showError(globalError, err, "the demo could not start");
});
