// The npm package (pkg/index.js) under Node.js: loading from file: URLs, relative paths, HTTP and
// memory; outputs against MXNet's fixtures; input validation; errors; dispose.
// Run with `node --test tests/js/` after `npm run build`.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { access, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { compareOutputs, MODEL_CASES } from "./compare.mjs";
import { loadCase } from "./fixture-files.mjs";
import { startServer } from "./server.mjs";

const ROOT = path.resolve(fileURLToPath(import.meta.url), "../../..");
const WASM = path.join(ROOT, "pkg/wasm/mxnet_web_bg.wasm");
await access(WASM).catch(() => {
  throw new Error(`${WASM} is missing: build the package first with \`npm run build\``);
});
const { default: init, Model, wasmMemoryBytes } = await import("../../pkg/index.js");


/** Runs a model on a case's inputs and asserts MXNet's outputs within the case's tolerances. */
async function assertMatchesMxnet(model, c) {
  const outputs = await model.run(c.inputs);
  const mismatches = compareOutputs(outputs, c.outputs, c.spec.rtol, c.spec.atol);
  assert.deepEqual(mismatches, [], `${path.relative(ROOT, c.dir)}:\n  ${mismatches.join("\n  ")}`);
}

/** Asserts that a promise rejects with an Error whose message contains every fragment. */
async function assertRejects(promise, fragments, name = "Error") {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof Error, `expected an Error, got ${typeof err}: ${err}`);
    assert.equal(err.name, name, `error name (message: ${err.message})`);
    for (const f of fragments) assert.ok(err.message.includes(f), `message ${JSON.stringify(err.message)} lacks ${JSON.stringify(f)}`);
    return true;
  });
}

const resnet = await loadCase("tests/fixtures/models/tiny_resnet");
const resnetSymbol = await readFile(resnet.symbolPath, "utf8");
const resnetParams = new Uint8Array(await readFile(resnet.paramsPath));
const resnetInput = resnet.inputs.data;

describe("init", () => {
  test("is idempotent and sizes the wasm memory", async () => {
    const first = init();
    assert.equal(init(), first, "a second call returns the first call's promise");
    await first;
    await init();
    assert.ok(wasmMemoryBytes() > 0);
  });
});

describe("outputs equal MXNet's", () => {
  for (const { dir, prefix, epoch } of MODEL_CASES) {
    test(`fromBytes: ${dir}`, async () => {
      const c = await loadCase(dir);
      const model = await Model.fromBytes(await readFile(c.symbolPath, "utf8"), await readFile(c.paramsPath), {
        backend: "cpu",
      });
      assert.equal(model.backend, "cpu");
      assert.equal(model.fallbackReason, undefined);
      assert.deepEqual(model.inputNames, ["data"]);
      assert.equal(model.outputCount, c.outputs.length);
      await assertMatchesMxnet(model, c);
      model.dispose();
    });

    test(`load from a file: URL prefix: ${dir}`, async () => {
      const c = await loadCase(dir);
      const events = [];
      const url = pathToFileURL(path.join(c.dir, prefix)).href;
      const model = await Model.load(url, { epoch, onProgress: (e) => events.push(e) });
      await assertMatchesMxnet(model, c);
      for (const file of ["symbol", "params"]) {
        const last = events.filter((e) => e.file === file).at(-1);
        assert.ok(last, `no progress event for the ${file} file`);
        assert.equal(last.loaded, last.total);
        assert.equal(last.url, pathToFileURL(file === "symbol" ? c.symbolPath : c.paramsPath).href);
      }
      model.dispose();
    });
  }

  test("load({symbol, params}) with paths relative to the working directory", async () => {
    const model = await Model.load({
      symbol: path.relative(process.cwd(), resnet.symbolPath),
      params: path.relative(process.cwd(), resnet.paramsPath),
    });
    await assertMatchesMxnet(model, resnet);
    model.dispose();
  });

  test("several inputs by name, in a given order (multi_input_order)", async () => {
    const c = await loadCase("tests/fixtures/flows/multi_input_order");
    const model = await Model.load({ symbol: pathToFileURL(c.symbolPath), params: pathToFileURL(c.paramsPath) }, {
      inputs: c.inputNames,
    });
    assert.deepEqual(model.inputNames, c.inputNames);
    await assertMatchesMxnet(model, c);
    // The same inputs as an array in inputNames order.
    const outputs = await model.run(c.inputNames.map((n) => c.inputs[n]));
    assert.deepEqual(compareOutputs(outputs, c.outputs, c.spec.rtol, c.spec.atol), []);
    model.dispose();
  });

  test("three output heads (multi_output)", async () => {
    const c = await loadCase("tests/fixtures/flows/multi_output");
    const model = await Model.fromBytes(await readFile(c.symbolPath, "utf8"), await readFile(c.paramsPath));
    assert.equal(model.outputCount, 3);
    await assertMatchesMxnet(model, c);
    model.dispose();
  });

  test("prefixMap as an object and as FROM=TO strings (prefix_map)", async () => {
    const c = await loadCase("tests/fixtures/flows/prefix_map");
    const symbol = await readFile(c.symbolPath, "utf8");
    const params = await readFile(c.paramsPath);
    await assertRejects(Model.fromBytes(symbol, params), ["is missing in file"]);
    const [from, to] = c.spec.prefix_map[0].split("=");
    for (const prefixMap of [{ [from]: to }, c.spec.prefix_map]) {
      const model = await Model.fromBytes(symbol, params, { prefixMap });
      await assertMatchesMxnet(model, c);
      model.dispose();
    }
  });
});

describe("run inputs", () => {
  let model;
  before(async () => {
    model = await Model.fromBytes(resnetSymbol, resnetParams);
  });
  after(() => model.dispose());

  test("by name, as an array, as a single tensor, and converted from other arrays", async () => {
    const [byName] = await model.run({ data: resnetInput });
    const [byArray] = await model.run([resnetInput]);
    const [single] = await model.run(resnetInput);
    const [fromPlain] = await model.run({ data: Array.from(resnetInput.data), shape: resnetInput.shape });
    const [fromF64] = await model.run({ data: Float64Array.from(resnetInput.data), shape: resnetInput.shape });
    for (const out of [byArray, single, fromPlain, fromF64]) assert.deepEqual(out, byName);
    assert.ok(byName.data instanceof Float32Array);
    assert.ok(Array.isArray(byName.shape));
  });

  test("concurrent runs are queued and all resolve", async () => {
    const results = await Promise.all([1, 2, 3].map(() => model.run({ data: resnetInput })));
    for (const r of results) assert.deepEqual(r, results[0]);
  });

  test("getters work during a run; info() asks to wait for it", async () => {
    const running = model.run({ data: resnetInput });
    assert.deepEqual([model.backend, model.inputNames, model.outputCount], ["cpu", ["data"], 1]);
    assert.throws(() => model.info(), /while run\(\) is in progress/);
    await running;
    assert.equal(model.info().outputs.length, 1);
  });

  test("data length that does not match the shape", async () => {
    const shape = resnetInput.shape;
    const needed = shape.reduce((a, b) => a * b, 1);
    await assertRejects(model.run({ data: { data: new Float32Array(100), shape } }), [
      `input 'data': shape [${shape.join(",")}] needs ${needed} values but data has 100`,
    ]);
  });

  test("a shape the model cannot take is the library's error", async () => {
    const [n, ch, h, w] = resnetInput.shape;
    // Right number of values, wrong channel count: the first convolution rejects it.
    await assertRejects(model.run({ data: { data: resnetInput.data, shape: [n, ch * h, w, 1] } }), [
      `inputs of shape (${n}, ${ch * h}, ${w}, 1) do not fit the model`,
      "Convolution",
    ]);
    await assertRejects(model.run({ data: { data: resnetInput.data, shape: [n * ch * h * w] } }), [
      "do not fit the model",
    ]);
    // The model still runs after a rejected input.
    const [out] = await model.run({ data: resnetInput });
    assert.deepEqual(compareOutputs([out], resnet.outputs, resnet.spec.rtol, resnet.spec.atol), []);
  });

  test("unknown, missing and malformed inputs", async () => {
    await assertRejects(model.run({ image: resnetInput }), ["unknown input 'image'", "data"]);
    await assertRejects(model.run({}), ["missing input 'data'"]);
    await assertRejects(model.run([resnetInput, resnetInput]), ["takes 1 input", "got 2"]);
    await assertRejects(model.run({ data: { data: resnetInput.data, shape: [1, -3, 8, 8] } }), ["non-negative integers"], "TypeError");
    await assertRejects(model.run({ data: { data: resnetInput.data, shape: "1,3,8,8" } }), ["shape must be an array"], "TypeError");
    await assertRejects(model.run({ data: { data: "abc", shape: [3] } }), ["Float32Array"], "TypeError");
    await assertRejects(model.run(null), ["run() takes inputs"], "TypeError");
  });

  test("info with and without shapes", () => {
    const info = model.info();
    assert.equal(info.mxnetVersion.split(".").length, 3);
    assert.deepEqual(info.inputs, [{ name: "data", shape: null }]);
    assert.equal(info.outputs.length, 1);
    assert.equal(info.flops, null);
    assert.ok(info.opCounts.Convolution > 0);
    assert.deepEqual(info.opFamilies.convolution, ["Convolution"]);
    assert.ok(info.params.some((p) => p.role === "weight") && info.params.some((p) => p.role === "aux"));
    assert.equal(info.paramCount, info.params.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0));
    const shaped = model.info({ data: resnetInput.shape });
    assert.deepEqual(shaped.inputs[0].shape, resnetInput.shape);
    assert.deepEqual(shaped.outputs[0].shape, resnet.outputs[0].shape);
    assert.ok(shaped.flops > 0);
    assert.deepEqual(model.info([resnetInput.shape]), shaped);
    assert.throws(() => model.info({ image: [1] }), /unknown input 'image'/);
    assert.throws(() => model.info([]), /needs 1 shape/);
  });
});

describe("backends", () => {
  test("cpu is used as asked; auto falls back with a reason; unknown names are rejected", async () => {
    const cpu = await Model.fromBytes(resnetSymbol, resnetParams, { backend: "cpu" });
    assert.equal(cpu.backend, "cpu");
    assert.equal(cpu.fallbackReason, undefined);
    cpu.dispose();
    const auto = await Model.fromBytes(resnetSymbol, resnetParams, { backend: "auto" });
    assert.ok(["cpu", "webgpu"].includes(auto.backend));
    if (auto.backend === "cpu") assert.ok(auto.fallbackReason.length > 0, "auto chose the CPU without saying why");
    auto.dispose();
    await assertRejects(Model.fromBytes(resnetSymbol, resnetParams, { backend: "tpu" }), ["tpu"]);
  });
});

describe("precision", () => {
  test('"f16" applies to WebGPU only: the CPU runs f32 and matches MXNet; other values are refused', async () => {
    const model = await Model.fromBytes(resnetSymbol, resnetParams, { backend: "cpu", precision: "f16" });
    try {
      assert.equal(model.precision, "f32");
      assert.equal(model.precisionNote, undefined);
      const [out] = await model.run({ data: resnetInput });
      assert.deepEqual(compareOutputs([out], resnet.outputs, resnet.spec.rtol, resnet.spec.atol), []);
    } finally {
      model.dispose();
    }
    for (const bad of ["fp16", "F16", 16, null]) {
      await assertRejects(Model.fromBytes(resnetSymbol, resnetParams, { precision: bad }), ["precision", '"f32" or "f16"'], "TypeError");
    }
  });
});

describe("memoryLimit", () => {
  test("a plan over the limit is refused with its size; within it the model runs", async () => {
    const small = await Model.fromBytes(resnetSymbol, resnetParams, { backend: "cpu", memoryLimit: 1024 });
    try {
      // The model loads (weights are not activations); its forward pass does not fit in 1 KiB.
      await assertRejects(small.run({ data: resnetInput }), ["memory limit of 1.0 KiB"]);
    } finally {
      small.dispose();
    }
    const roomy = await Model.fromBytes(resnetSymbol, resnetParams, { backend: "cpu", memoryLimit: 256 * 1024 ** 2 });
    try {
      const [out] = await roomy.run({ data: resnetInput });
      assert.deepEqual(compareOutputs([out], resnet.outputs, resnet.spec.rtol, resnet.spec.atol), []);
    } finally {
      roomy.dispose();
    }
  });

  test("must be a positive integer number of bytes", async () => {
    for (const bad of [0, -1, 1.5, "1G", Number.MAX_VALUE]) {
      await assertRejects(Model.fromBytes(resnetSymbol, resnetParams, { memoryLimit: bad }), ["memoryLimit"], "TypeError");
    }
  });
});

describe("errors", () => {
  let tmp;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "mxnet-web-test-"));
  });
  after(() => rm(tmp, { recursive: true, force: true }));

  test("a missing file names the file and its URL", async () => {
    const prefix = path.join(tmp, "nothing");
    await writeFile(`${prefix}-symbol.json`, resnetSymbol);
    const url = pathToFileURL(`${prefix}-0000.params`).href;
    await assertRejects(Model.load(pathToFileURL(prefix)), [`cannot read params file ${url}`, "ENOENT"]);
  });

  test("a truncated params file (from disk and from bytes)", async () => {
    const prefix = path.join(tmp, "truncated");
    await writeFile(`${prefix}-symbol.json`, resnetSymbol);
    await writeFile(`${prefix}-0000.params`, resnetParams.subarray(0, resnetParams.length >> 1));
    await assertRejects(Model.load(pathToFileURL(prefix)), ["truncated-0000.params"]);
    await assertRejects(Model.fromBytes(resnetSymbol, resnetParams.subarray(0, 100), { paramsName: "cut.params" }), [
      "cut.params",
    ]);
    await assertRejects(Model.fromBytes(resnetSymbol, new Uint8Array(0)), []);
  });

  test("a malformed symbol file", async () => {
    await assertRejects(Model.fromBytes("{ not json", resnetParams, { symbolName: "bad-symbol.json" }), [
      "bad-symbol.json",
    ]);
    await assertRejects(Model.fromBytes(new Uint8Array([0xff, 0xfe]), resnetParams), ["not UTF-8"]);
  });

  test("bad options", async () => {
    await assertRejects(Model.load("x", { epoch: -1 }), ["epoch"], "TypeError");
    await assertRejects(Model.load(42), ["URL prefix"], "TypeError");
    await assertRejects(Model.fromBytes(resnetSymbol, "params"), ["paramsBytes"], "TypeError");
    await assertRejects(Model.fromBytes(resnetSymbol, resnetParams, { prefixMap: ["no-equals-sign"] }), ["FROM=TO"]);
  });

  test("an already aborted signal", async () => {
    const controller = new AbortController();
    controller.abort();
    await assertRejects(Model.load(pathToFileURL(path.join(resnet.dir, "model")), { signal: controller.signal }), [], "AbortError");
  });
});

describe("over HTTP (Node's fetch)", { timeout: 60_000 }, () => {
  let server;
  before(async () => {
    server = await startServer(ROOT);
  });
  after(() => server.close());

  test("progress events are monotonic and end at the Content-Length", async () => {
    const events = [];
    const model = await Model.load(`${server.origin}/tests/fixtures/legacy/mtcnn_det3/det3`, {
      epoch: 1,
      onProgress: (e) => events.push(e),
    });
    const c = await loadCase("tests/fixtures/legacy/mtcnn_det3");
    await assertMatchesMxnet(model, c);
    model.dispose();
    for (const [file, filePath] of [["symbol", c.symbolPath], ["params", c.paramsPath]]) {
      const own = events.filter((e) => e.file === file);
      const size = (await readFile(filePath)).length;
      assert.ok(own.length >= 2, `${file}: ${own.length} events`);
      for (let i = 1; i < own.length; i++) assert.ok(own[i].loaded >= own[i - 1].loaded, `${file}: loaded went down`);
      assert.ok(own.every((e) => e.total === size), `${file}: total is not the file size ${size}`);
      assert.equal(own.at(-1).loaded, size);
    }
  });

  test("without Content-Length the total is undefined", async () => {
    const events = [];
    const base = `${server.origin}/tests/fixtures/models/tiny_resnet/`;
    const model = await Model.load(
      { symbol: `${base}model-symbol.json?chunked=1`, params: `${base}model-0000.params?chunked=1` },
      { onProgress: (e) => events.push(e) },
    );
    await assertMatchesMxnet(model, resnet);
    model.dispose();
    assert.ok(events.length > 0 && events.every((e) => e.total === undefined));
    assert.equal(events.filter((e) => e.file === "params").at(-1).loaded, resnetParams.length);
  });

  test("HTTP 404 names the file and URL", async () => {
    const url = `${server.origin}/tests/fixtures/models/tiny_resnet/model-0007.params`;
    await assertRejects(Model.load(`${server.origin}/tests/fixtures/models/tiny_resnet/model`, { epoch: 7 }), [
      `cannot fetch params file ${url}: HTTP 404 Not Found`,
    ]);
  });

  test("aborting during the download rejects with an AbortError", async () => {
    const controller = new AbortController();
    const base = `${server.origin}/tests/fixtures/models/tiny_resnet/`;
    const events = [];
    const started = Date.now();
    const load = Model.load(
      { symbol: `${base}model-symbol.json`, params: `${base}model-0000.params?slow=500` },
      {
        signal: controller.signal,
        onProgress: (e) => {
          events.push(e);
          if (e.file === "params" && e.loaded > 0) controller.abort();
        },
      },
    );
    await assertRejects(load, [], "AbortError");
    assert.ok(events.some((e) => e.file === "params" && e.loaded > 0 && e.loaded < resnetParams.length));
    // In full, the slow file takes 3.5 s.
    assert.ok(Date.now() - started < 2500, "the abort did not stop the download");
  });

  test("a custom fetch", async () => {
    const seen = [];
    const fetch = (url, init) => {
      seen.push(url);
      return globalThis.fetch(url, init);
    };
    const model = await Model.load(`${server.origin}/tests/fixtures/models/tiny_resnet/model`, { fetch });
    model.dispose();
    assert.equal(seen.length, 2);
    // A fetch returning a body-less response-like object is read with arrayBuffer().
    const bodyless = async (url) => {
      const r = await globalThis.fetch(url);
      const bytes = await r.arrayBuffer();
      return { ok: true, status: 200, statusText: "OK", headers: r.headers, body: null, arrayBuffer: async () => bytes };
    };
    const m2 = await Model.load(`${server.origin}/tests/fixtures/models/tiny_resnet/model`, { fetch: bodyless });
    await assertMatchesMxnet(m2, resnet);
    m2.dispose();
  });
});

describe("dispose", () => {
  test("later calls throw, a second dispose is a no-op", async () => {
    const model = await Model.fromBytes(resnetSymbol, resnetParams);
    model.dispose();
    model.dispose();
    await assertRejects(model.run({ data: resnetInput }), ["mxnet-web: this model was disposed"]);
    assert.throws(() => model.info(), { message: "mxnet-web: this model was disposed" });
  });

  test("a run in flight completes; the model is freed after it", async () => {
    const model = await Model.fromBytes(resnetSymbol, resnetParams);
    const running = model.run({ data: resnetInput });
    model.dispose();
    const [out] = await running;
    assert.deepEqual(compareOutputs([out], resnet.outputs, resnet.spec.rtol, resnet.spec.atol), []);
    await assertRejects(model.run({ data: resnetInput }), ["disposed"]);
  });

  test("50 load/run/dispose cycles do not grow the wasm memory", async () => {
    // MTCNN O-net: 1.6 MB of parameters, so a model that is not freed costs ~2.7 MB per cycle.
    const c = await loadCase("tests/fixtures/legacy/mtcnn_det3");
    const symbol = await readFile(c.symbolPath, "utf8");
    const params = await readFile(c.paramsPath);
    let after5 = 0;
    for (let i = 1; i <= 50; i++) {
      const model =
        i % 10 === 0
          ? await Model.load({ symbol: pathToFileURL(c.symbolPath), params: pathToFileURL(c.paramsPath) })
          : await Model.fromBytes(symbol, params);
      await model.run(c.inputs);
      model.dispose();
      if (i === 5) after5 = wasmMemoryBytes();
    }
    const grown = wasmMemoryBytes() - after5;
    assert.ok(grown <= 16 << 20, `wasm memory grew by ${grown} bytes between cycles 5 and 50`);
  });
});
