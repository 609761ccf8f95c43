// Image decoding and resampling into model input tensors (planar NCHW float32).

/**
 * An RGBA image in memory: `{ data: Uint8ClampedArray, width, height, canvas }`, where `canvas`
 * holds the same pixels for display.
 * @typedef {{ data: Uint8ClampedArray, width: number, height: number, canvas: HTMLCanvasElement }} RgbaImage
 */

/**
 * Decodes an image (a File/Blob, or a URL to fetch) into RGBA pixels, scaled down so that its
 * longer side is at most `maxSide`. Rejects with a message naming the file when it is not an
 * image the browser can decode.
 * @returns {Promise<RgbaImage>}
 */
export async function decodeImage(source, { maxSide = 1024, name } = {}) {
  let blob = source;
  const label = name ?? (typeof source === "string" ? source : source?.name ?? "the image");
  if (typeof source === "string") {
    let response;
    try {
      response = await fetch(source);
    } catch (err) {
      throw new Error(`cannot fetch ${label}: ${err.message}`);
    }
    if (!response.ok) throw new Error(`cannot fetch ${label}: HTTP ${response.status} ${response.statusText}`);
    blob = await response.blob();
  }
  let bitmap;
  try {
    bitmap = await createImageBitmap(blob);
  } catch {
    const type = blob.type ? ` (${blob.type})` : "";
    throw new Error(`${label}${type} is not an image this browser can decode (try a JPEG or PNG file)`);
  }
  const scale = Math.min(1, maxSide / Math.max(bitmap.width, bitmap.height));
  const width = Math.max(1, Math.round(bitmap.width * scale));
  const height = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(bitmap, 0, 0, width, height);
  bitmap.close?.();
  return { data: ctx.getImageData(0, 0, width, height).data, width, height, canvas };
}

/**
 * Source coordinates of bilinear resampling along one axis, as OpenCV's INTER_LINEAR resize
 * computes them (half-pixel centres, clamped to the region's edge): destination pixel `d` reads
 * source pixels `lo[d]` and `lo[d] + 1` of the region with weights `1 - frac[d]` and `frac[d]`.
 */
function axisTaps(srcSize, dstSize) {
  const lo = new Int32Array(dstSize);
  const hi = new Int32Array(dstSize);
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
    hi[d] = Math.min(i + 1, srcSize - 1);
    frac[d] = f;
  }
  return { lo, hi, frac };
}

/**
 * Resamples a region of an RGBA image into `out` (planar: C planes of dh x dw) at `offset`.
 *
 * region: `{ x, y, w, h }` in image pixels (integers); parts of it outside the image read as
 * black, as MTCNN pads its crops with zeros. Each output value is `(v - mean[c]) * scale[c]`
 * where v is the channel value 0..255; `order` picks the channels: "rgb", "bgr" or "gray"
 * (one plane, ITU-R BT.601 luma). To write into a larger image (a tile of a mosaic), give the
 * row length `rowStride` and the channel plane size `planeStride` of `out`.
 */
export function sampleRegion(
  image,
  region,
  dw,
  dh,
  out,
  offset,
  { order = "rgb", mean = [0, 0, 0], scale = [1, 1, 1], rowStride = dw, planeStride = dw * dh } = {},
) {
  const { data, width, height } = image;
  const xs = axisTaps(region.w, dw);
  const ys = axisTaps(region.h, dh);
  const channels = order === "gray" ? 1 : 3;
  // RGBA byte offset of each channel plane in output order.
  const pick = order === "bgr" ? [2, 1, 0] : [0, 1, 2];
  const px = (sx, sy, c) => {
    const ix = region.x + sx;
    const iy = region.y + sy;
    if (ix < 0 || iy < 0 || ix >= width || iy >= height) return 0;
    const at = (iy * width + ix) * 4;
    if (c < 0) return 0.299 * data[at] + 0.587 * data[at + 1] + 0.114 * data[at + 2];
    return data[at + c];
  };
  for (let ch = 0; ch < channels; ch++) {
    const c = order === "gray" ? -1 : pick[ch];
    const m = mean[ch] ?? mean[0];
    const k = scale[ch] ?? scale[0];
    const base = offset + ch * planeStride;
    for (let dy = 0; dy < dh; dy++) {
      const y0 = ys.lo[dy];
      const y1 = ys.hi[dy];
      const fy = ys.frac[dy];
      for (let dx = 0; dx < dw; dx++) {
        const x0 = xs.lo[dx];
        const x1 = xs.hi[dx];
        const fx = xs.frac[dx];
        const top = px(x0, y0, c) * (1 - fx) + px(x1, y0, c) * fx;
        const bottom = px(x0, y1, c) * (1 - fx) + px(x1, y1, c) * fx;
        out[base + dy * rowStride + dx] = (top * (1 - fy) + bottom * fy - m) * k;
      }
    }
  }
}
