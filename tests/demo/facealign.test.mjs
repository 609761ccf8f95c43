// Unit tests of the demo's face alignment maths (www/js/facealign.js), in Node: the least-squares
// similarity transform that maps MTCNN's five landmarks onto the 150x150 template.

import { test } from "node:test";
import assert from "node:assert/strict";

import { CROP_SIZE, TEMPLATE, applyTransform, planarRgb, similarityTransform } from "../../www/js/facealign.js";

const close = (a, b, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test("the template lies inside the crop, eyes level and mouth below the nose", () => {
  assert.equal(CROP_SIZE, 150);
  for (const [x, y] of TEMPLATE) assert.ok(x > 0 && x < CROP_SIZE && y > 0 && y < CROP_SIZE);
  const [le, re, nose, ml, mr] = TEMPLATE;
  assert.equal(le[1], re[1]);
  assert.ok(le[0] < re[0] && ml[0] < mr[0]);
  assert.ok(nose[1] > le[1] && ml[1] > nose[1]);
  // Symmetric about the vertical centre line.
  close(le[0] + re[0], CROP_SIZE);
  close(ml[0] + mr[0], CROP_SIZE);
});

test("the template maps onto itself by the identity", () => {
  const t = similarityTransform(TEMPLATE, TEMPLATE);
  close(t.a, 1);
  close(t.b, 0);
  close(t.tx, 0);
  close(t.ty, 0);
});

test("a rotated, scaled, shifted face is mapped back exactly", () => {
  // Landmarks of a face turned by 20°, 2.5x the template's size, somewhere in a photo.
  const angle = (20 * Math.PI) / 180;
  const s = 2.5;
  const face = TEMPLATE.map(([x, y]) => [s * (Math.cos(angle) * x - Math.sin(angle) * y) + 300, s * (Math.sin(angle) * x + Math.cos(angle) * y) + 120]);
  const t = similarityTransform(face, TEMPLATE);
  close(t.scale, 1 / s, 1e-12);
  close(t.angle, -angle, 1e-12);
  face.forEach((p, i) => {
    const [x, y] = applyTransform(t, p);
    close(x, TEMPLATE[i][0], 1e-9);
    close(y, TEMPLATE[i][1], 1e-9);
  });
});

test("with noisy landmarks the fit is the least-squares one", () => {
  const noisy = TEMPLATE.map(([x, y], i) => [x + [1, -2, 0.5, 1.5, -1][i], y + [-1, 0.5, 2, -0.5, 1][i]]);
  const t = similarityTransform(noisy, TEMPLATE);
  const cost = (tr) => noisy.reduce((sum, p, i) => {
    const [x, y] = applyTransform(tr, p);
    return sum + (x - TEMPLATE[i][0]) ** 2 + (y - TEMPLATE[i][1]) ** 2;
  }, 0);
  const best = cost(t);
  // Any small change of the four parameters costs more.
  for (const key of ["a", "b", "tx", "ty"]) {
    for (const delta of [1e-3, -1e-3]) assert.ok(cost({ ...t, [key]: t[key] + delta }) > best, `${key} ${delta}`);
  }
});

test("degenerate input is an error, not NaN", () => {
  assert.throws(() => similarityTransform([[1, 1], [1, 1]], [[0, 0], [1, 1]]), /coincide/);
  assert.throws(() => similarityTransform([[1, 1]], [[0, 0]]), /at least 2 points/);
  assert.throws(() => similarityTransform(TEMPLATE, TEMPLATE.slice(0, 4)), /same length/);
});

test("RGBA bytes become planar RGB", () => {
  const rgba = Uint8ClampedArray.from([1, 2, 3, 255, 4, 5, 6, 255]);
  assert.deepEqual(Array.from(planarRgb(rgba, 2)), [1, 4, 2, 5, 3, 6]);
});
