// The web-app additions of the package under Node.js: warmup, Symbol.dispose, the options that
// need a browser (worker mode: a clear error; cache: skipped, loads still work) and the image
// helpers exported from the package entry.

import { test } from "node:test";
import assert from "node:assert/strict";
import { access, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { compareOutputs } from "./compare.mjs";
import { parseNpy } from "./npy.mjs";

const ROOT = path.resolve(fileURLToPath(import.meta.url), "../../..");
await access(path.join(ROOT, "pkg/wasm/mxnet_web_bg.wasm")).catch(() => {
  throw new Error("pkg/wasm/mxnet_web_bg.wasm is missing: build the package first with `npm run build`");
});
const { Model, WorkerModel, softmax, tensorFromImage, topK } = await import("../../pkg/index.js");

const DIR = path.join(ROOT, "tests/fixtures/models/tiny_resnet");
const PREFIX = path.join(DIR, "model");

async function fixture() {
  const spec = JSON.parse(await readFile(path.join(DIR, "case.json"), "utf8"));
  const input = parseNpy(await readFile(path.join(DIR, spec.inputs[0].file)));
  const output = parseNpy(await readFile(path.join(DIR, spec.outputs[0])));
  return { spec, input, output };
}

test("warmup runs a forward pass on zeros; then outputs still equal MXNet's", async () => {
  const { spec, input, output } = await fixture();
  const model = await Model.load(PREFIX);
  const ms = await model.warmup({ data: input.shape });
  assert.ok(ms > 0);
  assert.ok((await model.warmup([input.shape])) > 0);
  await assert.rejects(model.warmup(), { name: "TypeError", message: /warmup\(\) needs the input shapes, e\.g\. warmup\(\{ data: \[1, 3, 224, 224\] \}\)/ });
  await assert.rejects(model.warmup({ data: [1, 3, -1, 16] }), /input 'data': shape must be an array of non-negative integers/);
  await assert.rejects(model.warmup({ image: input.shape }), /unknown input 'image'/);
  assert.deepEqual(compareOutputs(await model.run({ data: input }), [output], spec.rtol, spec.atol), []);
  model.dispose();
  await assert.rejects(model.warmup({ data: input.shape }), /this model was disposed/);
});

test("Symbol.dispose: `using` disposes the model at the end of the scope", async () => {
  const { input } = await fixture();
  const model = await Model.load(PREFIX);
  assert.equal(typeof model[Symbol.dispose], "function");
  model[Symbol.dispose]();
  await assert.rejects(model.run({ data: input }), /mxnet-web: this model was disposed/);
  model[Symbol.dispose](); // a second dispose does nothing
});

test("worker mode needs Web Workers: a clear error under Node.js", async () => {
  await assert.rejects(Model.load(PREFIX, { worker: true }), /worker mode needs Web Workers \(a browser page\)/);
  const bytes = await readFile(`${PREFIX}-0000.params`);
  await assert.rejects(Model.fromBytes("{}", bytes, { worker: true }), /worker mode needs Web Workers/);
  assert.equal(typeof WorkerModel, "function");
});

test("cache: true is skipped where there is no Cache Storage; isCached is false, clearCache removes nothing", async () => {
  const { spec, input, output } = await fixture();
  const events = [];
  const model = await Model.load(PREFIX, { cache: true, onProgress: (e) => events.push(e.file) });
  assert.deepEqual(compareOutputs(await model.run({ data: input }), [output], spec.rtol, spec.atol), []);
  assert.ok(events.includes("params"));
  model.dispose();
  assert.equal(await Model.isCached(PREFIX), false);
  assert.equal(await Model.clearCache(PREFIX), false);
  assert.equal(await Model.clearCache(), false);
  await assert.rejects(Model.isCached(PREFIX, { epoch: -1 }), /epoch must be a non-negative integer/);
});

test("the image helpers come from the package entry", () => {
  const t = tensorFromImage({ data: new Uint8ClampedArray([255, 0, 0, 255]), width: 1, height: 1 }, { channels: "BGR" });
  assert.deepEqual(Array.from(t.data), [0, 0, 1]);
  assert.deepEqual(topK(softmax([1, 3, 2]), 1)[0].index, 1);
});
