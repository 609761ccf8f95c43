// Child process of threads.test.mjs: loads a fixture model with the thread count the
// environment (MXNET_WEB_THREADS) selects, runs it, and prints the effective thread count and a
// SHA-256 of the output bytes (so that 1 and N threads can be compared bit for bit).
// Usage: MXNET_WEB_THREADS=n node tests/js/threads-run.mjs FIXTURE_DIR

import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";

import { parseNpy } from "./npy.mjs";

const { Model, threads } = await import("../../pkg/index.js");
const dir = process.argv[2];
const spec = JSON.parse(await readFile(path.join(dir, "case.json"), "utf8"));
const inputs = {};
for (const { name, file } of spec.inputs) inputs[name] = parseNpy(await readFile(path.join(dir, file)));
const model = await Model.fromBytes(
  await readFile(path.join(dir, spec.symbol), "utf8"),
  await readFile(path.join(dir, spec.params)),
  { backend: "cpu", inputs: spec.inputs.map((i) => i.name) },
);
const outputs = await model.run(inputs);
const hash = createHash("sha256");
for (const o of outputs) hash.update(new Uint8Array(o.data.buffer, o.data.byteOffset, o.data.byteLength));
console.log(JSON.stringify({ threads: threads(), sha256: hash.digest("hex") }));
model.dispose();
