// What a web app needs around the model, in headless Chromium (Debian's /usr/bin/chromium driven
// by playwright-core): worker mode (outputs, a main-thread timer that keeps firing during a long
// forward, WebGPU inside the worker, errors, abort, custom fetch, fromBytes), Cache Storage
// caching (requests counted at the test server: none for a cached file without validators,
// conditional ones answered 304 with ETag / Last-Modified, a changed file downloaded again),
// tensorFromImage on every kind of image source, warmup and Symbol.dispose.
// The checks run in the page (webapp-checks.mjs); this file asserts on their results.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { access, cp, mkdtemp, rm, stat, symlink, utimes } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

import { startServer } from "./server.mjs";

const ROOT = path.resolve(fileURLToPath(import.meta.url), "../../..");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const COMMON_ARGS = ["--no-sandbox", "--disable-gpu-sandbox", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const TIMEOUT = { timeout: 60_000 };
const RESNET = "tests/fixtures/models/tiny_resnet";

await access(path.join(ROOT, "pkg/wasm/mxnet_web_bg.wasm")).catch(() => {
  throw new Error("pkg/wasm/mxnet_web_bg.wasm is missing: build the package first with `npm run build`");
});

/** Opens webapp.html in a fresh browser; returns { browser, check(name, args) }. */
async function openPage(origin, args) {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...COMMON_ARGS, ...args] });
  const page = await browser.newPage();
  const lines = [];
  page.on("console", (m) => lines.push(`[${m.type()}] ${m.text()}`));
  page.on("pageerror", (e) => lines.push(`[pageerror] ${e.message}`));
  await page.goto(`${origin}/tests/js/webapp.html`);
  await page.waitForFunction(() => window.checks !== undefined || window.checksError !== undefined);
  const loadError = await page.evaluate(() => window.checksError);
  assert.equal(loadError, undefined, `the test page could not import the package:\n${loadError}`);
  const check = async (name, a) => {
    const mark = lines.length;
    try {
      return await page.evaluate(([n, x]) => window.checks[n](x), [name, a]);
    } catch (err) {
      const recent = lines.slice(mark).slice(-20);
      err.message += recent.length ? `\npage console:\n  ${recent.join("\n  ")}` : "";
      throw err;
    }
  };
  return { browser, page, check };
}

function assertRejected(result, fragments, name = "Error") {
  assert.ok(!result.resolved, "expected a rejection but the promise resolved");
  assert.ok(result.isError, `expected an Error, got ${JSON.stringify(result)}`);
  assert.equal(result.name, name, `error name (message: ${result.message})`);
  for (const f of fragments) assert.ok(result.message.includes(f), `message ${JSON.stringify(result.message)} lacks ${JSON.stringify(f)}`);
}

describe("web app features in Chromium", () => {
  let server;
  before(async () => {
    server = await startServer(ROOT);
  });
  after(async () => {
    await server?.close();
  });

  describe("WebGPU enabled", () => {
    let ctx;
    before(async () => {
      ctx = await openPage(server.origin, ["--enable-unsafe-webgpu"]);
    });
    after(async () => {
      await ctx?.browser.close();
    });

    for (const backend of ["cpu", "webgpu", "auto"]) {
      test(`worker mode, backend ${backend}: outputs equal MXNet's, progress, info, warmup, dispose`, TIMEOUT, async () => {
        const r = await ctx.check("workerLoad", { dir: RESNET, backend });
        assert.ok(r.isWorkerModel);
        assert.deepEqual(r.mismatches, []);
        // WebGPU runs inside the worker (SwiftShader here) when asked for by name. "auto" skips a
        // software adapter (slower than the CPU backend) and says so; on a real GPU it picks WebGPU.
        if (backend === "auto" && r.backend === "cpu") {
          assert.match(r.fallbackReason ?? "", /software renderer/, "auto fell back for another reason");
        } else {
          assert.equal(r.backend, backend === "cpu" ? "cpu" : "webgpu", `backend (fallback: ${r.fallbackReason})`);
        }
        assert.deepEqual(r.inputNames, ["data"]);
        assert.equal(r.outputCount, 1);
        assert.ok(r.inputIntact, "run() changed or detached the caller's input");
        assert.ok(r.outputIsFloat32);
        assert.ok(r.infoIsPromise);
        assert.deepEqual(r.infoInputs, ["data"]);
        assert.deepEqual(r.outputShape, r.expectedShape);
        assert.ok(r.warmupMs >= 0);
        const size = (await stat(path.join(ROOT, RESNET, "model-0000.params"))).size;
        const params = r.events.filter((e) => e.file === "params");
        assert.ok(params.length > 0 && params.at(-1).loaded === size && params.at(-1).total === size, JSON.stringify(params.at(-1)));
        assertRejected(r.afterDispose, ["mxnet-web: this model was disposed"]);
      });
    }

    test("tensorFromImage reads <img>, canvas, OffscreenCanvas, ImageBitmap, VideoFrame and <video> alike", TIMEOUT, async () => {
      const r = await ctx.check("imageSources", { smooth: false });
      assert.deepEqual(r.shape, [1, 3, 20, 24]);
      for (const source of ["canvas", "offscreen", "bitmap", "img", "videoFrame"]) {
        assert.equal(typeof r[source], "object", `${source}: ${r[source]}`);
        // The same pixels exactly (one level = 1/255/0.225 = 0.017 after normalisation).
        assert.ok(r[source].worst < 1e-5, `${source}: largest difference ${r[source].worst}`);
      }
      assertRejected(r.notLoaded, ["has no pixels yet"]);
      // A video stream is YUV-encoded: close to the pixels, not equal (checked on a smooth image).
      const smooth = await ctx.check("imageSources", { smooth: true });
      assert.ok(smooth.video.mean < 0.15, `<video>: mean difference ${smooth.video.mean} (normalised units)`);
    });

    test("warmup() and Symbol.dispose (`using`) on the main thread", TIMEOUT, async () => {
      for (const backend of ["cpu", "webgpu"]) {
        const r = await ctx.check("warmupAndDispose", { dir: RESNET, backend });
        assert.ok(r.warmupMs > 0 && r.arrayForm > 0, backend);
        assertRejected(r.noShapes, ["warmup() needs the input shapes"], "TypeError");
        assert.deepEqual(r.mismatches, []);
        assert.ok(r.hasDispose);
        assertRejected(r.afterUsing, ["mxnet-web: this model was disposed"]);
      }
    });
  });

  describe("WebGPU without an adapter", () => {
    let ctx;
    before(async () => {
      ctx = await openPage(server.origin, ["--disable-features=WebGPU"]);
    });
    after(async () => {
      await ctx?.browser.close();
    });

    test("worker mode, backend auto: the CPU backend in the worker, with a reason", TIMEOUT, async () => {
      const r = await ctx.check("workerLoad", { dir: RESNET, backend: "auto" });
      assert.deepEqual(r.mismatches, []);
      assert.equal(r.backend, "cpu");
      assert.ok(r.fallbackReason, "no fallback reason");
    });

    test("the main thread's timer keeps firing during a long forward in a worker (and not without one)", { timeout: 120_000 }, async (t) => {
      const r = await ctx.check("timerDuringForward", { dir: RESNET, shape: [1, 3, 1600, 1600] });
      const { worker, main } = r;
      const detail = JSON.stringify(r);
      t.diagnostic(`worker: forward ${worker.forwardMs.toFixed(0)} ms, longest timer gap ${worker.maxGapMs.toFixed(0)} ms; main thread: forward ${main.forwardMs.toFixed(0)} ms, longest gap ${main.maxGapMs.toFixed(0)} ms`);
      assert.ok(worker.forwardMs > 300 && main.forwardMs > 300, `the forward pass is too short to tell: ${detail}`);
      // In a worker the page's timer (every 5 ms) fires throughout; a busy machine may delay
      // single ticks, never for a large part of the forward pass.
      assert.ok(worker.maxGapMs < worker.forwardMs / 4, `worker mode blocked the main thread: ${detail}`);
      assert.ok(worker.ticks > worker.forwardMs / 100, `too few timer ticks in worker mode: ${detail}`);
      // On the main thread, the forward pass blocks the timer for most of its duration.
      assert.ok(main.maxGapMs > main.forwardMs * 0.5, `the main-thread forward did not block: ${detail}`);
    });

    test("worker mode: 404, abort, fromBytes, custom fetch in the page, `using`, bad input", TIMEOUT, async () => {
      const r = await ctx.check("workerEdges", { dir: RESNET });
      assertRejected(r.notFound, [`cannot fetch params file ${server.origin}/${RESNET}/model-0007.params: HTTP 404`]);
      assertRejected(r.aborted, [], "AbortError");
      assert.ok(r.abortMs < 2500, `the aborted load took ${r.abortMs} ms`);
      assert.deepEqual(r.fromBytes, []);
      assert.ok(r.paramsIntact);
      assert.deepEqual(r.customFetch.mismatches, []);
      assert.deepEqual(
        r.customFetch.fetched.sort(),
        [`${server.origin}/${RESNET}/model-0000.params`, `${server.origin}/${RESNET}/model-symbol.json`],
      );
      assertRejected(r.afterUsing, ["mxnet-web: this model was disposed"]);
      assertRejected(r.badInput, ["unknown input 'image'"]);
    });
  });

  describe("Cache Storage", () => {
    let ctx;
    let dir;
    /** Sites that send validators: both ETag and Last-Modified, or Last-Modified only. */
    const sites = [
      { name: "ETag and Last-Modified", validators: true, validator: "etag" },
      { name: "Last-Modified only", validators: "last-modified", validator: "lastModified" },
    ];
    before(async () => {
      // Sites with their own copy of the model files (changed by the test) and the package and
      // test page (so that the page is same-origin with them).
      dir = await mkdtemp(path.join(os.tmpdir(), "mxnet-web-cache-"));
      await cp(path.join(ROOT, RESNET), path.join(dir, "m"), { recursive: true });
      for (const sub of ["pkg", "tests"]) await symlink(path.join(ROOT, sub), path.join(dir, sub));
      ctx = await openPage(server.origin, ["--disable-features=WebGPU"]);
      for (const site of sites) {
        site.server = await startServer(dir, { validators: site.validators });
        site.ctx = await openPage(site.server.origin, ["--disable-features=WebGPU"]);
      }
    });
    after(async () => {
      await ctx?.browser.close();
      for (const site of sites) {
        await site.ctx?.browser.close();
        await site.server?.close();
      }
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    const params = (requests, from) => requests.slice(from).filter((r) => r.includes("model-0000.params"));
    const symbol = (requests, from) => requests.slice(from).filter((r) => r.includes("model-symbol.json"));
    const assertFullProgress = (events, size) => {
      const own = events.filter((e) => e.file === "params");
      assert.ok(own.length > 0, "no params progress");
      assert.equal(own.at(-1).loaded, size);
      assert.equal(own.at(-1).total, size);
    };

    for (const worker of [false, true]) {
      test(`no validators: a second load makes no request at all${worker ? " (worker mode)" : ""}`, TIMEOUT, async () => {
        const prefix = `${server.origin}/${RESNET}/model`;
        const size = (await stat(path.join(ROOT, RESNET, "model-0000.params"))).size;
        await ctx.check("clearCache", { prefix });
        const mark = server.requests.length;
        const first = await ctx.check("cachedLoad", { prefix, dir: RESNET, worker });
        assert.deepEqual(params(server.requests, mark), [`200 /${RESNET}/model-0000.params`]);
        assert.ok(first.isCached);
        assert.deepEqual(first.mismatches, []);
        assertFullProgress(first.events, size);
        const stored = first.stored.find((s) => s.url.endsWith("model-0000.params"));
        assert.equal(stored?.size, size);

        const mark2 = server.requests.length;
        const second = await ctx.check("cachedLoad", { prefix, dir: RESNET, worker });
        assert.deepEqual(params(server.requests, mark2), [], `requests: ${server.requests.slice(mark2)}`);
        assert.deepEqual(symbol(server.requests, mark2), []);
        assert.deepEqual(second.mismatches, []);
        assertFullProgress(second.events, size);

        const cleared = await ctx.check("clearCache", { prefix });
        assert.deepEqual(cleared, { before: true, cleared: true, after: false, cacheExists: false });
      });
    }

    for (const [k, site] of sites.entries()) {
      test(`${site.name}: revalidated with 304 (no download), and a changed file is downloaded again`, TIMEOUT, async () => {
        const { server: cached, ctx: page } = site;
        const prefix = `${cached.origin}/m/model`;
        const paramsPath = path.join(dir, "m/model-0000.params");
        const size = (await stat(paramsPath)).size;
        await page.check("clearCache", { prefix });
        let mark = cached.requests.length;
        const first = await page.check("cachedLoad", { prefix, dir: RESNET });
        assert.deepEqual(params(cached.requests, mark), ["200 /m/model-0000.params"]);
        const stored1 = first.stored.find((s) => s.url.endsWith(".params"));
        assert.ok(stored1[site.validator], `the ${site.validator} was not stored: ${JSON.stringify(stored1)}`);

        mark = cached.requests.length;
        const second = await page.check("cachedLoad", { prefix, dir: RESNET });
        assert.deepEqual(params(cached.requests, mark), ["304 /m/model-0000.params"]);
        assert.deepEqual(symbol(cached.requests, mark), ["304 /m/model-symbol.json"]);
        assert.deepEqual(second.mismatches, []);
        assertFullProgress(second.events, size);

        // The file changes on the server (a later mtime: new ETag and Last-Modified).
        const later = new Date(Date.now() + 60_000 * (k + 1));
        await utimes(paramsPath, later, later);
        mark = cached.requests.length;
        const third = await page.check("cachedLoad", { prefix, dir: RESNET });
        assert.deepEqual(params(cached.requests, mark), ["200 /m/model-0000.params"]);
        assert.deepEqual(third.mismatches, []);
        const stored3 = third.stored.find((s) => s.url.endsWith(".params"));
        assert.notEqual(stored3[site.validator], stored1[site.validator], "the cache kept the old file");
        assertFullProgress(third.events, size);
        await page.check("clearCache", { prefix });
      });
    }
  });
});
