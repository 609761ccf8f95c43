// Failure containment and backend choice in Chromium (issues 13.1, 13.2, 14.1, 14.2, 14.6):
// "auto" skips a software adapter (SwiftShader) while "webgpu" still uses it; a trap of the wasm
// module rejects what was pending, never escapes as an uncaught error and leaves new loads
// working; a WebGPU run that cannot work does not hang the other WebGPU work of the page; a lost
// device is replaced; an abort during the weight upload rejects the load; an HTML page instead
// of the .wasm is reported. Checks run in the page (robustness-checks.mjs).
// Environment: CHROMIUM_PATH (default /usr/bin/chromium).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { access } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

import { startServer } from "./server.mjs";

const ROOT = path.resolve(fileURLToPath(import.meta.url), "../../..");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = [
  "--no-sandbox",
  "--disable-gpu-sandbox",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--enable-unsafe-webgpu",
];
const TIMEOUT = { timeout: 120_000 };

await access(path.join(ROOT, "pkg/wasm/mxnet_web_bg.wasm")).catch(() => {
  throw new Error("pkg/wasm/mxnet_web_bg.wasm is missing: build the package first with `npm run build`");
});
await access(CHROMIUM).catch(() => {
  throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH`);
});

function assertRejected(r, fragments, name = "Error") {
  assert.ok(!r.hung, "the promise never settled");
  assert.ok(!r.resolved, `expected a rejection, got ${JSON.stringify(r)}`);
  assert.ok(r.isError, `expected an Error, got ${JSON.stringify(r)}`);
  assert.equal(r.name, name, `error name (message: ${r.message})`);
  for (const f of fragments) assert.ok(r.message.includes(f), `message ${JSON.stringify(r.message)} lacks ${JSON.stringify(f)}`);
}

/** A fresh tiny-ResNet load that ran and matched MXNet. */
function assertWorks(r, what) {
  assert.ok(!r.hung && !r.isError, `${what}: ${JSON.stringify(r)}`);
  assert.deepEqual(r.mismatches, [], `${what}: ${JSON.stringify(r)}`);
}

describe("robustness in Chromium with WebGPU enabled (SwiftShader)", () => {
  let server;
  let browser;
  let page;
  let env;
  const logs = [];

  async function newPage() {
    const p = await browser.newPage();
    p.on("console", (m) => logs.push(`[${m.type()}] ${m.text()}`));
    p.on("pageerror", (e) => logs.push(`[pageerror] ${e.message}`));
    await p.goto(`${server.origin}/tests/js/robustness.html`);
    await p.waitForFunction(() => window.checks !== undefined || window.checksError !== undefined);
    assert.equal(await p.evaluate(() => window.checksError), undefined);
    return p;
  }

  /** Runs a check; no uncaught error may reach the page while it runs. */
  async function check(name, args = {}) {
    const mark = logs.length;
    const r = await page.evaluate(([n, a]) => window.checks[n](a), [name, args]);
    const errors = logs.slice(mark).filter((l) => l.startsWith("[pageerror]"));
    assert.deepEqual(errors, [], `uncaught errors in the page during ${name}`);
    return r;
  }

  before(async () => {
    server = await startServer(ROOT);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    page = await newPage();
    env = await check("environment");
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test("auto treats a software adapter as no GPU; an explicit webgpu still uses it (13.1)", TIMEOUT, async (t) => {
    if (!env.adapter) return t.skip("no WebGPU adapter in this Chromium");
    const r = await check("autoAndExplicit");
    assertWorks(r.webgpu, "webgpu");
    assert.equal(r.webgpu.backend, "webgpu");
    assertWorks(r.auto, "auto");
    if (env.adapter.isFallbackAdapter || /swiftshader/i.test(env.adapter.description)) {
      assert.equal(r.auto.backend, "cpu", `auto on ${JSON.stringify(env.adapter)}`);
      assert.match(r.auto.fallbackReason, /software renderer/);
      assert.match(r.auto.fallbackReason, /backend 'webgpu'/);
    } else {
      assert.equal(r.auto.backend, "webgpu", `auto on a hardware adapter ${JSON.stringify(env.adapter)}`);
    }
  });

  for (const backend of ["cpu", "webgpu"]) {
    test(`a trap inside async work is contained; new loads work (14.1, ${backend})`, TIMEOUT, async (t) => {
      if (backend === "webgpu" && !env.adapter) return t.skip("no WebGPU adapter");
      const r = await check("trapWhileRunning", { backend });
      assert.deepEqual(r.healthy.mismatches, []);
      assertRejected(r.trap, ["WebAssembly module crashed", "deliberate panic for testing (__testTrapAsync)"]);
      assert.ok(!r.concurrentRun.hung, "a run pending during the trap never settled");
      assertRejected(r.afterwards, ["this model was lost when the WebAssembly module crashed: load it again"]);
      assertWorks(r.fresh, `a new ${backend} load`);
      assertWorks(r.auto, "a new auto load");
    });
  }

  test("a WebGPU Pad that cannot run fails cleanly; other WebGPU work continues (14.2)", TIMEOUT, async (t) => {
    if (!env.adapter) return t.skip("no WebGPU adapter");
    const r = await check("hugePad");
    if (r.skipped) return t.skip(r.skipped);
    assert.deepEqual(r.healthy.mismatches, []);
    assert.ok(!r.pad.hung, "the Pad run never settled");
    assert.ok(!r.pad.resolved && r.pad.isError, `the Pad run: ${JSON.stringify(r.pad)}`);
    // The earlier model works, or (after a trap of the module) says it was lost: never hangs.
    assert.ok(!r.earlierAfter.hung, "the earlier model hangs");
    if (r.earlierAfter.resolved) assert.deepEqual(r.earlierAfter.mismatches, []);
    else assert.match(r.earlierAfter.message, /this model was lost/);
    assertWorks(r.webgpu, "a new webgpu load");
    assertWorks(r.auto, "a new auto load");
  });

  test("a lost WebGPU device is replaced: the model re-uploads, new loads work (14.2)", TIMEOUT, async (t) => {
    if (!env.adapter) return t.skip("no WebGPU adapter");
    const r = await check("lostDevice");
    assert.deepEqual(r.healthy.mismatches, []);
    assert.equal(r.destroyed, true);
    assertWorks(r.afterLoss, "the model after the device loss");
    assert.equal(r.backendAfter, "webgpu");
    assertWorks(r.webgpu, "a new webgpu load");
    assertWorks(r.auto, "a new auto load");
  });

  test("an abort during the weight upload rejects the load and frees it (14.6)", TIMEOUT, async (t) => {
    if (!env.adapter) return t.skip("no WebGPU adapter");
    const r = await check("abortDuringUpload", { backend: "webgpu", iterations: 8 });
    for (const x of r.results) assertRejected(x, [], "AbortError");
    const grown = r.memoryAfter - r.memoryBefore;
    assert.ok(grown <= 1 << 20, `wasm memory grew by ${grown} bytes over 8 aborted loads`);
  });

  test("an HTML page instead of the .wasm: the Error says what happened and what to do (13.2)", TIMEOUT, async () => {
    const fresh = await newPage();
    const r = await fresh.evaluate(() => window.checks.htmlInsteadOfWasm());
    await fresh.close();
    assertRejected(r, ["is not a WebAssembly module: the server returned an HTML page", 'optimizeDeps: { exclude: ["mxnet-web"] }']);
  });
});
