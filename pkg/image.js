// mxnet-web: image input and output helpers.
//
// tensorFromImage turns an <img>, <canvas>, OffscreenCanvas, ImageBitmap, ImageData, <video>
// frame or VideoFrame into a normalised float32 tensor (NCHW or NHWC, RGB, BGR or gray), resized
// as MXNet's own pipeline does (mx.image.imresize: OpenCV's bilinear INTER_LINEAR, half-pixel
// centres, no antialiasing), so a model sees the pixels it was trained on. softmax and topK read
// class scores. No DOM is needed for ImageData-like input ({ data, width, height }), so these work
// in Node.js and in workers too. Types: index.d.ts.

const PREFIX = "mxnet-web: ";

/**
 * A source image as a normalised tensor.
 *
 * @param {*} source an image source (see index.d.ts `ImageSource`)
 * @param {import("./index.d.ts").ImageTensorOptions} [options]
 * @returns {import("./index.d.ts").Tensor}
 */
export function tensorFromImage(source, options = {}) {
  if (options === null || typeof options !== "object") throw new TypeError(`${PREFIX}tensorFromImage() options must be an object`);
  const {
    size,
    mean = 0,
    std = 1,
    scale = 1 / 255,
    layout = "NCHW",
    channels = "RGB",
    resize = "stretch",
    crop,
  } = options;
  if (layout !== "NCHW" && layout !== "NHWC") throw new TypeError(`${PREFIX}layout must be "NCHW" or "NHWC", got ${String(layout)}`);
  if (channels !== "RGB" && channels !== "BGR" && channels !== "gray") {
    throw new TypeError(`${PREFIX}channels must be "RGB", "BGR" or "gray", got ${String(channels)}`);
  }
  if (resize !== "stretch" && resize !== "cover") throw new TypeError(`${PREFIX}resize must be "stretch" or "cover", got ${String(resize)}`);
  if (typeof scale !== "number" || !Number.isFinite(scale)) throw new TypeError(`${PREFIX}scale must be a finite number`);
  const c = channels === "gray" ? 1 : 3;
  const means = perChannel(mean, c, "mean");
  const stds = perChannel(std, c, "std");
  if (stds.some((s) => s === 0)) throw new RangeError(`${PREFIX}std must not be 0`);

  const pixels = readPixels(source);
  let region = { x: 0, y: 0, width: pixels.width, height: pixels.height };
  if (crop !== undefined) {
    const ok = crop !== null && ["x", "y", "width", "height"].every((k) => Number.isSafeInteger(crop[k]));
    if (!ok || crop.width <= 0 || crop.height <= 0) {
      throw new TypeError(`${PREFIX}crop must be { x, y, width, height } in whole pixels with a positive size`);
    }
    region = { x: crop.x, y: crop.y, width: crop.width, height: crop.height };
  }
  let h = region.height;
  let w = region.width;
  if (size !== undefined) {
    const ok = Array.isArray(size) && size.length === 2 && size.every((d) => Number.isSafeInteger(d) && d > 0);
    if (!ok) throw new TypeError(`${PREFIX}size must be [height, width] in whole pixels, got ${JSON.stringify(size)}`);
    [h, w] = size;
  }
  if (resize === "cover") region = coverRegion(region, w, h);

  const data = new Float32Array(c * h * w);
  // Output strides: NCHW planes, or NHWC interleaved channels.
  const pixelStride = layout === "NCHW" ? 1 : c;
  const channelStride = layout === "NCHW" ? h * w : 1;
  const order = channels === "BGR" ? [2, 1, 0] : [0, 1, 2];
  const k = stds.map((s) => scale / s);
  const m = means.map((mu, i) => mu / stds[i]);
  const value = new Float64Array(3);
  const { width: sw, height: sh, data: rgba } = pixels;
  // Per output column / row: the two source pixels (clamped into the image) and their weights
  // (0 for a tap outside the image, which reads as padding).
  const xs = imageTaps(taps(region.width, w), region.x, sw);
  const ys = imageTaps(taps(region.height, h), region.y, sh);
  for (let dy = 0; dy < h; dy++) {
    const row0 = ys.i0[dy] * sw;
    const row1 = ys.i1[dy] * sw;
    const wy0 = ys.w0[dy];
    const wy1 = ys.w1[dy];
    for (let dx = 0; dx < w; dx++) {
      const wx0 = xs.w0[dx];
      const wx1 = xs.w1[dx];
      const a = (row0 + xs.i0[dx]) * 4;
      const b = (row0 + xs.i1[dx]) * 4;
      const cc = (row1 + xs.i0[dx]) * 4;
      const d = (row1 + xs.i1[dx]) * 4;
      const w00 = wx0 * wy0;
      const w01 = wx1 * wy0;
      const w10 = wx0 * wy1;
      const w11 = wx1 * wy1;
      const r = w00 * rgba[a] + w01 * rgba[b] + w10 * rgba[cc] + w11 * rgba[d];
      const g = w00 * rgba[a + 1] + w01 * rgba[b + 1] + w10 * rgba[cc + 1] + w11 * rgba[d + 1];
      const bl = w00 * rgba[a + 2] + w01 * rgba[b + 2] + w10 * rgba[cc + 2] + w11 * rgba[d + 2];
      const base = (dy * w + dx) * pixelStride;
      if (c === 1) {
        // ITU-R BT.601 luma, as OpenCV's RGB2GRAY.
        data[base] = (0.299 * r + 0.587 * g + 0.114 * bl) * k[0] - m[0];
      } else {
        value[0] = r;
        value[1] = g;
        value[2] = bl;
        for (let ch = 0; ch < 3; ch++) data[base + ch * channelStride] = value[order[ch]] * k[ch] - m[ch];
      }
    }
  }
  const shape = layout === "NCHW" ? [1, c, h, w] : [1, h, w, c];
  return { data, shape };
}

/** `mean`/`std`: one number for all channels or one per channel. */
function perChannel(v, c, what) {
  const list = typeof v === "number" ? Array(c).fill(v) : Array.isArray(v) || ArrayBuffer.isView(v) ? Array.from(v) : null;
  if (list === null || list.length !== c || list.some((x) => typeof x !== "number" || !Number.isFinite(x))) {
    throw new TypeError(`${PREFIX}${what} must be a number or ${c} numbers (one per channel), got ${JSON.stringify(v)}`);
  }
  return list;
}

/** The largest centred part of `region` with the aspect ratio w:h (whole pixels). */
function coverRegion(region, w, h) {
  const aspect = w / h;
  const cw = Math.min(region.width, Math.max(1, Math.round(region.height * aspect)));
  const ch = Math.min(region.height, Math.max(1, Math.round(region.width / aspect)));
  return {
    x: region.x + Math.floor((region.width - cw) / 2),
    y: region.y + Math.floor((region.height - ch) / 2),
    width: cw,
    height: ch,
  };
}

/**
 * Bilinear taps along one axis as OpenCV's INTER_LINEAR computes them: destination pixel d
 * reads source pixels lo[d] and lo[d] + 1 with weights 1 - frac[d] and frac[d] (half-pixel
 * centres, clamped at the edges).
 */
function taps(srcSize, dstSize) {
  const lo = new Int32Array(dstSize);
  const frac = new Float32Array(dstSize);
  const step = srcSize / dstSize;
  for (let d = 0; d < dstSize; d++) {
    const s = (d + 0.5) * step - 0.5;
    let i = Math.floor(s);
    let f = s - i;
    if (i < 0) {
      i = 0;
      f = 0;
    }
    if (i >= srcSize - 1) {
      i = srcSize - 1;
      f = 0;
    }
    lo[d] = i;
    frac[d] = f;
  }
  return { lo, frac };
}

/**
 * Taps of one axis placed in the image: source indices `i0`, `i1` (region offset added, clamped
 * into 0..size-1) and weights `w0`, `w1` (zero where the tap falls outside the image).
 */
function imageTaps({ lo, frac }, offset, size) {
  const n = lo.length;
  const i0 = new Int32Array(n);
  const i1 = new Int32Array(n);
  const w0 = new Float64Array(n);
  const w1 = new Float64Array(n);
  const inside = (i) => i >= 0 && i < size;
  for (let d = 0; d < n; d++) {
    const a = offset + lo[d];
    const b = a + 1;
    w0[d] = inside(a) ? 1 - frac[d] : 0;
    w1[d] = inside(b) && frac[d] !== 0 ? frac[d] : 0;
    i0[d] = inside(a) ? a : 0;
    i1[d] = inside(b) ? b : 0;
  }
  return { i0, i1, w0, w1 };
}

/** RGBA pixels of a source: `{ data, width, height }` with 4 bytes per pixel. */
function readPixels(source) {
  if (source === null || typeof source !== "object") {
    throw new TypeError(`${PREFIX}tensorFromImage() needs an image, canvas, ImageBitmap, ImageData, video or VideoFrame`);
  }
  if (isImageDataLike(source)) return source;
  const [width, height] = drawableSize(source);
  if (!(width > 0 && height > 0)) {
    const what = source.constructor?.name ?? "image";
    throw new Error(`${PREFIX}the ${what} has no pixels yet (0×0: not loaded or no video frame); wait for it to load`);
  }
  let ctx;
  if (typeof OffscreenCanvas === "function") {
    ctx = new OffscreenCanvas(width, height).getContext("2d", { willReadFrequently: true });
  } else if (typeof document === "object" && document !== null) {
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    ctx = canvas.getContext("2d", { willReadFrequently: true });
  } else {
    throw new TypeError(`${PREFIX}this environment has no canvas: pass ImageData-like input { data, width, height }`);
  }
  ctx.drawImage(source, 0, 0, width, height);
  try {
    return ctx.getImageData(0, 0, width, height);
  } catch (err) {
    throw new Error(`${PREFIX}cannot read the image's pixels (${err.message}): a cross-origin image needs CORS (crossorigin="anonymous")`, {
      cause: err,
    });
  }
}

function isImageDataLike(s) {
  return (
    (ArrayBuffer.isView(s.data) || Array.isArray(s.data)) &&
    Number.isSafeInteger(s.width) &&
    Number.isSafeInteger(s.height) &&
    s.data.length === s.width * s.height * 4
  );
}

/** Intrinsic size of a drawable: images, videos, VideoFrames, canvases and bitmaps. */
function drawableSize(s) {
  if (typeof s.naturalWidth === "number") return [s.naturalWidth, s.naturalHeight]; // <img>
  if (typeof s.videoWidth === "number") return [s.videoWidth, s.videoHeight]; // <video>
  if (typeof s.displayWidth === "number") return [s.displayWidth, s.displayHeight]; // VideoFrame
  if (typeof s.width === "number" && typeof s.height === "number") return [s.width, s.height];
  throw new TypeError(`${PREFIX}tensorFromImage() needs an image, canvas, ImageBitmap, ImageData, video or VideoFrame`);
}

/**
 * Softmax: of all values (an array), or of each row along the last axis (a tensor).
 *
 * @param {ArrayLike<number> | import("./index.d.ts").Tensor} x
 */
export function softmax(x) {
  if (x !== null && typeof x === "object" && Array.isArray(x.shape) && x.data !== undefined) {
    const n = x.shape.length === 0 ? 1 : x.shape[x.shape.length - 1];
    const out = new Float32Array(x.data.length);
    for (let at = 0; at < out.length; at += n) softmaxInto(x.data, at, n, out);
    return { data: out, shape: x.shape.slice() };
  }
  const out = new Float32Array(x.length);
  softmaxInto(x, 0, x.length, out);
  return out;
}

function softmaxInto(v, at, n, out) {
  let max = -Infinity;
  for (let i = at; i < at + n; i++) if (v[i] > max) max = v[i];
  let sum = 0;
  for (let i = at; i < at + n; i++) {
    const e = Math.exp(v[i] - max);
    out[i] = e;
    sum += e;
  }
  for (let i = at; i < at + n; i++) out[i] /= sum;
}

/**
 * The k largest values with their indices, largest first (ties: lower index first; NaN last).
 *
 * @param {ArrayLike<number> | import("./index.d.ts").Tensor} x values, or a tensor's data
 * @param {number} [k]
 * @returns {{ index: number, value: number }[]}
 */
export function topK(x, k = 5) {
  const v = x !== null && typeof x === "object" && Array.isArray(x.shape) && x.data !== undefined ? x.data : x;
  if (!Number.isSafeInteger(k) || k < 0) throw new TypeError(`${PREFIX}topK: k must be a non-negative integer, got ${String(k)}`);
  const key = (i) => (Number.isNaN(v[i]) ? -Infinity : v[i]);
  // Keep the best k in a small sorted list: O(n k), fast for the usual k <= 10.
  const best = [];
  for (let i = 0; i < v.length && k > 0; i++) {
    const value = key(i);
    if (best.length === k && !(value > key(best[k - 1]))) continue;
    let at = best.length;
    while (at > 0 && value > key(best[at - 1])) at--;
    best.splice(at, 0, i);
    if (best.length > k) best.pop();
  }
  return best.map((index) => ({ index, value: v[index] }));
}
