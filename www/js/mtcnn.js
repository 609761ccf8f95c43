// MTCNN face detection (Zhang et al., 2016) with the original pretrained weights, as converted
// to MXNet by pangyupo/mxnet_mtcnn_face_detection: three cascaded networks run by mxnet-web.
//
//   P-Net (det1) slides over an image pyramid: a face probability and a box regression for
//          every 12x12 window (stride 2) at each scale. The pyramid's levels are packed side by
//          side into one mosaic image, so P-Net runs once instead of once per scale (a forward
//          pass has a fixed cost, large on GPUs); windows that straddle two levels are ignored;
//   R-Net (det2) re-scores 24x24 crops of the surviving candidates and refines their boxes;
//   O-Net (det3) re-scores 48x48 crops, refines the boxes once more and places five landmarks
//          (eyes, nose, mouth corners).
//
// Between stages: non-maximum suppression (NMS), box regression, squaring of the boxes.
//
// Input conventions of these converted weights (checked against MXNet 1.9.1 on the bundled
// photo): pixels as (v - 127.5) * 0.0078125, BGR channel order as OpenCV reads images, and the
// image NOT transposed (the original Caffe/MATLAB code fed W/H-swapped images; this conversion
// takes them upright: on a transposed crop O-Net's landmarks land in the wrong places). Box
// regressions are [dx1, dy1, dx2, dy2] in units of the box size; landmarks are five x then five
// y, in units of the box size.

import { Model, tensorFromImage } from "../pkg/index.js";

/** tensorFromImage options: (v - 127.5) * 0.0078125 per channel value v in 0..255, BGR. */
const PIXEL = { channels: "BGR", mean: 127.5, std: 128, scale: 1 };
/** P-Net's window and stride in pixels of the scaled image. */
const CELL = 12;
const STRIDE = 2;

export const DEFAULT_OPTIONS = Object.freeze({
  /** Smallest face to find, in pixels: the pyramid's first scale is 12 / minSize. */
  minSize: 40,
  /** Scale ratio between pyramid levels. */
  factor: 0.709,
  /** Face probability thresholds of P-Net, R-Net and O-Net. */
  thresholds: [0.6, 0.7, 0.8],
});

/**
 * A candidate box: corners in image pixels (inclusive, as the reference implementation counts:
 * width = x2 - x1 + 1), face probability, and the regression its network predicted.
 * @typedef {{ x1: number, y1: number, x2: number, y2: number, score: number, reg: number[] }} Box
 */

/** The three networks, loaded together. */
export class MtcnnDetector {
  /** @param {{ pnet: Model, rnet: Model, onet: Model }} nets */
  constructor(nets, loadMs) {
    this.pnet = nets.pnet;
    this.rnet = nets.rnet;
    this.onet = nets.onet;
    /** Load time of each network in ms (they download in parallel). */
    this.loadMs = loadMs;
  }

  /**
   * Loads det1/det2/det3 (`-symbol.json` + `-0001.params`) from a folder URL.
   * @param {string} folder e.g. "models/mtcnn"
   * @param {{ backend?: string, signal?: AbortSignal }} options passed to Model.load
   */
  static async load(folder, { backend = "auto", signal } = {}) {
    // One after another, not in parallel: mxnet-web's WebGPU backend does not yet take
    // concurrent Model.load calls once a GPU device exists (they abort the WebAssembly module:
    // "Mismatched pop_error_scope call"). The files are small; the cost is a few milliseconds.
    const nets = {};
    const loadMs = {};
    try {
      for (const [key, name] of [["pnet", "det1"], ["rnet", "det2"], ["onet", "det3"]]) {
        const start = performance.now();
        nets[key] = await Model.load(`${folder}/${name}`, { epoch: 1, backend, signal });
        loadMs[key] = performance.now() - start;
      }
    } catch (err) {
      for (const model of Object.values(nets)) model.dispose();
      throw err;
    }
    return new MtcnnDetector(nets, loadMs);
  }

  dispose() {
    this.pnet.dispose();
    this.rnet.dispose();
    this.onet.dispose();
  }

  /**
   * Finds faces in an RGBA image.
   * @param {import("./imageops.js").RgbaImage} image
   * @returns {Promise<{ faces: { box: number[], score: number, landmarks: number[][] }[], stages: object[] }>}
   *   faces: box [x1, y1, x2, y2] and landmarks [[x, y] x 5] in image pixels, best first;
   *   stages: per network, how many runs, candidates in and out, and the time its runs took.
   */
  async detect(image, options = {}) {
    const { minSize, factor, thresholds } = { ...DEFAULT_OPTIONS, ...options };
    const stages = [];

    // Stage 1: P-Net over the pyramid, packed into one mosaic.
    const scales = pyramidScales(image.width, image.height, minSize, factor);
    if (scales.length === 0) return { faces: [], stages };
    const levels = scales.map((scale) => ({ scale, w: Math.ceil(image.width * scale), h: Math.ceil(image.height * scale) }));
    const mosaic = packLevels(levels);
    const input = new Float32Array(3 * mosaic.width * mosaic.height);
    const mosaicPlane = mosaic.width * mosaic.height;
    for (const level of levels) {
      // Each level resized on its own, then copied row by row into its place in the mosaic.
      const { data } = tensorFromImage(image, { ...PIXEL, size: [level.h, level.w] });
      for (let ch = 0; ch < 3; ch++) {
        for (let row = 0; row < level.h; row++) {
          const from = (ch * level.h + row) * level.w;
          input.set(data.subarray(from, from + level.w), ch * mosaicPlane + (level.y + row) * mosaic.width + level.x);
        }
      }
    }
    const start = performance.now();
    const outputs = await this.pnet.run({ data: { data: input, shape: [1, 3, mosaic.height, mosaic.width] } });
    const runMs = performance.now() - start;
    const faceMap = byChannels(outputs, 2);
    const regressionMap = byChannels(outputs, 4);
    let boxes = [];
    let windows = 0;
    for (const level of levels) {
      const candidates = windowsAboveThreshold(faceMap, regressionMap, level, thresholds[0]);
      windows += candidates.length;
      boxes.push(...nms(candidates, 0.5, "union"));
    }
    boxes = nms(boxes, 0.7, "union").map((b) => squareAndRound(regress(b))).filter(nonEmpty);
    stages.push({
      net: "P-Net",
      runs: 1,
      scales,
      mosaic: [mosaic.width, mosaic.height],
      candidates: windows,
      kept: boxes.length,
      ms: runMs,
    });
    if (boxes.length === 0) return { faces: [], stages };

    // Stage 2: R-Net on 24x24 crops.
    let [prob, reg, , ms] = await this.#runCrops(this.rnet, image, boxes, 24);
    const cropsR = boxes.length;
    boxes = rescore(boxes, prob, reg, thresholds[1]);
    boxes = nms(boxes, 0.7, "union").map((b) => squareAndRound(regress(b))).filter(nonEmpty);
    stages.push({ net: "R-Net", runs: 1, candidates: cropsR, kept: boxes.length, ms });
    if (boxes.length === 0) return { faces: [], stages };

    // Stage 3: O-Net on 48x48 crops, with landmarks.
    let points;
    [prob, reg, points, ms] = await this.#runCrops(this.onet, image, boxes, 48);
    const cropsO = boxes.length;
    const faces = [];
    boxes.forEach((b, i) => {
      const score = prob.data[i * 2 + 1];
      if (!(score > thresholds[2])) return;
      // Landmarks are relative to the box before its final regression.
      const w = b.x2 - b.x1 + 1;
      const h = b.y2 - b.y1 + 1;
      const p = points.data.subarray(i * 10, i * 10 + 10);
      const landmarks = [0, 1, 2, 3, 4].map((k) => [b.x1 + w * p[k], b.y1 + h * p[k + 5]]);
      const box = regress({ ...b, score, reg: Array.from(reg.data.subarray(i * 4, i * 4 + 4)) });
      faces.push({ ...box, landmarks });
    });
    const kept = nms(faces, 0.7, "min");
    stages.push({ net: "O-Net", runs: 1, candidates: cropsO, kept: kept.length, ms });
    return {
      faces: kept.map((f) => ({ box: [f.x1, f.y1, f.x2, f.y2], score: f.score, landmarks: f.landmarks })),
      stages,
    };
  }

  /** Runs R-Net or O-Net on one batch of size x size crops: [prob, reg, landmarks?, ms]. */
  async #runCrops(net, image, boxes, size) {
    const plane = 3 * size * size;
    const input = new Float32Array(boxes.length * plane);
    boxes.forEach((b, i) => {
      // Parts of the box outside the image read as 0 (MTCNN pads its crops with zeros).
      const crop = { x: b.x1, y: b.y1, width: b.x2 - b.x1 + 1, height: b.y2 - b.y1 + 1 };
      input.set(tensorFromImage(image, { ...PIXEL, crop, size: [size, size] }).data, i * plane);
    });
    const start = performance.now();
    const outputs = await net.run({ data: { data: input, shape: [boxes.length, 3, size, size] } });
    const ms = performance.now() - start;
    const landmarks = outputs.find((o) => o.shape[1] === 10);
    return [byChannels(outputs, 2), byChannels(outputs, 4), landmarks, ms];
  }
}

/** The output head with `channels` channels (axis 1): 2 = face probability, 4 = box regression. */
function byChannels(outputs, channels) {
  const out = outputs.find((o) => o.shape[1] === channels);
  if (!out) throw new Error(`MTCNN: no output with ${channels} channels (got ${outputs.map((o) => `[${o.shape}]`).join(", ")})`);
  return out;
}

/** Pyramid scales: from 12 / minSize down by `factor` while the shorter side stays above 12. */
export function pyramidScales(width, height, minSize, factor) {
  const scales = [];
  const first = CELL / minSize;
  let side = Math.min(width, height) * first;
  for (let scale = first; side > CELL; scale *= factor, side *= factor) scales.push(scale);
  return scales;
}

/**
 * Packs pyramid levels ({ w, h }, largest first) into one image, row by row ("shelves"), each at
 * even coordinates (P-Net's stride is 2, so every level keeps the window grid it would have on
 * its own) with a gap between them. Sets each level's x, y; returns the mosaic's size.
 */
export function packLevels(levels) {
  const GAP = 2;
  const even = (n) => n + (n % 2);
  // Two of the largest levels side by side set the width; the smaller ones fill the rows below.
  const width = levels.length > 1 ? even(levels[0].w) + GAP + levels[1].w : levels[0].w;
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  for (const level of levels) {
    if (x > 0 && x + level.w > width) {
      y += even(rowHeight) + GAP;
      x = 0;
      rowHeight = 0;
    }
    level.x = x;
    level.y = y;
    x += even(level.w) + GAP;
    rowHeight = Math.max(rowHeight, level.h);
  }
  return { width, height: y + rowHeight };
}

/**
 * P-Net's windows of one pyramid level whose face probability exceeds the threshold, as boxes in
 * image pixels. Output cell (row, col) looks at the 12x12 mosaic window at (STRIDE * col,
 * STRIDE * row); only windows entirely inside the level count.
 */
function windowsAboveThreshold(prob, reg, level, threshold) {
  const [, , rows, cols] = prob.shape;
  const plane = rows * cols;
  const { x, y, w, h, scale } = level;
  const boxes = [];
  const lastRow = Math.min(rows - 1, (y + h - CELL) / STRIDE);
  const lastCol = Math.min(cols - 1, (x + w - CELL) / STRIDE);
  for (let r = y / STRIDE; r <= lastRow; r++) {
    for (let c = x / STRIDE; c <= lastCol; c++) {
      const at = r * cols + c;
      const score = prob.data[plane + at]; // channel 1: "face"
      if (!(score > threshold)) continue;
      // Position within the level, then back to the original image.
      const lx = STRIDE * c - x;
      const ly = STRIDE * r - y;
      boxes.push({
        x1: Math.round((lx + 1) / scale),
        y1: Math.round((ly + 1) / scale),
        x2: Math.round((lx + 1 + CELL) / scale),
        y2: Math.round((ly + 1 + CELL) / scale),
        score,
        reg: [reg.data[at], reg.data[plane + at], reg.data[2 * plane + at], reg.data[3 * plane + at]],
      });
    }
  }
  return boxes;
}

/** Keeps the boxes whose face probability (column 1 of prob) passes; attaches their regression. */
function rescore(boxes, prob, reg, threshold) {
  const kept = [];
  boxes.forEach((b, i) => {
    const score = prob.data[i * 2 + 1];
    if (score > threshold) kept.push({ ...b, score, reg: Array.from(reg.data.subarray(i * 4, i * 4 + 4)) });
  });
  return kept;
}

/** Applies a box's regression: each corner moves by its offset times the box's width/height. */
function regress(b) {
  const w = b.x2 - b.x1 + 1;
  const h = b.y2 - b.y1 + 1;
  return { ...b, x1: b.x1 + b.reg[0] * w, y1: b.y1 + b.reg[1] * h, x2: b.x2 + b.reg[2] * w, y2: b.y2 + b.reg[3] * h };
}

/** The square with the box's centre and its longer side, on whole pixels. */
function squareAndRound(b) {
  const w = b.x2 - b.x1 + 1;
  const h = b.y2 - b.y1 + 1;
  const side = Math.max(w, h);
  const x1 = Math.round(b.x1 + w * 0.5 - side * 0.5);
  const y1 = Math.round(b.y1 + h * 0.5 - side * 0.5);
  const s = Math.round(side);
  return { ...b, x1, y1, x2: x1 + s - 1, y2: y1 + s - 1 };
}

/** False for boxes that a wild regression turned inside out. */
function nonEmpty(b) {
  return b.x2 > b.x1 && b.y2 > b.y1;
}

/**
 * Greedy non-maximum suppression: repeatedly keeps the best-scoring box and drops those that
 * overlap it by more than `threshold`, where the overlap is intersection / union ("union") or
 * intersection / the smaller area ("min", which also removes boxes nested in a kept one).
 * @template {Box} T
 * @param {T[]} boxes
 * @returns {T[]} the kept boxes, best first
 */
export function nms(boxes, threshold, mode) {
  const order = boxes.map((_, i) => i).sort((a, b) => boxes[b].score - boxes[a].score);
  const area = (b) => (b.x2 - b.x1 + 1) * (b.y2 - b.y1 + 1);
  const suppressed = new Uint8Array(boxes.length);
  const kept = [];
  for (let i = 0; i < order.length; i++) {
    if (suppressed[order[i]]) continue;
    const a = boxes[order[i]];
    kept.push(a);
    const areaA = area(a);
    for (let j = i + 1; j < order.length; j++) {
      if (suppressed[order[j]]) continue;
      const b = boxes[order[j]];
      const iw = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1) + 1;
      const ih = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1) + 1;
      if (iw <= 0 || ih <= 0) continue;
      const inter = iw * ih;
      const areaB = area(b);
      const overlap = mode === "min" ? inter / Math.min(areaA, areaB) : inter / (areaA + areaB - inter);
      if (overlap > threshold) suppressed[order[j]] = 1;
    }
  }
  return kept;
}
