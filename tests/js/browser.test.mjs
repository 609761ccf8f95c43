// The npm package in a real browser: Debian's Chromium (/usr/bin/chromium, never a downloaded
// one) driven by playwright-core, loading pkg/index.js from a local static server. The checks
// themselves live in browser-checks.mjs and run in the page; this file asserts on their results.
//
// Every check runs for each backend in BACKENDS, in three browsers (see BROWSERS): WebGPU
// enabled, WebGPU without an adapter, and no navigator.gpu, where "auto" must fall back to the CPU.
// Environment: CHROMIUM_PATH (default /usr/bin/chromium), MXNET_WEB_BACKENDS (default
// "cpu,auto,webgpu"; "webgpu" is checked where an adapter exists: SwiftShader in headless Chromium).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { access, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

import { MODEL_CASES } from "./compare.mjs";
import { startServer } from "./server.mjs";

const ROOT = path.resolve(fileURLToPath(import.meta.url), "../../..");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const BACKENDS = (process.env.MXNET_WEB_BACKENDS ?? "cpu,auto,webgpu").split(",").map((s) => s.trim());

const COMMON_ARGS = [
  "--no-sandbox",
  "--disable-gpu-sandbox",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
// Chromium keeps navigator.gpu whatever the flags; without --enable-unsafe-webgpu (on a machine
// without a supported GPU) requestAdapter() resolves to null. A browser without WebGPU at all
// (older Safari, Firefox on Linux) is simulated by deleting navigator.gpu before the page runs.
const BROWSERS = [
  { name: "WebGPU enabled", args: ["--enable-unsafe-webgpu"], removeGpu: false },
  { name: "WebGPU without an adapter", args: ["--disable-features=WebGPU"], removeGpu: false },
  { name: "no WebGPU (navigator.gpu absent)", args: ["--disable-features=WebGPU"], removeGpu: true },
];

await access(path.join(ROOT, "pkg/wasm/mxnet_web_bg.wasm")).catch(() => {
  throw new Error("pkg/wasm/mxnet_web_bg.wasm is missing: build the package first with `npm run build`");
});
await access(CHROMIUM).catch(() => {
  throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH`);
});

/** No check should take long; a hung page fails the test instead of hanging the run. */
const TIMEOUT = { timeout: 30_000 };

const RESNET = "tests/fixtures/models/tiny_resnet";
/** 1.6 MB of parameters: a model that is not freed shows as ~2.7 MB of wasm memory per cycle. */
const MTCNN_ONET = "tests/fixtures/legacy/mtcnn_det3";

/** Asserts a rejection summary from the page: an Error with this name and these fragments. */
function assertRejected(result, fragments, name = "Error") {
  assert.ok(!result.resolved, "expected a rejection but the promise resolved");
  assert.ok(result.isError, `expected an Error, got ${JSON.stringify(result)}`);
  assert.equal(result.name, name, `error name (message: ${result.message})`);
  for (const f of fragments) {
    assert.ok(result.message.includes(f), `message ${JSON.stringify(result.message)} lacks ${JSON.stringify(f)}`);
  }
}

/** Asserts that the model runs on the backend asked for (auto: WebGPU or a CPU fallback with a reason). */
function assertBackend(result, backend) {
  if (backend === "auto") {
    assert.ok(["cpu", "webgpu"].includes(result.backend), `backend ${result.backend}`);
    if (result.backend === "cpu") assert.ok(result.fallbackReason, "auto fell back to the CPU without a reason");
  } else {
    assert.equal(result.backend, backend);
    assert.equal(result.fallbackReason, null);
  }
}

/** Progress events of one file: monotonic, total = Content-Length, ending at the file size. */
function assertProgress(events, file, size) {
  const own = events.filter((e) => e.file === file);
  assert.ok(own.length > 0, `no progress events for the ${file} file`);
  for (let i = 1; i < own.length; i++) {
    assert.ok(own[i].loaded >= own[i - 1].loaded, `${file}: loaded went from ${own[i - 1].loaded} to ${own[i].loaded}`);
  }
  for (const e of own) assert.equal(e.total, size, `${file}: total ${e.total}, file size ${size}`);
  assert.equal(own.at(-1).loaded, size, `${file}: the last event has loaded ${own.at(-1).loaded}`);
}

describe("browser (Chromium)", () => {
  let server;
  before(async () => {
    server = await startServer(ROOT);
  });
  after(async () => {
    await server?.close();
  });

  for (const config of BROWSERS) {
    describe(config.name, () => {
      let browser;
      let page;
      let env;
      const consoleLines = [];

      /** Runs a check in the page; a failure carries the page's recent console output. */
      async function check(name, args) {
        const mark = consoleLines.length;
        try {
          return await page.evaluate(([n, a]) => window.checks[n](a), [name, args]);
        } catch (err) {
          const lines = consoleLines.slice(mark).slice(-20);
          err.message += lines.length ? `\npage console:\n  ${lines.join("\n  ")}` : "";
          throw err;
        }
      }

      before(async () => {
        browser = await chromium.launch({ executablePath: CHROMIUM, args: [...COMMON_ARGS, ...config.args] });
        page = await browser.newPage();
        if (config.removeGpu) await page.addInitScript(() => delete Navigator.prototype.gpu);
        page.on("console", (m) => consoleLines.push(`[${m.type()}] ${m.text()}`));
        page.on("pageerror", (e) => consoleLines.push(`[pageerror] ${e.message}`));
        await page.goto(`${server.origin}/tests/js/browser.html`);
        await page.waitForFunction(() => window.checks !== undefined || window.checksError !== undefined);
        const loadError = await page.evaluate(() => window.checksError);
        assert.equal(loadError, undefined, `the test page could not import the package:\n${loadError}`);
        env = await check("environment", {});
        if (config.removeGpu) assert.equal(env.navigatorGpu, false, "navigator.gpu was not removed");
      });
      after(async () => {
        await browser?.close();
      });

      for (const backend of BACKENDS) {
        describe(`backend ${backend}`, () => {
          // A forced "webgpu" backend needs an adapter; without one it must fail clearly.
          const skip = () => backend === "webgpu" && !env.adapter;

          test("initialises the wasm module", TIMEOUT, () => {
            assert.ok(env.wasmMemoryBytes > 0);
          });

          for (const { dir, prefix, epoch } of MODEL_CASES) {
            test(`load from a URL prefix with progress; outputs equal MXNet's: ${dir}`, TIMEOUT, async (t) => {
              if (skip()) return t.skip("no WebGPU adapter");
              const r = await check("loadPrefix", { dir, prefix, epoch, backend });
              assert.deepEqual(r.mismatches, [], r.mismatches.join("\n"));
              assertBackend(r, backend);
              const spec = JSON.parse(await readFile(path.join(ROOT, dir, "case.json"), "utf8"));
              assert.equal(r.outputCount, spec.outputs.length);
              assertProgress(r.events, "symbol", (await stat(path.join(ROOT, dir, spec.symbol))).size);
              assertProgress(r.events, "params", (await stat(path.join(ROOT, dir, spec.params))).size);
              assert.equal(r.events.find((e) => e.file === "params").url, `${server.origin}/${dir}/${spec.params}`);
            });
          }

          test("load({ symbol, params }) with absolute and relative URLs", TIMEOUT, async (t) => {
            if (skip()) return t.skip("no WebGPU adapter");
            const r = await check("loadExplicit", { dir: "tests/fixtures/legacy/mtcnn_det1", backend });
            assert.deepEqual(r.mismatches, [], r.mismatches.join("\n"));
            assertBackend(r, backend);
          });

          test("profile times each step on the GPU (null on the CPU backend)", TIMEOUT, async (t) => {
            if (skip()) return t.skip("no WebGPU adapter");
            const r = await check("profileSteps", { dir: RESNET, backend });
            assert.deepEqual(r.mismatches, [], r.mismatches.join("\n"));
            for (const [where, outcome, used] of [["main thread", r.main, r.backend], ["worker", r.worker, r.workerBackend]]) {
              if (used === "cpu") {
                assert.deepEqual(outcome, { profile: null }, where);
              } else if (env.timestampQuery) {
                const p = outcome.profile;
                assert.ok(p, `${where}: ${JSON.stringify(outcome)}`);
                assert.equal(p.clock, "gpu-timestamps", where);
                assert.ok(p.steps > 0 && p.named && p.conv && p.timesOk, `${where}: ${JSON.stringify(p)}`);
              } else {
                assert.match(outcome.error?.message ?? "", /timestamp-query/, `${where}: ${JSON.stringify(outcome)}`);
              }
            }
          });

          test('precision "f16": half-precision weights where the device has shader-f16, else f32 with a note', TIMEOUT, async (t) => {
            if (skip()) return t.skip("no WebGPU adapter");
            const r = await check("precisionF16", { dir: RESNET, backend });
            for (const [where, o] of [["main thread", r.main], ["worker", r.worker]]) {
              assert.deepEqual(o.mismatches, [], `${where}: ${o.mismatches.join("\n")}`);
              if (o.backend === "webgpu" && env.shaderF16) {
                assert.equal(o.precision, "f16", where);
                assert.equal(o.precisionNote, null, where);
              } else {
                assert.equal(o.precision, "f32", where);
                // On WebGPU without shader-f16 (SwiftShader) the note says why; the CPU is f32.
                if (o.backend === "webgpu") assert.match(o.precisionNote ?? "", /shader-f16/, where);
              }
            }
          });

          test("an aborted load rejects with an AbortError", TIMEOUT, async (t) => {
            if (skip()) return t.skip("no WebGPU adapter");
            const r = await check("abortLoad", { dir: RESNET, backend });
            assertRejected(r.during, [], "AbortError");
            assertRejected(r.before, [], "AbortError");
            assert.ok(r.events.some((e) => e.file === "params" && e.loaded > 0), "the abort came before any params bytes");
            // The slow params file takes 3.5 s to arrive in full.
            assert.ok(r.elapsedMs < 2500, `the aborted load took ${r.elapsedMs} ms: the download was not cancelled`);
          });

          test("HTTP 404 names the file and its URL", TIMEOUT, async (t) => {
            if (skip()) return t.skip("no WebGPU adapter");
            const r = await check("notFound", { dir: RESNET, backend });
            assertRejected(r, [`cannot fetch params file ${server.origin}/${RESNET}/model-0007.params: HTTP 404 Not Found`]);
          });

          test("a corrupt params file", TIMEOUT, async (t) => {
            if (skip()) return t.skip("no WebGPU adapter");
            const r = await check("corruptParams", { dir: RESNET, backend });
            assertRejected(r.fromBytes, ["params file half.params"]);
            assertRejected(r.served, [`params file ${server.origin}/${RESNET}/model-0000.params`]);
            assertRejected(r.garbage, ["params file"]);
          });

          test("wrong inputs are rejected and the model still runs", TIMEOUT, async (t) => {
            if (skip()) return t.skip("no WebGPU adapter");
            const r = await check("wrongInputs", { dir: RESNET, backend });
            const needed = r.shape.reduce((a, b) => a * b, 1);
            assertRejected(r.shortData, [`input 'data': shape [${r.shape.join(",")}] needs ${needed} values but data has 100`]);
            assertRejected(r.wrongShape, ["do not fit the model"]);
            assertRejected(r.unknownName, ["unknown input 'image'"]);
            assert.deepEqual(r.afterwards, []);
          });

          test("dispose frees the model: 50 load/run/dispose cycles keep the memory flat", TIMEOUT, async (t) => {
            if (skip()) return t.skip("no WebGPU adapter");
            const r = await check("disposeCycles", { dir: MTCNN_ONET, backend, iterations: 50 });
            assert.deepEqual(r.mismatches, []);
            const grown = r.afterAll - r.after5;
            assert.ok(grown <= 16 << 20, `wasm memory grew by ${grown} bytes from cycle 5 to cycle 50`);
            assertRejected(r.afterDispose, ["mxnet-web: this model was disposed"]);
            assert.equal(r.infoAfterDispose?.message, "mxnet-web: this model was disposed");
          });
        });
      }

      // Where WebGPU cannot run (no adapter, or a build without the WebGPU backend), asking for
      // it must fail with a message that says so; "auto" falls back instead (checked above).
      test("backend webgpu fails clearly where it is unavailable", TIMEOUT, async (t) => {
        if (env.adapter && BACKENDS.includes("webgpu")) return t.skip("WebGPU is available and tested above");
        const r = await page.evaluate(async (dir) => {
          const { Model } = await import("/pkg/index.js");
          try {
            (await Model.load(`/${dir}/model`, { backend: "webgpu" })).dispose();
            return { resolved: true };
          } catch (err) {
            return { isError: err instanceof Error, name: err.name, message: err.message };
          }
        }, RESNET);
        assertRejected(r, ["webgpu"]);
      });
    });
  }
});
