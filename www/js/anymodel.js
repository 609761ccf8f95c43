// Section 3: load any MXNet model (URL prefix + epoch, explicit URLs, or local files) with a
// progress bar, show its summary (model.info), and run it on an image or on random input.

import { Model, WorkerModel, softmax, tensorFromImage, topK } from "../pkg/index.js";
import { decodeImage } from "./imageops.js";
import { $, fallbackNote, formatBytes, formatCount, formatMs, h, messageOf, nextFrame, showError, timed } from "./util.js";

const TOP_K = 5;

/** Parses "1,3,224,224" (several inputs: "1,3,32,32; 1,10") into shapes. */
export function parseShapes(text, count) {
  const parts = text.split(";").map((s) => s.trim()).filter(Boolean);
  if (parts.length !== count) {
    throw new Error(`give one shape per input (${count}), separated by ";" — got ${parts.length}: "${text}"`);
  }
  return parts.map((part) => {
    const dims = part.split(/[\s,x×]+/).filter(Boolean).map(Number);
    if (dims.length === 0 || dims.some((d) => !Number.isInteger(d) || d <= 0)) {
      throw new Error(`an input shape is positive integers separated by commas, like 1,3,224,224 — not "${part}"`);
    }
    return dims;
  });
}

/** Parses "123.7, 116.3, 103.5" (one value or one per channel). */
function parseNumbers(text, what) {
  const values = text.split(/[\s,]+/).filter(Boolean).map(Number);
  if (values.length === 0 || values.some((v) => !Number.isFinite(v))) {
    throw new Error(`${what} must be one number or one per channel, separated by commas — not "${text}"`);
  }
  return values;
}

export class AnyModelDemo {
  constructor(root) {
    this.root = root;
    const q = (s) => $(s, root);
    this.el = {
      form: q("#any-form"),
      sources: root.querySelectorAll('input[name="any-source"]'),
      prefix: q("#any-prefix"),
      epoch: q("#any-epoch"),
      symbol: q("#any-symbol"),
      params: q("#any-params"),
      symbolFile: q("#any-symbol-file"),
      paramsFile: q("#any-params-file"),
      inputs: q("#any-inputs"),
      shape: q("#any-shape"),
      backend: q("#any-backend"),
      worker: q("#any-worker"),
      cache: q("#any-cache"),
      load: q("#any-load"),
      cancel: q("#any-cancel"),
      progress: q("#any-progress"),
      progressText: q("#any-progress-text"),
      summary: q("#any-summary"),
      runForm: q("#any-run"),
      runSources: root.querySelectorAll('input[name="any-input"]'),
      image: q("#any-image"),
      fit: q("#any-fit"),
      order: q("#any-order"),
      mean: q("#any-mean"),
      std: q("#any-std"),
      outputs: q("#any-outputs"),
      error: q("#any-error"),
    };
    this.model = null;
    this.shapes = null;
    this.controller = null;
    /** Every progress event of the last load, for tests: { file, loaded, total }. */
    this.progressEvents = [];
    /** The last run's outputs, for tests: [{ shape, top: [{ index, value }] }]. */
    this.last = null;
    for (const input of this.el.sources) input.addEventListener("change", () => this.#showSource());
    this.#showSource();
    this.el.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.load().catch(() => {});
    });
    this.el.cancel.addEventListener("click", () => this.controller?.abort());
    this.el.runForm.addEventListener("submit", (e) => {
      e.preventDefault();
      this.run().catch(() => {});
    });
    for (const button of root.querySelectorAll("[data-example]")) {
      button.addEventListener("click", () => this.fillExample(JSON.parse(button.dataset.example)));
    }
  }

  get source() {
    return [...this.el.sources].find((i) => i.checked)?.value ?? "prefix";
  }

  #showSource() {
    for (const block of this.root.querySelectorAll("[data-source]")) block.hidden = block.dataset.source !== this.source;
  }

  /** Fills the form: { prefix, epoch, symbol, params, inputs, shape }. */
  fillExample(example) {
    const source = example.prefix !== undefined ? "prefix" : "urls";
    for (const input of this.el.sources) input.checked = input.value === source;
    this.#showSource();
    if (example.prefix !== undefined) {
      this.el.prefix.value = example.prefix;
      this.el.epoch.value = String(example.epoch ?? 0);
    } else {
      this.el.symbol.value = example.symbol;
      this.el.params.value = example.params;
    }
    this.el.inputs.value = example.inputs ?? "data";
    this.el.shape.value = example.shape;
    if (example.order) this.el.order.value = example.order;
    if (example.mean) this.el.mean.value = example.mean;
    if (example.std) this.el.std.value = example.std;
  }

  /** Loads the model the form describes. */
  async load() {
    showError(this.el.error, null);
    this.el.summary.hidden = true;
    this.el.runForm.hidden = true;
    this.el.outputs.replaceChildren();
    this.last = null;
    this.progressEvents = [];
    const progress = { symbol: { loaded: 0, total: undefined }, params: { loaded: 0, total: undefined } };
    this.#renderProgress(progress, false);
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.el.load.disabled = true;
    this.el.cancel.disabled = false;
    try {
      const inputs = this.el.inputs.value.split(",").map((s) => s.trim()).filter(Boolean);
      if (inputs.length === 0) throw new Error("name the model's data input(s), e.g. data");
      const shapes = parseShapes(this.el.shape.value, inputs.length);
      const backend = this.el.backend.value;
      const worker = this.el.worker.checked;
      const options = {
        backend,
        inputs,
        worker,
        cache: this.el.cache.checked,
        signal: controller.signal,
        onProgress: (e) => {
          this.progressEvents.push({ file: e.file, loaded: e.loaded, total: e.total });
          progress[e.file] = { loaded: e.loaded, total: e.total };
          this.#renderProgress(progress, false);
        },
      };
      let model;
      let loadMs;
      const source = this.source;
      if (source === "files") {
        const symbolFile = this.el.symbolFile.files?.[0];
        const paramsFile = this.el.paramsFile.files?.[0];
        if (!symbolFile || !paramsFile) throw new Error("choose both a symbol file (.json) and a params file (.params)");
        [model, loadMs] = await timed(async () => {
          const [text, bytes] = await Promise.all([symbolFile.text(), paramsFile.arrayBuffer()]);
          progress.symbol = { loaded: symbolFile.size, total: symbolFile.size };
          progress.params = { loaded: paramsFile.size, total: paramsFile.size };
          return Model.fromBytes(text, bytes, { backend, inputs, worker, symbolName: symbolFile.name, paramsName: paramsFile.name });
        });
      } else {
        let target;
        if (source === "prefix") {
          const prefix = this.el.prefix.value.trim();
          if (!prefix) throw new Error("enter a URL prefix, e.g. models/digits_cnn (for models/digits_cnn-symbol.json and -0000.params)");
          const epoch = Number(this.el.epoch.value || 0);
          if (!Number.isInteger(epoch) || epoch < 0) throw new Error(`the epoch is a whole number ≥ 0, not "${this.el.epoch.value}"`);
          target = prefix;
          options.epoch = epoch;
        } else {
          const symbol = this.el.symbol.value.trim();
          const params = this.el.params.value.trim();
          if (!symbol || !params) throw new Error("enter both the symbol URL and the params URL");
          target = { symbol, params };
        }
        [model, loadMs] = await timed(() => Model.load(target, options));
      }
      this.#renderProgress(progress, true);
      this.model?.dispose();
      this.model = model;
      this.shapes = Object.fromEntries(inputs.map((name, i) => [name, shapes[i]]));
      await this.#renderSummary(loadMs);
      this.el.runForm.hidden = false;
      return model;
    } catch (err) {
      this.#renderProgress(progress, false, true);
      const message = err?.name === "AbortError" ? new Error("the load was cancelled") : err;
      showError(this.el.error, message, "loading the model");
      throw err;
    } finally {
      if (this.controller === controller) this.controller = null;
      this.el.load.disabled = false;
      this.el.cancel.disabled = true;
    }
  }

  /** Both files' bytes in one bar: determinate when both sizes are known. */
  #renderProgress(progress, done, failed = false) {
    const bar = this.el.progress;
    const { symbol, params } = progress;
    const known = symbol.total !== undefined && params.total !== undefined;
    if (done) {
      bar.max = 1;
      bar.value = 1;
    } else if (known) {
      bar.max = Math.max(1, symbol.total + params.total);
      bar.value = symbol.loaded + params.loaded;
    } else if (failed) {
      bar.max = 1;
      bar.value = 0;
    } else {
      bar.removeAttribute("value"); // indeterminate
    }
    bar.dataset.state = done ? "done" : failed ? "failed" : "loading";
    const part = (name, p) => `${name} ${formatBytes(p.loaded)}${p.total !== undefined ? ` of ${formatBytes(p.total)}` : ""}`;
    this.el.progressText.textContent =
      `${part("symbol", symbol)} · ${part("params", params)}` + (done ? " · done" : failed ? " · failed" : "");
  }

  async #renderSummary(loadMs) {
    const model = this.model;
    let info;
    let shapeError = null;
    try {
      // A worker model answers info() with a Promise; awaiting a main-thread model's value is harmless.
      info = await model.info(this.shapes);
    } catch (err) {
      shapeError = err;
      info = await model.info();
    }
    const shapeText = (s) => (s.shape ? `[${s.shape.join(", ")}]` : "?");
    const ops = Object.entries(info.opCounts).sort((a, b) => b[1] - a[1]);
    const table = (head, rows) =>
      h("table", {}, h("thead", {}, h("tr", {}, ...head.map((c) => h("th", {}, c)))), h("tbody", {}, ...rows.map((r) => h("tr", {}, ...r.map((c) => h("td", {}, c))))));
    this.el.summary.replaceChildren(
      h("h3", {}, "Model summary"),
      h(
        "p",
        { class: "model-status" },
        "Backend ",
        h("span", { class: `backend backend-${model.backend}`, "data-backend": model.backend }, model.backend),
        fallbackNote(model),
        ` · loaded in ${formatMs(loadMs)}${model instanceof WorkerModel ? " in a Web Worker" : ""} · written by MXNet ${info.mxnetVersion}`,
      ),
      h("p", { class: "warning", hidden: !shapeError }, shapeError ? `These input shapes do not fit the model: ${messageOf(shapeError)}` : ""),
      h(
        "div",
        { class: "summary-grid" },
        h("div", {}, h("h4", {}, "Inputs"), table(["name", "shape"], info.inputs.map((i) => [i.name, shapeText(i)]))),
        h("div", {}, h("h4", {}, "Outputs"), table(["name", "shape"], info.outputs.map((o) => [o.name, shapeText(o)]))),
        h(
          "div",
          {},
          h("h4", {}, "Size"),
          table(
            ["", ""],
            [
              ["parameters", `${formatCount(info.paramCount)} (${info.params.length} arrays)`],
              ["params file", formatBytes(info.paramBytes)],
              ["FLOPs / forward", info.flops === null ? "?" : formatCount(info.flops)],
            ],
          ),
        ),
        h("div", {}, h("h4", {}, "Operators"), table(["op", "nodes"], ops.map(([op, n]) => [op, String(n)]))),
      ),
      h(
        "details",
        {},
        h("summary", {}, `All ${info.params.length} parameters`),
        table(["name", "shape", "dtype", "role"], info.params.map((p) => [p.name, `[${p.shape.join(", ")}]`, p.dtype, p.role])),
      ),
    );
    this.el.summary.hidden = false;
  }

  /** Runs the loaded model on the chosen input; shows the top outputs and the latency. */
  async run() {
    showError(this.el.error, null);
    const model = this.model;
    if (!model) return null;
    try {
      const useImage = [...this.el.runSources].find((i) => i.checked)?.value === "image";
      const names = model.inputNames;
      const inputs = {};
      let note = "random normal input";
      for (const [i, name] of names.entries()) {
        const shape = this.shapes[name];
        const size = shape.reduce((a, b) => a * b, 1);
        if (useImage && i === 0) {
          inputs[name] = { data: await this.#imageTensor(shape), shape };
          note = `image ${this.el.image.files[0].name}`;
        } else {
          inputs[name] = { data: randomNormal(size), shape };
        }
      }
      this.el.outputs.replaceChildren(h("p", {}, "Running…"));
      await nextFrame();
      const [outputs, ms] = await timed(() => model.run(inputs));
      this.last = outputs.map((o) => ({ shape: o.shape, top: topK(firstItem(o), TOP_K) }));
      this.#renderOutputs(outputs, ms, note);
      return this.last;
    } catch (err) {
      this.el.outputs.replaceChildren();
      showError(this.el.error, err, "running the model");
      throw err;
    }
  }

  /** The chosen image as an NCHW tensor of `shape` ([N, 1 or 3, H, W]), with the form's options. */
  async #imageTensor(shape) {
    const file = this.el.image.files?.[0];
    if (!file) throw new Error("choose an image file, or pick random input");
    if (shape.length !== 4 || (shape[1] !== 1 && shape[1] !== 3)) {
      throw new Error(`an image needs an input of shape [N, 1 or 3, H, W]; this input is [${shape.join(", ")}]`);
    }
    const [n, c, height, width] = shape;
    const image = await decodeImage(file, { maxSide: 4096 });
    const mean = parseNumbers(this.el.mean.value, "the mean");
    const std = parseNumbers(this.el.std.value, "the standard deviation");
    if (std.some((s) => s === 0)) throw new Error("the standard deviation must not be 0");
    const perChannel = (v) => (v.length === 1 ? v[0] : v);
    // "crop" ("cover"): the largest centred region with the input's aspect ratio, so nothing is stretched.
    const { data: one } = tensorFromImage(image, {
      size: [height, width],
      mean: perChannel(mean),
      std: perChannel(std),
      scale: 1,
      channels: c === 1 ? "gray" : this.el.order.value.toUpperCase(),
      resize: this.el.fit.value === "crop" ? "cover" : "stretch",
    });
    const data = new Float32Array(n * one.length);
    for (let i = 0; i < n; i++) data.set(one, i * one.length);
    return data;
  }

  #renderOutputs(outputs, ms, note) {
    const blocks = outputs.map((o, i) => {
      const values = firstItem(o);
      const top = topK(values, TOP_K);
      const isDistribution = values.every((v) => v >= 0) && Math.abs(values.reduce((a, b) => a + b, 0) - 1) < 1e-3;
      const probs = isDistribution ? null : softmax(values);
      return h(
        "div",
        { class: "output-head" },
        h("h4", {}, `Output ${i}: shape [${o.shape.join(", ")}]`, o.shape[0] > 1 ? " (first item)" : ""),
        h(
          "table",
          {},
          h("thead", {}, h("tr", {}, h("th", {}, "rank"), h("th", {}, "index"), h("th", {}, "value"), probs ? h("th", {}, "softmax") : null)),
          h(
            "tbody",
            {},
            ...top.map((t, r) =>
              h(
                "tr",
                {},
                h("td", {}, String(r + 1)),
                h("td", {}, String(t.index)),
                h("td", {}, t.value.toPrecision(5)),
                probs ? h("td", {}, `${(probs[t.index] * 100).toFixed(2)}%`) : null,
              ),
            ),
          ),
        ),
      );
    });
    this.el.outputs.replaceChildren(
      h("p", { class: "model-status" }, `Forward pass on ${note}: ${formatMs(ms)} on ${this.model.backend}.`),
      ...blocks,
    );
  }
}

/** The values of the first batch item of an output (all of it for a 1-D output). */
function firstItem(tensor) {
  const n = tensor.shape.length > 1 ? tensor.shape[0] : 1;
  return tensor.data.subarray(0, tensor.data.length / Math.max(1, n));
}

/** Standard normal samples (Box–Muller). */
function randomNormal(n) {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - Math.random();
    const v = Math.random();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}
