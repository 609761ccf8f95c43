// Section 1: draw a digit → class probabilities (digits_cnn) and an embedding (digits_embed):
// its nearest neighbours among 200 held-out reference digits, and a 2-D PCA map of the
// reference embeddings with the drawing placed among them.
//
// The models were trained by scripts/train_digits.py on scikit-learn's 8x8 digits, whose images
// are 32x32 binary bitmaps of ink (height-normalised, aspect kept, centred) counted in 4x4
// blocks (0..16). A drawing goes through the same steps here (`digitFromStrokes`), then the same
// 2x bilinear upsampling as in training (`upsample16`): input (1, 1, 16, 16).

import { Model } from "../pkg/index.js";
import { $, formatMs, h, modelStatus, showError, timed } from "./util.js";

const MODELS = "models";
/** Distinct colours for the ten classes (Tableau 10). */
const CLASS_COLOURS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#7f7f7f"];
const NEIGHBOURS = 5;

// ---------------------------------------------------------------------------------------------
// Preprocessing (pure functions)
// ---------------------------------------------------------------------------------------------

/**
 * Pen width in the 32x32 bitmap: the NIST writers' strokes are about a fifth of the digit's
 * height (in 8x8, a stroke covers about one and a half blocks). Chosen so that a plain vertical
 * line reads as a 1 (thinner pens make it look like the narrow middle of an 8).
 */
const PEN = 6;

/**
 * Turns strokes (arrays of [x, y] points in any units) into an 8x8 image of ink counts 0..16,
 * as the optdigits images were made: the drawing is scaled so that its height fills a 32x32
 * bitmap (keeping its aspect ratio; wide drawings fill the width instead), centred, rendered
 * with a round pen, thresholded to black and white, and its ink counted in 4x4 blocks.
 * @returns {Float32Array | null} 64 values, row-major; null for an empty drawing
 */
export function digitFromStrokes(strokes) {
  const points = strokes.flat();
  if (points.length === 0) return null;
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const [x, y] of points) {
    minX = Math.min(minX, x);
    maxX = Math.max(maxX, x);
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  }
  const box = 32 - PEN; // the pen's centre line stays inside, so the ink touches the edges
  const scale = box / Math.max(maxY - minY, maxX - minX, 1e-3);
  const cx = (minX + maxX) / 2;
  const cy = (minY + maxY) / 2;
  const canvas = document.createElement("canvas");
  canvas.width = 32;
  canvas.height = 32;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, 32, 32);
  ctx.strokeStyle = ctx.fillStyle = "#fff";
  ctx.lineWidth = PEN;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  const map = ([x, y]) => [16 + (x - cx) * scale, 16 + (y - cy) * scale];
  for (const stroke of strokes) {
    if (stroke.length === 0) continue;
    const [x0, y0] = map(stroke[0]);
    if (stroke.length === 1) {
      ctx.beginPath();
      ctx.arc(x0, y0, PEN / 2, 0, 2 * Math.PI);
      ctx.fill();
      continue;
    }
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    for (const p of stroke.slice(1)) ctx.lineTo(...map(p));
    ctx.stroke();
  }
  const pixels = ctx.getImageData(0, 0, 32, 32).data;
  const counts = new Float32Array(64);
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 32; x++) {
      if (pixels[(y * 32 + x) * 4] >= 128) counts[(y >> 2) * 8 + (x >> 2)] += 1;
    }
  }
  return counts;
}

/**
 * 8x8 ink counts 0..16 → the model input: values / 16, upsampled 2x bilinearly with half-pixel
 * centres and edge clamping (exactly as scripts/train_digits.py's upsample16).
 * @returns {Float32Array} 256 values (16x16, row-major)
 */
export function upsample16(image8) {
  const taps = [];
  for (let o = 0; o < 16; o++) {
    const s = (o + 0.5) / 2 - 0.5;
    let lo = Math.floor(s);
    let frac = s - lo;
    if (s < 0) {
      lo = 0;
      frac = 0;
    }
    taps.push([Math.min(lo, 7), Math.min(lo + 1, 7), frac]);
  }
  const out = new Float32Array(256);
  for (let r = 0; r < 16; r++) {
    const [r0, r1, fr] = taps[r];
    for (let c = 0; c < 16; c++) {
      const [c0, c1, fc] = taps[c];
      const top = image8[r0 * 8 + c0] * (1 - fc) + image8[r0 * 8 + c1] * fc;
      const bottom = image8[r1 * 8 + c0] * (1 - fc) + image8[r1 * 8 + c1] * fc;
      out[r * 16 + c] = (top * (1 - fr) + bottom * fr) / 16;
    }
  }
  return out;
}

/**
 * The top two principal axes of row vectors (n x d, row-major) by power iteration with
 * deflation: `{ mean, axes: [pc1, pc2], project(v) → [x, y] }`.
 */
export function pca2(rows, n, d) {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) mean[k] += rows[i * d + k] / n;
  const cov = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < d; a++) {
      const va = rows[i * d + a] - mean[a];
      for (let b = 0; b < d; b++) cov[a * d + b] += (va * (rows[i * d + b] - mean[b])) / n;
    }
  }
  const axes = [];
  for (let component = 0; component < 2; component++) {
    // A fixed start vector keeps the picture the same from one load to the next.
    let v = Float64Array.from({ length: d }, (_, k) => 1 + k / d);
    for (let iter = 0; iter < 200; iter++) {
      const next = new Float64Array(d);
      for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) next[a] += cov[a * d + b] * v[b];
      const norm = Math.hypot(...next) || 1;
      v = next.map((x) => x / norm);
    }
    let eigen = 0;
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) eigen += v[a] * cov[a * d + b] * v[b];
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) cov[a * d + b] -= eigen * v[a] * v[b];
    axes.push(v);
  }
  const project = (vec) =>
    axes.map((axis) => {
      let s = 0;
      for (let k = 0; k < d; k++) s += (vec[k] - mean[k]) * axis[k];
      return s;
    });
  return { mean, axes, project };
}

// ---------------------------------------------------------------------------------------------
// Drawing pad
// ---------------------------------------------------------------------------------------------

/** A canvas to draw on with a mouse, pen or finger; keeps the strokes as point lists. */
class DrawingPad {
  constructor(canvas, onChange) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.strokes = [];
    this.onChange = onChange;
    this.drawing = false;
    this.pending = false;
    canvas.addEventListener("pointerdown", (e) => this.#down(e));
    canvas.addEventListener("pointermove", (e) => this.#move(e));
    for (const type of ["pointerup", "pointercancel"]) canvas.addEventListener(type, (e) => this.#up(e));
    this.clear();
  }

  clear() {
    this.strokes = [];
    const { ctx, canvas } = this;
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    this.onChange?.();
  }

  #point(e) {
    const r = this.canvas.getBoundingClientRect();
    return [((e.clientX - r.left) * this.canvas.width) / r.width, ((e.clientY - r.top) * this.canvas.height) / r.height];
  }

  #down(e) {
    e.preventDefault();
    this.canvas.setPointerCapture?.(e.pointerId);
    this.drawing = true;
    const p = this.#point(e);
    this.strokes.push([p]);
    const { ctx } = this;
    ctx.fillStyle = "#111";
    ctx.beginPath();
    ctx.arc(p[0], p[1], 9, 0, 2 * Math.PI);
    ctx.fill();
  }

  #move(e) {
    if (!this.drawing) return;
    const stroke = this.strokes.at(-1);
    const p = this.#point(e);
    const last = stroke.at(-1);
    if (Math.hypot(p[0] - last[0], p[1] - last[1]) < 1) return;
    stroke.push(p);
    const { ctx } = this;
    ctx.strokeStyle = "#111";
    ctx.lineWidth = 18;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(...last);
    ctx.lineTo(...p);
    ctx.stroke();
    // Live predictions, at most one per frame.
    if (!this.pending) {
      this.pending = true;
      requestAnimationFrame(() => {
        this.pending = false;
        this.onChange?.();
      });
    }
  }

  #up() {
    if (!this.drawing) return;
    this.drawing = false;
    this.onChange?.();
  }
}

// ---------------------------------------------------------------------------------------------
// The section
// ---------------------------------------------------------------------------------------------

export class DigitsDemo {
  constructor(root) {
    this.root = root;
    this.el = {
      pad: $("#digit-pad", root),
      clear: $("#digit-clear", root),
      preview8: $("#digit-preview8", root),
      preview16: $("#digit-preview16", root),
      bars: $("#digit-bars", root),
      prediction: $("#digit-prediction", root),
      neighbours: $("#digit-neighbours", root),
      pca: $("#digit-pca", root),
      legend: $("#digit-legend", root),
      models: $("#digit-models", root),
      reference: $("#digit-reference", root),
      latency: $("#digit-latency", root),
      embedChoice: root.querySelectorAll('input[name="digit-embed"]'),
      error: $("#digit-error", root),
    };
    this.models = null;
    this.reference = null;
    /** The last prediction, for tests and the console: { digit, probs, neighbours }. */
    this.last = null;
    this.busy = Promise.resolve();
    this.dirty = false;
    this.pad = new DrawingPad(this.el.pad, () => this.#schedule());
    this.el.clear.addEventListener("click", () => this.pad.clear());
    for (const input of this.el.embedChoice) input.addEventListener("change", () => this.#embeddingChanged());
    this.#drawLegend();
    this.#renderBars(null);
  }

  /** Which embedding files feed the neighbours and the map: "export" or "old". */
  get embedChoice() {
    return [...this.el.embedChoice].find((i) => i.checked)?.value ?? "export";
  }

  /** (Re)loads the three models on a backend and embeds the reference set. */
  async load(backend) {
    showError(this.el.error, null);
    this.el.models.replaceChildren(h("li", {}, `loading the digit models (backend: ${backend})…`));
    try {
      this.reference ??= await fetchReference(`${MODELS}/digits_ref.json`);
      const sources = {
        cnn: [`${MODELS}/digits_cnn`, "digits_cnn (Gluon export)"],
        embed: [`${MODELS}/digits_embed`, "digits_embed (Gluon export)"],
        old: [
          { symbol: `${MODELS}/digits_embed_old.json`, params: `${MODELS}/digits_embed_old.params` },
          "digits_embed_old (tojson + save_params)",
        ],
      };
      // One after another (see mtcnn.js: the WebGPU backend cannot yet take concurrent loads).
      const models = {};
      try {
        for (const [key, [source]] of Object.entries(sources)) {
          const [model, loadMs] = await timed(() => Model.load(source, { backend }));
          models[key] = { model, loadMs };
        }
      } catch (err) {
        for (const { model } of Object.values(models)) model.dispose();
        throw err;
      }
      this.dispose();
      this.models = models;
      await this.#embedReference();
      this.el.models.replaceChildren(
        ...Object.entries(sources).map(([key, [, label]]) => {
          const { model, loadMs } = this.models[key];
          const shapes = model.info({ data: [1, 1, 16, 16] });
          return modelStatus(label, model, loadMs, `${formatFlops(shapes.flops)} per digit`);
        }),
      );
      this.#schedule();
      await this.busy;
    } catch (err) {
      this.el.models.replaceChildren();
      showError(this.el.error, err, "loading the digit models");
      throw err;
    }
  }

  dispose() {
    if (!this.models) return;
    for (const { model } of Object.values(this.models)) model.dispose();
    this.models = null;
  }

  /** Embeds the 200 reference digits with both embedding files; checks them against MXNet's. */
  async #embedReference() {
    const ref = this.reference;
    const n = ref.labels.length;
    const batch = new Float32Array(n * 256);
    ref.images.forEach((img, i) => batch.set(upsample16(img), i * 256));
    const input = { data: batch, shape: [n, 1, 16, 16] };
    const [[probs], [embedNew], [embedOld]] = [
      await this.models.cnn.model.run(input),
      await this.models.embed.model.run(input),
      await this.models.old.model.run(input),
    ];
    const dim = embedNew.shape[1];
    let agree = 0;
    let correct = 0;
    for (let i = 0; i < n; i++) {
      const predicted = argmax(probs.data.subarray(i * 10, i * 10 + 10));
      agree += predicted === ref.mxnetPred[i];
      correct += predicted === ref.labels[i];
    }
    let vsMxnet = 0;
    let newVsOld = 0;
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < dim; k++) {
        vsMxnet = Math.max(vsMxnet, Math.abs(embedNew.data[i * dim + k] - ref.mxnetEmbed[i][k]));
        newVsOld = Math.max(newVsOld, Math.abs(embedNew.data[i * dim + k] - embedOld.data[i * dim + k]));
      }
    }
    this.refEmbeddings = { export: embedNew.data, old: embedOld.data, dim };
    this.refCheck = { n, agree, correct, vsMxnet, newVsOld };
    this.el.reference.textContent =
      `Reference set: ${n} held-out digits. The classifier gets ${correct}/${n} right and agrees with ` +
      `MXNet 1.9.1 on ${agree}/${n}; embeddings are within ${vsMxnet.toExponential(1)} of MXNet's ` +
      `(which rounds them to 1e-5); the export() and the tojson + save_params files give ` +
      (newVsOld === 0 ? "identical embeddings." : `embeddings within ${newVsOld.toExponential(1)} of each other.`);
    this.#fitMap();
  }

  #embeddingChanged() {
    if (!this.refEmbeddings) return;
    this.#fitMap();
    this.#schedule();
  }

  /** PCA of the chosen reference embeddings and the projected reference points. */
  #fitMap() {
    const { dim } = this.refEmbeddings;
    const rows = this.refEmbeddings[this.embedChoice];
    const n = this.reference.labels.length;
    const pca = pca2(rows, n, dim);
    const points = [];
    for (let i = 0; i < n; i++) points.push(pca.project(rows.subarray(i * dim, (i + 1) * dim)));
    this.map = { pca, points };
  }

  /** Resolves to the last prediction once every queued update has run (for tests). */
  async settled() {
    let pending;
    do {
      pending = this.busy;
      await pending;
    } while (pending !== this.busy);
    return this.last;
  }

  /** Queues a prediction; coalesces requests that arrive while one runs. */
  #schedule() {
    if (!this.models) return;
    if (this.dirty) return;
    this.dirty = true;
    this.busy = this.busy.then(() => {
      this.dirty = false;
      return this.#update();
    });
  }

  async #update() {
    if (!this.models) return;
    try {
      const image8 = digitFromStrokes(this.pad.strokes);
      drawGrey(this.el.preview8, image8 ?? new Float32Array(64), 8, 16);
      const input = image8 ? upsample16(image8) : null;
      drawGrey(this.el.preview16, input ?? new Float32Array(256), 16, 1);
      if (!input) {
        this.last = null;
        this.#renderBars(null);
        this.el.prediction.textContent = "Draw a digit (0–9) in the box.";
        this.el.prediction.dataset.digit = "";
        this.el.neighbours.replaceChildren();
        this.el.latency.textContent = "";
        this.#drawMap(null, []);
        return;
      }
      const tensor = { data: input, shape: [1, 1, 16, 16] };
      const embedModel = this.embedChoice === "old" ? this.models.old.model : this.models.embed.model;
      const [[probs], cnnMs] = await timed(() => this.models.cnn.model.run(tensor));
      const [[embedding], embedMs] = await timed(() => embedModel.run(tensor));
      const p = probs.data;
      const digit = argmax(p);
      const neighbours = this.#nearest(embedding.data, NEIGHBOURS);
      this.last = { digit, probability: p[digit], probs: Array.from(p), neighbours };
      this.#renderBars(p);
      this.el.prediction.textContent = `Prediction: ${digit} (${(p[digit] * 100).toFixed(1)}%)`;
      this.el.prediction.dataset.digit = String(digit);
      this.#renderNeighbours(neighbours);
      this.#drawMap(this.map.pca.project(embedding.data), neighbours);
      this.el.latency.textContent =
        `Forward pass: classifier ${formatMs(cnnMs)} (${this.models.cnn.model.backend}), ` +
        `embedding ${formatMs(embedMs)} (${embedModel.backend}).`;
    } catch (err) {
      showError(this.el.error, err, "running the digit models");
    }
  }

  /** The k reference digits with the most similar embeddings (cosine = dot: unit vectors). */
  #nearest(embedding, k) {
    const { dim } = this.refEmbeddings;
    const rows = this.refEmbeddings[this.embedChoice];
    const scored = this.reference.labels.map((label, i) => {
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += rows[i * dim + d] * embedding[d];
      return { index: i, label, similarity: dot };
    });
    return scored.sort((a, b) => b.similarity - a.similarity).slice(0, k);
  }

  #renderBars(probs) {
    const rows = [];
    for (let d = 0; d < 10; d++) {
      const p = probs ? probs[d] : 0;
      const best = probs && argmax(probs) === d;
      rows.push(
        h(
          "div",
          { class: `bar-row${best ? " best" : ""}` },
          h("span", { class: "bar-label" }, String(d)),
          h("span", { class: "bar-track" }, h("span", { class: "bar-fill", style: `width:${(p * 100).toFixed(1)}%` })),
          h("span", { class: "bar-value" }, probs ? `${(p * 100).toFixed(1)}%` : ""),
        ),
      );
    }
    this.el.bars.replaceChildren(...rows);
  }

  #renderNeighbours(neighbours) {
    this.el.neighbours.replaceChildren(
      ...neighbours.map((nb) => {
        const canvas = h("canvas", { width: 8, height: 8, class: "thumb", title: `reference #${nb.index}` });
        drawGrey(canvas, this.reference.images[nb.index], 8, 16);
        return h(
          "figure",
          { class: "neighbour", "data-label": nb.label },
          canvas,
          h("figcaption", {}, h("b", {}, String(nb.label)), ` ${nb.similarity.toFixed(2)}`),
        );
      }),
    );
  }

  #drawLegend() {
    this.el.legend.replaceChildren(
      ...CLASS_COLOURS.map((colour, d) => h("span", { class: "legend-item" }, h("i", { style: `background:${colour}` }), String(d))),
      h("span", { class: "legend-item" }, h("i", { class: "you" }), "your digit"),
    );
  }

  /** The PCA map: reference digits coloured by class, class labels at the centroids, the drawing. */
  #drawMap(point, neighbours) {
    const canvas = this.el.pca;
    const ctx = canvas.getContext("2d");
    const { width: W, height: H } = canvas;
    ctx.clearRect(0, 0, W, H);
    if (!this.map) return;
    const pts = this.map.points;
    const all = point ? [...pts, point] : pts;
    const xs = all.map((p) => p[0]);
    const ys = all.map((p) => p[1]);
    const [minX, maxX, minY, maxY] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const pad = 16;
    const s = Math.min((W - 2 * pad) / (maxX - minX || 1), (H - 2 * pad) / (maxY - minY || 1));
    const ox = (W - s * (maxX - minX)) / 2;
    const oy = (H - s * (maxY - minY)) / 2;
    const at = (p) => [ox + (p[0] - minX) * s, H - (oy + (p[1] - minY) * s)];
    const labels = this.reference.labels;
    ctx.globalAlpha = 0.75;
    pts.forEach((p, i) => {
      const [x, y] = at(p);
      ctx.fillStyle = CLASS_COLOURS[labels[i]];
      ctx.beginPath();
      ctx.arc(x, y, 3.5, 0, 2 * Math.PI);
      ctx.fill();
    });
    ctx.globalAlpha = 1;
    // Class labels at the centroids.
    ctx.font = "bold 15px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (let d = 0; d < 10; d++) {
      const members = pts.filter((_, i) => labels[i] === d);
      const c = [members.reduce((a, p) => a + p[0], 0) / members.length, members.reduce((a, p) => a + p[1], 0) / members.length];
      const [x, y] = at(c);
      ctx.lineWidth = 3;
      ctx.strokeStyle = "rgba(255,255,255,0.9)";
      ctx.strokeText(String(d), x, y);
      ctx.fillStyle = CLASS_COLOURS[d];
      ctx.fillText(String(d), x, y);
    }
    if (!point) return;
    const [px, py] = at(point);
    ctx.strokeStyle = "rgba(0,0,0,0.35)";
    ctx.lineWidth = 1;
    for (const nb of neighbours) {
      const [nx, ny] = at(pts[nb.index]);
      ctx.beginPath();
      ctx.moveTo(px, py);
      ctx.lineTo(nx, ny);
      ctx.stroke();
    }
    ctx.fillStyle = "#111";
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 2;
    star(ctx, px, py, 9, 4);
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

async function fetchReference(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot fetch ${url}: HTTP ${response.status} ${response.statusText}`);
  const ref = await response.json();
  ref.images = ref.images.map((img) => Float32Array.from(img));
  return ref;
}

function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

function formatFlops(flops) {
  if (flops === null || flops === undefined) return "";
  return flops >= 1e6 ? `${(flops / 1e6).toFixed(1)} MFLOP` : `${(flops / 1e3).toFixed(0)} kFLOP`;
}

/** Draws a size x size grey image (values 0..max, ink dark on white) onto a canvas of that size. */
function drawGrey(canvas, values, size, max) {
  canvas.width = size;
  canvas.height = size;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(size, size);
  for (let i = 0; i < size * size; i++) {
    const v = 255 - Math.round(Math.min(1, Math.max(0, values[i] / max)) * 255);
    img.data.set([v, v, v, 255], i * 4);
  }
  ctx.putImageData(img, 0, 0);
}

function star(ctx, x, y, outer, inner) {
  ctx.beginPath();
  for (let i = 0; i < 10; i++) {
    const r = i % 2 === 0 ? outer : inner;
    const a = -Math.PI / 2 + (i * Math.PI) / 5;
    ctx.lineTo(x + r * Math.cos(a), y + r * Math.sin(a));
  }
  ctx.closePath();
  ctx.stroke();
  ctx.fill();
}
