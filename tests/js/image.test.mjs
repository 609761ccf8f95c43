// The image helpers (pkg/image.js) under Node.js, on ImageData-like input: tensorFromImage
// against MXNet's own image pipeline (tests/fixtures/image, written by its generate.py with
// mx.image.imresize / fixed_crop / color_normalize), crops, gray, errors; softmax and topK.
// The browser's image sources (<img>, canvas, ImageBitmap, VideoFrame, <video>) are checked
// in webapp-browser.test.mjs.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { parseNpy } from "./npy.mjs";
import { softmax, tensorFromImage, topK } from "../../pkg/image.js";

const ROOT = path.resolve(fileURLToPath(import.meta.url), "../../..");
const DIR = path.join(ROOT, "tests/fixtures/image");

/** The fixture's (H, W, 3) uint8 image as ImageData-like RGBA. */
async function fixtureImage() {
  const spec = JSON.parse(await readFile(path.join(DIR, "cases.json"), "utf8"));
  const rgb = parseNpy(await readFile(path.join(DIR, spec.image)));
  const [height, width] = rgb.shape;
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    data.set([rgb.data[i * 3], rgb.data[i * 3 + 1], rgb.data[i * 3 + 2], 255], i * 4);
  }
  return { spec, image: { data, width, height } };
}

describe("tensorFromImage", () => {
  test("matches MXNet's imresize / fixed_crop + color_normalize (stretch, cover, RGB, BGR, NCHW, NHWC)", async () => {
    const { spec, image } = await fixtureImage();
    assert.equal(spec.cases.length, 4);
    for (const c of spec.cases) {
      const expected = parseNpy(await readFile(path.join(DIR, c.file)));
      const actual = tensorFromImage(image, c.options);
      assert.deepEqual(actual.shape, expected.shape, c.name);
      assert.ok(actual.data instanceof Float32Array);
      let worst = 0;
      let sum = 0;
      for (let i = 0; i < expected.data.length; i++) {
        const d = Math.abs(actual.data[i] - expected.data[i]);
        worst = Math.max(worst, d);
        sum += d;
      }
      // OpenCV rounds to uint8 with fixed-point weights: at most one level off, about 0.25 on average.
      assert.ok(worst <= c.atol, `${c.name}: largest difference ${worst} > ${c.atol}`);
      assert.ok(sum / expected.data.length <= c.atol * 0.35, `${c.name}: mean difference ${sum / expected.data.length}`);
    }
  });

  test("the default is NCHW RGB in [0, 1] at the source's size; no resize is an exact copy", async () => {
    const { image } = await fixtureImage();
    const t = tensorFromImage(image);
    assert.deepEqual(t.shape, [1, 3, image.height, image.width]);
    const plane = image.width * image.height;
    for (let i = 0; i < plane; i++) {
      for (let ch = 0; ch < 3; ch++) assert.equal(t.data[ch * plane + i], Math.fround(image.data[i * 4 + ch] / 255));
    }
  });

  test("gray is BT.601 luma; one mean/std for all channels", async () => {
    const { image } = await fixtureImage();
    const rgb = tensorFromImage(image, { size: [10, 12], scale: 1 });
    const gray = tensorFromImage(image, { size: [10, 12], scale: 1, channels: "gray", mean: 100, std: 50 });
    assert.deepEqual(gray.shape, [1, 1, 10, 12]);
    const plane = 120;
    for (let i = 0; i < plane; i++) {
      const luma = 0.299 * rgb.data[i] + 0.587 * rgb.data[plane + i] + 0.114 * rgb.data[2 * plane + i];
      assert.ok(Math.abs(gray.data[i] - (luma - 100) / 50) < 1e-4, `pixel ${i}`);
    }
  });

  test("crop: a region, parts outside the image read as 0 (padding)", () => {
    const image = { data: new Uint8ClampedArray(4 * 4 * 4).fill(200), width: 4, height: 4 };
    const t = tensorFromImage(image, { crop: { x: -2, y: 1, width: 4, height: 2 }, scale: 1, layout: "NHWC" });
    assert.deepEqual(t.shape, [1, 2, 4, 3]);
    const row = [0, 0, 0, 0, 0, 0, 200, 200, 200, 200, 200, 200];
    assert.deepEqual(Array.from(t.data), [...row, ...row]);
  });

  test("clear errors for bad options and sources", async () => {
    const { image } = await fixtureImage();
    assert.throws(() => tensorFromImage(image, { layout: "CHW" }), /layout must be "NCHW" or "NHWC"/);
    assert.throws(() => tensorFromImage(image, { channels: "RGBA" }), /channels must be "RGB", "BGR" or "gray"/);
    assert.throws(() => tensorFromImage(image, { resize: "fit" }), /resize must be "stretch" or "cover"/);
    assert.throws(() => tensorFromImage(image, { size: [224] }), /size must be \[height, width\]/);
    assert.throws(() => tensorFromImage(image, { mean: [1, 2] }), /mean must be a number or 3 numbers/);
    assert.throws(() => tensorFromImage(image, { std: 0 }), /std must not be 0/);
    assert.throws(() => tensorFromImage(image, { crop: { x: 0, y: 0, width: 0, height: 3 } }), /crop must be/);
    assert.throws(() => tensorFromImage(null), /needs an image, canvas/);
    assert.throws(() => tensorFromImage({ width: 3, height: 3 }), /needs an image, canvas|no canvas/);
  });
});

describe("softmax and topK", () => {
  test("softmax of an array, and of each row of a tensor", () => {
    const p = softmax([1, 2, 3]);
    const e = [Math.exp(-2), Math.exp(-1), 1];
    const s = e[0] + e[1] + e[2];
    assert.ok(p instanceof Float32Array);
    e.forEach((v, i) => assert.ok(Math.abs(p[i] - v / s) < 1e-7));
    // Large logits do not overflow.
    assert.deepEqual(Array.from(softmax([1000, 1000])), [0.5, 0.5]);
    const t = softmax({ data: new Float32Array([0, 0, 5, 5, 1, 1]), shape: [3, 2] });
    assert.deepEqual(t.shape, [3, 2]);
    assert.deepEqual(Array.from(t.data), [0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
  });

  test("topK: largest first, ties by index, NaN last, k beyond the length", () => {
    const v = new Float32Array([0.1, 0.7, NaN, 0.7, -1, 0.2]);
    assert.deepEqual(topK(v, 3), [
      { index: 1, value: Math.fround(0.7) },
      { index: 3, value: Math.fround(0.7) },
      { index: 5, value: Math.fround(0.2) },
    ]);
    assert.deepEqual(topK([3, 1, 2], 10).map((t) => t.index), [0, 2, 1]);
    assert.equal(topK([1, 2]).length, 2);
    assert.deepEqual(topK({ data: new Float32Array([1, 5, 3]), shape: [1, 3] }, 1), [{ index: 1, value: 5 }]);
    assert.deepEqual(topK([1, NaN], 2).map((t) => t.index), [0, 1]);
    assert.deepEqual(topK([1, 2], 0), []);
    assert.throws(() => topK([1], -1), /k must be a non-negative integer/);
    // Agrees with a full sort on random data.
    const r = Array.from({ length: 1000 }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1);
    const sorted = r.map((value, index) => ({ index, value })).sort((a, b) => b.value - a.value || a.index - b.index);
    assert.deepEqual(topK(r, 7), sorted.slice(0, 7));
  });
});
