// Face alignment for the face recognition network: MTCNN's five landmarks (eye centres, nose
// tip, mouth corners) are mapped onto a fixed template by the similarity transform (rotation,
// uniform scale, translation; no shear, no reflection) that fits them best in the least-squares
// sense, and the image is resampled through it into a 150x150 crop.
//
// The template places the face as dlib's 150x150 "face chips" (padding 0.25) do, which is how
// dlib's face recognition network was trained: the landmark-bearing part of the face spans
// the middle two thirds of the crop, eyes 45 px apart on row 56, mouth corners on row 102.
// (dlib aligns on its own 5-point model's eye corners and nose base; these are the equivalent
// positions of MTCNN's points, placed by hand, not a table copied from dlib.)

/** Side of the network's input crop in pixels. */
export const CROP_SIZE = 150;

/** Where the five MTCNN landmarks land in the crop: left eye, right eye, nose, mouth left, mouth right. */
export const TEMPLATE = Object.freeze([
  [52.5, 56],
  [97.5, 56],
  [75, 82],
  [56, 102],
  [94, 102],
]);

/**
 * The similarity transform `q = [[a, -b], [b, a]] p + [tx, ty]` that maps the points `from`
 * onto `to` with the least squared error (closed form: centre both sets, then a and b are the
 * normalised dot and cross products).
 * @param {number[][]} from [[x, y], ...]
 * @param {number[][]} to same length
 * @returns {{ a: number, b: number, tx: number, ty: number, scale: number, angle: number }}
 */
export function similarityTransform(from, to) {
  const n = from.length;
  if (n < 2 || to.length !== n) throw new Error(`similarityTransform: need two lists of at least 2 points of the same length (got ${n} and ${to.length})`);
  const mean = (pts) => pts.reduce(([sx, sy], [x, y]) => [sx + x / n, sy + y / n], [0, 0]);
  const [px, py] = mean(from);
  const [qx, qy] = mean(to);
  let dot = 0;
  let cross = 0;
  let norm = 0;
  for (let i = 0; i < n; i++) {
    const ux = from[i][0] - px;
    const uy = from[i][1] - py;
    const vx = to[i][0] - qx;
    const vy = to[i][1] - qy;
    dot += ux * vx + uy * vy;
    cross += ux * vy - uy * vx;
    norm += ux * ux + uy * uy;
  }
  if (!(norm > 0)) throw new Error("similarityTransform: the source points coincide");
  const a = dot / norm;
  const b = cross / norm;
  return { a, b, tx: qx - (a * px - b * py), ty: qy - (b * px + a * py), scale: Math.hypot(a, b), angle: Math.atan2(b, a) };
}

/** Applies a transform from similarityTransform to a point. */
export function applyTransform({ a, b, tx, ty }, [x, y]) {
  return [a * x - b * y + tx, b * x + a * y + ty];
}

/**
 * The aligned crop of one face: a CROP_SIZE x CROP_SIZE canvas (for display) and its pixels as
 * the network's input, planar RGB 0..255 (3 x 150 x 150 float32). Outside the image is black.
 * The browser's own resampler draws the crop (it filters properly when the face is large and
 * the crop shrinks it).
 * @param {{ canvas: HTMLCanvasElement | OffscreenCanvas }} image an RgbaImage (imageops.js)
 * @param {number[][]} landmarks five [x, y] in image pixels, in MTCNN's order
 */
export function alignFace(image, landmarks) {
  const t = similarityTransform(landmarks, TEMPLATE);
  const canvas = document.createElement("canvas");
  canvas.width = CROP_SIZE;
  canvas.height = CROP_SIZE;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, CROP_SIZE, CROP_SIZE);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  ctx.setTransform(t.a, t.b, -t.b, t.a, t.tx, t.ty);
  ctx.drawImage(image.canvas, 0, 0);
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  const rgba = ctx.getImageData(0, 0, CROP_SIZE, CROP_SIZE).data;
  return { canvas, pixels: planarRgb(rgba, CROP_SIZE * CROP_SIZE), transform: t };
}

/** RGBA bytes (n pixels) → planar RGB float32 0..255. */
export function planarRgb(rgba, n) {
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    out[i] = rgba[4 * i];
    out[n + i] = rgba[4 * i + 1];
    out[2 * n + i] = rgba[4 * i + 2];
  }
  return out;
}
