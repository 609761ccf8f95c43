// The JS/wasm boundary of the npm package under Node.js (issues 13 and 14): a trap of the
// WebAssembly module is contained (rejected promises with the panic message, never an uncaught
// exception or a promise that never settles; a fresh module for new loads), run() owns its
// inputs from the call, input types agree with index.d.ts, HTML pages where files were expected,
// progress totals under gzip, .params files too large for wasm, CommonJS, the packed tarball.
// Run with `node --test tests/js/` after `npm run build`.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { access, mkdtemp, readFile, rm, symlink, mkdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";

import { compareOutputs } from "./compare.mjs";
import { parseNpy } from "./npy.mjs";
import { startServer } from "./server.mjs";
import { emptyParams, oneOp } from "./test-helpers.mjs";

const ROOT = path.resolve(fileURLToPath(import.meta.url), "../../..");
const PKG = path.join(ROOT, "pkg");
await access(path.join(PKG, "wasm/mxnet_web_bg.wasm")).catch(() => {
  throw new Error("pkg/wasm/mxnet_web_bg.wasm is missing: build the package first with `npm run build`");
});
const pkg = await import("../../pkg/index.js");
const { Model, wasmMemoryBytes, __testFailure } = pkg;

const RESNET = path.join(ROOT, "tests/fixtures/models/tiny_resnet");
const resnetSymbol = await readFile(path.join(RESNET, "model-symbol.json"), "utf8");
const resnetParams = new Uint8Array(await readFile(path.join(RESNET, "model-0000.params")));
const resnetInput = parseNpy(await readFile(path.join(RESNET, "in_data.npy")));
const resnetOutput = parseNpy(await readFile(path.join(RESNET, "out_0.npy")));
const EMPTY_PARAMS = emptyParams();
const RTOL = 1e-4;
const ATOL = 1e-5;

async function assertRejects(promise, fragments, name = "Error") {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof Error, `expected an Error, got ${typeof err}: ${err}`);
    assert.equal(err.name, name, `error name (message: ${err.message})`);
    for (const f of fragments) assert.ok(err.message.includes(f), `message ${JSON.stringify(err.message)} lacks ${JSON.stringify(f)}`);
    return true;
  });
}

/** Runs node with `args` without blocking this process (whose test server must keep serving). */
function runNode(args, opts = {}) {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { encoding: "utf8", timeout: 30_000, ...opts }, (err, stdout, stderr) => {
      resolve({ status: err ? (err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Fails instead of hanging when a promise never settles. */
function settlesWithin(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function assertResnetRuns(model) {
  const [out] = await model.run({ data: resnetInput });
  assert.deepEqual(compareOutputs([out], [resnetOutput], RTOL, ATOL), []);
}

/** Records uncaught exceptions and unhandled rejections while `fn` runs (and shortly after). */
async function withoutUncaught(fn) {
  const seen = [];
  const onError = (err) => seen.push(`uncaught: ${err?.stack ?? err}`);
  const onRejection = (err) => seen.push(`unhandled rejection: ${err?.stack ?? err}`);
  process.on("uncaughtException", onError);
  process.on("unhandledRejection", onRejection);
  try {
    await fn();
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    process.off("uncaughtException", onError);
    process.off("unhandledRejection", onRejection);
  }
  assert.deepEqual(seen, [], "errors escaped to the process");
}

describe("a trap of the wasm module is contained (14.1)", () => {
  test("a panic inside a synchronous call: an Error with the panic message; models lost; new loads work", () =>
    withoutUncaught(async () => {
      const before = await Model.fromBytes(resnetSymbol, resnetParams, { backend: "cpu" });
      await assertResnetRuns(before);
      await assertRejects(__testFailure("sync"), ["WebAssembly module crashed", "deliberate panic for testing (__testTrapSync)"]);
      await assertRejects(before.run({ data: resnetInput }), ["this model was lost when the WebAssembly module crashed: load it again"]);
      assert.throws(() => before.info(), /this model was lost/);
      assert.equal(before.backend, "cpu", "cached getters still answer");
      before.dispose();
      before.dispose();
      assert.throws(() => before.info(), /disposed/);
      const fresh = await Model.fromBytes(resnetSymbol, resnetParams, { backend: "cpu" });
      await assertResnetRuns(fresh);
      assert.ok(wasmMemoryBytes() > 0);
      fresh.dispose();
    }));

  test("a panic inside an asynchronous call (the futures queue): pending calls reject, queued runs settle", () =>
    withoutUncaught(async () => {
      const model = await Model.fromBytes(resnetSymbol, resnetParams, { backend: "cpu" });
      const trap = __testFailure("async");
      // Queued behind whatever the trap interrupts: must settle, not hang.
      const queued = [model.run({ data: resnetInput }), model.run({ data: resnetInput })];
      await settlesWithin(
        assertRejects(trap, ["WebAssembly module crashed", "deliberate panic for testing (__testTrapAsync)"]),
        5000,
        "the trapped call",
      );
      const results = await settlesWithin(Promise.allSettled(queued), 5000, "runs queued on the model");
      for (const r of results) {
        if (r.status === "rejected") assert.match(r.reason.message, /crashed|was lost/);
      }
      await assertRejects(model.run({ data: resnetInput }), ["this model was lost"]);
      model.dispose();
      const fresh = await settlesWithin(Model.fromBytes(resnetSymbol, resnetParams, { backend: "auto" }), 10_000, "a new load");
      await assertResnetRuns(fresh);
      fresh.dispose();
    }));

  test("a model run that used to trap (UpSampling scale=1000000 on 1x3x8x8) rejects and the module recovers", () =>
    withoutUncaught(async () => {
      const other = await Model.fromBytes(resnetSymbol, resnetParams, { backend: "cpu" });
      const up = await Model.fromBytes(oneOp("UpSampling", { scale: "1000000", sample_type: "nearest", num_args: "1" }), EMPTY_PARAMS, {
        backend: "cpu",
      });
      const x = { data: new Float32Array(3 * 8 * 8), shape: [1, 3, 8, 8] };
      // Either a clean error (a size limit) or a contained trap: never a hang or an uncaught error.
      await settlesWithin(assert.rejects(up.run(x), Error), 20_000, "the UpSampling run");
      up.dispose();
      try {
        await assertResnetRuns(other);
      } catch (err) {
        assert.match(err.message, /this model was lost/);
      }
      other.dispose();
      const fresh = await Model.fromBytes(resnetSymbol, resnetParams, { backend: "cpu" });
      await assertResnetRuns(fresh);
      fresh.dispose();
    }));
});

describe("run() inputs (14.5, 14.8, 13.5)", () => {
  let model;
  before(async () => {
    model = await Model.fromBytes(resnetSymbol, resnetParams, { backend: "cpu" });
  });
  after(() => model?.dispose());

  test("run() copies its inputs when called: changing them before it resolves changes nothing", async () => {
    const data = resnetInput.data.slice();
    const pending = model.run({ data: { data, shape: resnetInput.shape } });
    data.fill(1000); // before the run has started (it waits for its turn on the model's queue)
    const [out] = await pending;
    assert.deepEqual(compareOutputs([out], [resnetOutput], RTOL, ATOL), []);
    // Queued behind another run too.
    const busy = model.run({ data: resnetInput });
    const data2 = resnetInput.data.slice();
    const second = model.run([{ data: data2, shape: resnetInput.shape }]);
    data2.fill(-7);
    await busy;
    assert.deepEqual(compareOutputs(await second, [resnetOutput], RTOL, ATOL), []);
  });

  test("a shape entry of 2^32 is too large, not 'negative'", async () => {
    await assertRejects(model.run({ data: { data: new Float32Array(1), shape: [2 ** 32, 1, 1, 1] } }), ["input 'data'", "too large", "4294967295"], "RangeError");
    assert.throws(() => model.info({ data: [1, 3, 2 ** 32, 8] }), /too large/);
  });

  test("every type of index.d.ts's TensorData is accepted, other values are rejected", async () => {
    const dts = await readFile(path.join(PKG, "index.d.ts"), "utf8");
    const union = /export type TensorData =([^;]+);/.exec(dts);
    assert.ok(union, "index.d.ts declares TensorData");
    const members = union[1].split("|").map((s) => s.trim()).filter(Boolean);
    assert.ok(members.includes("Float32Array") && members.length >= 9, members.join(" | "));
    const n = resnetInput.data.length;
    for (const member of members) {
      let data;
      if (member === "readonly number[]" || member === "number[]") data = Array.from(resnetInput.data);
      else if (typeof globalThis[member] === "function") data = globalThis[member].from(resnetInput.data, (v) => (member === "Float64Array" || member === "Float32Array" ? v : 1));
      else assert.fail(`index.d.ts names ${member}, which the test does not know`);
      assert.equal(data.length, n);
      const [out] = await model.run({ data: { data, shape: resnetInput.shape } });
      assert.equal(out.data.length, resnetOutput.data.length, member);
    }
    const shape = resnetInput.shape;
    const arrayLike = { length: n };
    for (let i = 0; i < n; i++) arrayLike[i] = 0;
    for (const [what, data] of [
      ["an array-like object", arrayLike],
      ["a BigInt64Array", new BigInt64Array(n)],
      ["a DataView", new DataView(new ArrayBuffer(4 * n))],
      ["an array of strings", Array.from({ length: n }, () => "1")],
      ["a string", "x".repeat(n)],
    ]) {
      await assertRejects(model.run({ data: { data, shape } }), ["input 'data'"], "TypeError").catch((err) => {
        err.message = `${what}: ${err.message}`;
        throw err;
      });
    }
  });
});

describe("downloads (13.2, 13.4, 13.5, 14.7)", { timeout: 60_000 }, () => {
  let server;
  before(async () => {
    server = await startServer(ROOT);
  });
  after(() => server?.close());

  const modelUrl = () => `${server.origin}/tests/fixtures/models/tiny_resnet/model`;

  test("an HTML page where a model file was expected names the URL and says so", async () => {
    const symbol = `${server.origin}/tests/fixtures/models/tiny_resnet/model-symbol.json?html=1`;
    const params = `${server.origin}/tests/fixtures/models/tiny_resnet/model-0000.params`;
    await assertRejects(Model.load({ symbol, params }), [`symbol file ${symbol}`, "the server returned an HTML page", "path"]);
    const htmlParams = `${params}?html=octet`; // sniffed: no text/html Content-Type
    await assertRejects(Model.load({ symbol: `${modelUrl()}-symbol.json`, params: htmlParams }), [
      `params file ${htmlParams}`,
      "the server returned an HTML page",
    ]);
  });

  test("an HTML page instead of the .wasm: an Error that says what happened and what to do", async () => {
    const index = JSON.stringify(pathToFileURL(path.join(PKG, "index.js")).href);
    for (const kind of ["1", "octet"]) {
      const url = `${server.origin}/pkg/wasm/mxnet_web_bg.wasm?html=${kind}`;
      const r = await runNode(["--input-type=module", "-e", `import init from ${index}; await init(${JSON.stringify(url)});`]);
      assert.notEqual(r.status, 0, "init() resolved on an HTML page");
      assert.match(r.stderr, /is not a WebAssembly module: the server returned an HTML page/);
      assert.match(r.stderr, /optimizeDeps: \{ exclude: \["mxnet-web"\] \}/);
      assert.doesNotMatch(r.stderr, /CompileError/);
    }
    // Not wasm, not HTML: the bytes found are named.
    const json = `${server.origin}/tests/fixtures/models/tiny_resnet/case.json`;
    const other = await runNode(["--input-type=module", "-e", `import init from ${index}; await init(${JSON.stringify(json)});`]);
    assert.match(other.stderr, /is not a WebAssembly module \(it starts with 7b 0a 20 22, expected 00 61 73 6d\)/);
    // The real .wasm over HTTP still instantiates.
    const ok = await runNode([
      "--input-type=module",
      "-e",
      `import init, { wasmMemoryBytes } from ${index}; await init(${JSON.stringify(`${server.origin}/pkg/wasm/mxnet_web_bg.wasm`)}); console.log(wasmMemoryBytes() > 0);`,
    ]);
    assert.equal(ok.stdout.trim(), "true", ok.stderr);
  });

  test("gzip: progress totals are undefined, or the sizes given in options", async () => {
    const sizes = {
      symbol: Buffer.byteLength(resnetSymbol),
      params: resnetParams.length,
    };
    const source = { symbol: `${modelUrl()}-symbol.json?gzip=1`, params: `${modelUrl()}-0000.params?gzip=1` };
    const plain = [];
    (await Model.load(source, { backend: "cpu", onProgress: (e) => plain.push(e) })).dispose();
    assert.ok(plain.length > 0 && plain.every((e) => e.total === undefined), JSON.stringify(plain.slice(0, 3)));
    const events = [];
    const model = await Model.load(source, { backend: "cpu", sizes, onProgress: (e) => events.push(e) });
    await assertResnetRuns(model);
    model.dispose();
    for (const file of ["symbol", "params"]) {
      const own = events.filter((e) => e.file === file);
      assert.ok(own.length > 0 && own.every((e) => e.total === sizes[file]), `${file}: ${JSON.stringify(own.slice(0, 3))}`);
      assert.equal(own.at(-1).loaded, sizes[file]);
    }
    // A wrong size given only affects progress: the last event still ends at the real size.
    const wrong = [];
    (await Model.load(source, { backend: "cpu", sizes: { params: 10 }, onProgress: (e) => wrong.push(e) })).dispose();
    const last = wrong.filter((e) => e.file === "params").at(-1);
    assert.equal(last.loaded, resnetParams.length);
    assert.equal(last.total, resnetParams.length);
    await assert.rejects(Model.load(source, { sizes: { params: -1 } }), /sizes must be/);
  });

  test("with a custom fetch, file: URLs and paths are still read from disk", async () => {
    const asked = [];
    const fetch = (url, init) => {
      asked.push(url);
      return globalThis.fetch(url, init);
    };
    const rel = path.relative(process.cwd(), path.join(RESNET, "model"));
    const model = await Model.load(rel, { backend: "cpu", fetch });
    await assertResnetRuns(model);
    model.dispose();
    const m2 = await Model.load(pathToFileURL(path.join(RESNET, "model")), { backend: "cpu", fetch });
    m2.dispose();
    assert.deepEqual(asked, [], "the custom fetch was asked for file: URLs");
    // ... and used for http:
    const m3 = await Model.load(modelUrl(), { backend: "cpu", fetch });
    m3.dispose();
    assert.equal(asked.length, 2);
  });

  test("a .params file too large for wasm memory is refused before it is downloaded", async () => {
    let pulls = 0;
    let cancelled = false;
    const fetch = async (url) => {
      if (url.endsWith(".json")) return globalThis.fetch(url);
      const body = new ReadableStream({
        pull(controller) {
          pulls++;
          controller.enqueue(new Uint8Array(1 << 20));
        },
        cancel() {
          cancelled = true;
        },
      });
      return new Response(body, { headers: { "Content-Length": "2500000000", "Content-Type": "application/octet-stream" } });
    };
    const memory = wasmMemoryBytes();
    await assertRejects(Model.load(modelUrl(), { backend: "cpu", fetch }), [
      "params file",
      "2.33 GiB",
      "too large for WebAssembly",
      "4 GiB",
    ]);
    assert.ok(pulls <= 1, `${pulls} MiB were read`);
    assert.ok(cancelled, "the download was not cancelled");
    assert.equal(wasmMemoryBytes(), memory, "wasm memory grew");
    // In memory: 2.5 GB of zeros that the OS never materialises unless they are copied.
    const huge = new Uint8Array(2_500_000_000);
    await assertRejects(Model.fromBytes(resnetSymbol, huge, { backend: "cpu", paramsName: "huge.params" }), [
      "the params file huge.params is 2.33 GiB: too large for WebAssembly",
    ]);
    assert.equal(wasmMemoryBytes(), memory, "wasm memory grew");
  });
});

// Every relative module index.js imports, and every file its modules locate with import.meta.url:
// what a browser may download of the package. (JSDoc's `import("./index.d.ts")` type references
// are not loads.)
async function loadedFiles() {
  const found = new Set(["index.js"]);
  const queue = ["index.js"];
  while (queue.length > 0) {
    const file = queue.pop();
    const text = await readFile(path.join(PKG, file), "utf8");
    const refs = [
      ...text.matchAll(/\bfrom\s+["'](\.{1,2}\/[^"']+)["']/g),
      ...text.matchAll(/\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g),
      ...text.matchAll(/new URL\(\s*["']([^"':]+)["']\s*,\s*import\.meta\.url\s*\)/g),
    ].map((m) => path.posix.normalize(path.posix.join(path.posix.dirname(file), m[1])));
    for (const ref of refs) {
      if (!found.has(ref) && !ref.endsWith(".d.ts")) {
        found.add(ref);
        if (ref.endsWith(".js")) queue.push(ref);
      }
    }
  }
  return found;
}

describe("packaging (13.3, 13.6)", { timeout: 120_000 }, () => {
  test("npm pack lists LICENSE, the CommonJS entry and every file index.js loads", async () => {
    const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: PKG, encoding: "utf8" });
    const files = JSON.parse(out)[0].files.map((f) => f.path);
    const needed = new Set(["LICENSE", "README.md", "package.json", "index.js", "index.cjs", "index.d.ts", "THIRD-PARTY-NOTICES.md"]);
    for (const f of await loadedFiles()) needed.add(f);
    assert.ok(needed.has("wasm/mxnet_web_bg.wasm") && needed.has("wasm/mxnet_web.js"), [...needed].join(", "));
    for (const f of needed) assert.ok(files.includes(f), `the tarball lacks ${f} (it has ${files.join(", ")})`);
    const license = await readFile(path.join(PKG, "LICENSE"), "utf8");
    assert.match(license, /Apache License\s+Version 2\.0, January 2004/);
    const manifest = JSON.parse(await readFile(path.join(PKG, "package.json"), "utf8"));
    assert.equal(manifest.license, "Apache-2.0");
  });

  test("what a browser downloads (index.js's module graph and the .wasm) is under 500 KB gzipped (issue 9)", async () => {
    // Single-threaded: index.js's static graph with wasm/. Threaded (threads() > 1): the same
    // minus wasm/'s .wasm, plus what index.js loads by computed URLs: wasm-mt/'s glue and .wasm
    // and the workers' threads.js (which imports that glue, fetched once).
    const single = await loadedFiles();
    const threaded = new Set([...single, "wasm-mt/mxnet_web.js", "wasm-mt/mxnet_web_bg.wasm", "threads.js"]);
    threaded.delete("wasm/mxnet_web_bg.wasm");
    assert.ok(single.has("wasm/mxnet_web_bg.wasm") && !single.has("wasm-mt/mxnet_web_bg.wasm"), [...single].join(", "));
    const index = await readFile(path.join(PKG, "index.js"), "utf8");
    for (const f of ["wasm-mt/", "mxnet_web.js", "mxnet_web_bg.wasm", "threads.js"]) {
      assert.ok(index.includes(`"${f.startsWith("wasm") ? "./" + f : f}"`) || index.includes(f), `index.js no longer names ${f}: update this test`);
    }
    for (const [variant, files] of [["single-threaded", single], ["threaded", threaded]]) {
      const sizes = [];
      for (const f of files) {
        sizes.push([f, gzipSync(await readFile(path.join(PKG, f)), { level: 9 }).length]);
      }
      const total = sizes.reduce((sum, [, n]) => sum + n, 0);
      const table = sizes.map(([f, n]) => `${f} ${n}`).join(", ");
      console.log(`package download (${variant}), gzip -9: ${total} bytes (${table})`);
      assert.ok(total < 500_000, `${variant}: ${total} bytes gzipped: over the 500 KB budget (${table})`);
    }
  });

  test('require("mxnet-web") works, or fails with a message that says how to import it', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "mxnet-web-cjs-"));
    try {
      await mkdir(path.join(dir, "node_modules"));
      await symlink(PKG, path.join(dir, "node_modules", "mxnet-web"), "dir");
      const script = 'const m = require("mxnet-web"); console.log(typeof m.Model, typeof m.default);';
      const r = spawnSync(process.execPath, ["-e", script], { cwd: dir, encoding: "utf8" });
      const supported = spawnSync(process.execPath, ["--input-type=commonjs", "-e", "console.log(typeof process.features.require_module)"], { encoding: "utf8" });
      if (r.status === 0) {
        assert.equal(r.stdout.trim(), "function function");
      } else {
        assert.match(r.stderr, /mxnet-web is an ES module/, r.stderr);
      }
      // Where require() cannot load ES modules, the message says what to do.
      const old = spawnSync(process.execPath, ["--no-experimental-require-module", "-e", script], { cwd: dir, encoding: "utf8" });
      if (!/bad option|not allowed in NODE_OPTIONS/.test(old.stderr)) {
        assert.notEqual(old.status, 0, `require() succeeded without require(esm): ${old.stdout}`);
        assert.match(old.stderr, /mxnet-web is an ES module, and this Node\.js cannot require\(\) ES modules/);
        assert.match(old.stderr, /import \{ Model \} from "mxnet-web"/);
      } else {
        assert.ok(supported.stdout, "this Node.js has no --no-experimental-require-module");
      }
      // A CommonJS module can still import() it.
      const dyn = spawnSync(process.execPath, ["-e", 'import("mxnet-web").then((m) => console.log(typeof m.Model))'], { cwd: dir, encoding: "utf8" });
      assert.equal(dyn.stdout.trim(), "function", dyn.stderr);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
