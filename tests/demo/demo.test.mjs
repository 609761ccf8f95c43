// End-to-end test of the in-browser demo (www/) in headless Chromium (Debian's /usr/bin/chromium
// driven by playwright-core), once with WebGPU enabled and once with it disabled:
//   1. draws digits on the canvas with the mouse and checks the predicted classes;
//   2. runs MTCNN face detection on the bundled photo (and on a user-chosen file) and checks
//      that a box lands on the face;
//   3. loads a fixture model through the "any model" form, sees the progress bar complete and
//      the summary appear, runs it, and checks the error messages for a bad URL and a bad file.
// Screenshots go to tests/demo/screenshots/ (git-ignored): look at them.
//
// The page is served from the repository root by scripts/serve.mjs's server (so that it runs
// from a sub-path, /www/, as on any static host, and the fixture models are reachable).
// Needs the built package (npm run build). Environment: CHROMIUM_PATH (default /usr/bin/chromium).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { access, mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

import { copyPackage, serveStatic } from "../../scripts/serve.mjs";

const ROOT = path.resolve(fileURLToPath(import.meta.url), "../../..");
const SHOTS = path.join(ROOT, "tests/demo/screenshots");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
// Generous: where there is no GPU, Chromium's WebGPU runs on a CPU emulator (SwiftShader), on
// which the page's first load takes about 40 s instead of 1 s.
const TIMEOUT = { timeout: 120_000 };

const COMMON_ARGS = ["--no-sandbox", "--disable-gpu-sandbox", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
// Chromium keeps navigator.gpu whatever the flags; without --enable-unsafe-webgpu (on a machine
// without a supported GPU) requestAdapter() resolves to null, and the page must still work.
const BROWSERS = [
  // Headless Chromium's only adapter is SwiftShader, a software renderer that "auto" skips: the
  // page is opened with WebGPU picked explicitly (?backend=webgpu) so the demo still runs on it.
  { name: "WebGPU enabled", slug: "webgpu", args: ["--enable-unsafe-webgpu"], webgpu: true, query: "?backend=webgpu" },
  { name: "WebGPU disabled", slug: "no-webgpu", args: ["--disable-features=WebGPU"], webgpu: false, query: "" },
];

/** The face in the bundled photo (astronaut.jpg, 512x512), measured by hand: x1, y1, x2, y2. */
const FACE = [182, 62, 268, 170];
/** Eyes (left, right in the image) measured by hand. */
const EYES = [
  [205, 101],
  [246, 102],
];

const FIXTURE = "tests/fixtures/models/tiny_resnet";

function iou(a, b) {
  const iw = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const ih = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = iw * ih;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

/** Asserts that some detected face is the bundled photo's face (box and eyes), scaled/offset. */
function assertFindsTheFace(faces, { scale = 1, dx = 0, dy = 0 } = {}) {
  const expected = [FACE[0] * scale + dx, FACE[1] * scale + dy, FACE[2] * scale + dx, FACE[3] * scale + dy];
  const best = faces.map((f) => ({ f, overlap: iou(f.box, expected) })).sort((a, b) => b.overlap - a.overlap)[0];
  assert.ok(best, "no face detected");
  assert.ok(best.overlap > 0.5, `the best box ${JSON.stringify(best.f.box)} overlaps the face ${JSON.stringify(expected)} by IoU ${best.overlap.toFixed(2)}`);
  assert.ok(best.f.score > 0.9, `face score ${best.f.score}`);
  EYES.forEach(([x, y], k) => {
    const [lx, ly] = best.f.landmarks[k];
    const d = Math.hypot(lx - (x * scale + dx), ly - (y * scale + dy));
    assert.ok(d < 12 * scale, `eye landmark ${k} at (${lx.toFixed(0)}, ${ly.toFixed(0)}) is ${d.toFixed(1)} px from the eye`);
  });
}

// Strokes on the 280x280 pad, in pad pixels.
const ellipse = (cx, cy, rx, ry, n = 40) =>
  Array.from({ length: n + 1 }, (_, i) => [cx + rx * Math.sin((2 * Math.PI * i) / n), cy - ry * Math.cos((2 * Math.PI * i) / n)]);
const DIGITS = [
  { digit: 7, strokes: [[[70, 50], [210, 50], [120, 250]]] },
  { digit: 0, strokes: [ellipse(140, 140, 70, 100)] },
  { digit: 1, strokes: [[[150, 40], [142, 250]]] },
  { digit: 4, strokes: [[[160, 30], [60, 170], [220, 170]], [[170, 100], [170, 260]]] },
];

await access(path.join(ROOT, "pkg/wasm/mxnet_web_bg.wasm")).catch(() => {
  throw new Error("pkg/wasm/mxnet_web_bg.wasm is missing: build the package first with `npm run build`");
});
await access(CHROMIUM).catch(() => {
  throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH`);
});

describe("demo (www/)", () => {
  let server;
  before(async () => {
    await copyPackage(ROOT);
    await mkdir(SHOTS, { recursive: true });
    server = await serveStatic({ root: ROOT, port: 0 });
  });
  after(async () => {
    await server?.close();
  });

  test("scripts/serve.mjs serves www/ on 127.0.0.1 and prints its URL", TIMEOUT, async () => {
    const child = spawn(process.execPath, ["scripts/serve.mjs", "--port", "0", "--no-copy"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    try {
      const url = await new Promise((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (d) => {
          out += d;
          const m = out.match(/http:\/\/127\.0\.0\.1:\d+\//);
          if (m) resolve(m[0]);
        });
        child.stderr.on("data", (d) => (out += d));
        child.on("exit", (code) => reject(new Error(`serve.mjs exited with ${code}: ${out}`)));
      });
      const page = await fetch(url);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /mxnet-web demo/);
      const wasm = await fetch(new URL("pkg/wasm/mxnet_web_bg.wasm", url));
      assert.equal(wasm.headers.get("content-type"), "application/wasm");
      const params = await fetch(new URL("models/digits_cnn-0000.params", url), { method: "HEAD" });
      const size = (await readFile(path.join(ROOT, "www/models/digits_cnn-0000.params"))).length;
      assert.equal(Number(params.headers.get("content-length")), size, "Content-Length (the progress bar needs it)");
      assert.equal((await fetch(new URL("models/nope.params", url))).status, 404);
      assert.equal((await fetch(new URL("/..%2fpackage.json", url))).status, 403, "a path outside www/");
    } finally {
      child.kill();
    }
  });

  for (const config of BROWSERS) {
    describe(config.name, () => {
      let browser;
      let page;
      const logs = [];

      /** Fails with the page's recent console output attached. */
      async function withLogs(fn) {
        const mark = logs.length;
        try {
          return await fn();
        } catch (err) {
          const lines = logs.slice(mark).slice(-20);
          err.message += lines.length ? `\npage console:\n  ${lines.join("\n  ")}` : "";
          throw err;
        }
      }
      const text = (selector) => page.locator(selector).innerText();
      const shot = (name, selector) =>
        selector
          ? page.locator(selector).screenshot({ path: path.join(SHOTS, `${config.slug}-${name}.png`) })
          : page.screenshot({ path: path.join(SHOTS, `${config.slug}-${name}.png`), fullPage: true });

      before(async () => {
        browser = await chromium.launch({ executablePath: CHROMIUM, args: [...COMMON_ARGS, ...config.args] });
        page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        page.on("console", (m) => logs.push(`[${m.type()}] ${m.text()}`));
        page.on("pageerror", (e) => logs.push(`[pageerror] ${e.message}`));
      });
      after(async () => {
        await browser?.close();
      });

      test("the page loads every model and says which backend runs it", TIMEOUT, () =>
        withLogs(async () => {
          await page.goto(`${server.url}www/${config.query}`);
          await page.waitForFunction(() => document.body.dataset.state !== "loading", null, { timeout: 100_000 });
          assert.equal(await page.evaluate(() => document.body.dataset.state), "ready", await text("body"));
          const environment = await text("#environment");
          if (config.webgpu) assert.match(environment, /WebGPU: adapter available/);
          else assert.match(environment, /WebGPU: (navigator\.gpu exists but no adapter|not available)/);
          const statuses = await page.locator("#digit-models li, #face-models li").evaluateAll((items) =>
            items.map((li) => ({ backend: li.querySelector(".backend")?.dataset.backend, fallback: li.querySelector(".fallback")?.textContent ?? "", text: li.textContent })),
          );
          assert.equal(statuses.length, 6, JSON.stringify(statuses));
          for (const s of statuses) {
            assert.ok(["cpu", "webgpu"].includes(s.backend), s.text);
            if (s.backend === "cpu") assert.match(s.fallback, /auto fell back: \S/, `no reason given for the CPU fallback: ${s.text}`);
            assert.equal(s.backend, config.webgpu ? "webgpu" : "cpu", s.text);
            assert.match(s.text, /loaded in [\d.]+ (ms|s)/);
          }
          // The reference digits agree with MXNet's predictions, through both embedding files.
          assert.match(await text("#digit-reference"), /agrees with MXNet 1\.9\.1 on 200\/200/);
          assert.match(await text("#digit-reference"), /identical embeddings/);
        }),
      );

      test("drawing a digit predicts its class, with neighbours of the same class", TIMEOUT, () =>
        withLogs(async () => {
          const pad = await page.locator("#digit-pad").boundingBox();
          for (const { digit, strokes } of DIGITS) {
            await page.click("#digit-clear");
            for (const stroke of strokes) {
              await page.mouse.move(pad.x + stroke[0][0], pad.y + stroke[0][1]);
              await page.mouse.down();
              for (const [x, y] of stroke.slice(1)) await page.mouse.move(pad.x + x, pad.y + y, { steps: 6 });
              await page.mouse.up();
            }
            const last = await page.evaluate(() => window.demo.digits.settled());
            assert.ok(last, "no prediction after drawing");
            assert.equal(last.digit, digit, `drew a ${digit}, the page predicts ${last.digit}: ${last.probs.map((p) => p.toFixed(3)).join(" ")}`);
            const same = last.neighbours.filter((n) => n.label === digit).length;
            assert.ok(same >= 3, `only ${same} of the 5 nearest reference digits are ${digit}s`);
            if (digit === 7) await shot("digits", "#digits");
          }
          assert.match(await text("#digit-latency"), /classifier [\d.]+ m?s \((cpu|webgpu)\)/);
          // The old-style files (tojson + save_params) feed the neighbours just as well.
          await page.check('input[name="digit-embed"][value="old"]');
          const old = await page.evaluate(() => window.demo.digits.settled());
          assert.equal(old.neighbours[0].label, DIGITS.at(-1).digit);
          await page.check('input[name="digit-embed"][value="export"]');
        }),
      );

      test("MTCNN finds the face in the bundled photo and in a chosen image file", TIMEOUT, () =>
        withLogs(async () => {
          await page.waitForFunction(() => window.demo.faces.last !== null, null, { timeout: 60_000 });
          const bundled = await page.evaluate(() => window.demo.faces.last);
          assert.match(bundled.image, /astronaut/);
          assertFindsTheFace(bundled.faces);
          assert.match(await text("#face-summary"), /1 face in astronaut\.jpg/);
          assert.match(await text("#face-stages"), /P-Net \d+ pyramid scales/);
          await shot("faces", "#faces");

          // Not an image: a clear message, and the page keeps its photo and faces.
          await page.setInputFiles("#face-file", { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("not an image") });
          await page.locator("#face-error").waitFor({ state: "visible", timeout: 5000 });
          assert.match(await text("#face-error"), /reading the image: notes\.txt \(text\/plain\) is not an image this browser can decode/);
          assert.match(await page.evaluate(() => window.demo.faces.last.image), /astronaut/);

          // A user's file: the photo shrunk to 60% at (150, 40) on a 640x400 grey PNG. (Only
          // without WebGPU: on a machine with no GPU, Chromium's WebGPU is a CPU emulator on
          // which one detection takes tens of seconds; the code under test is the same.)
          if (config.webgpu) return;
          await page.evaluate(async () => {
            const img = new Image();
            img.src = "assets/astronaut.jpg";
            await img.decode();
            const canvas = Object.assign(document.createElement("canvas"), { width: 640, height: 400 });
            const ctx = canvas.getContext("2d");
            ctx.fillStyle = "#777";
            ctx.fillRect(0, 0, 640, 400);
            ctx.drawImage(img, 150, 40, 512 * 0.6, 512 * 0.6);
            const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
            const transfer = new DataTransfer();
            transfer.items.add(new File([blob], "my-photo.png", { type: "image/png" }));
            const input = document.querySelector("#face-file");
            input.files = transfer.files;
            input.dispatchEvent(new Event("change"));
          });
          await page.waitForFunction(() => window.demo.faces.last?.image === "my-photo.png", null, { timeout: 20_000 });
          const chosen = await page.evaluate(() => window.demo.faces.last);
          assert.equal(chosen.width, 640);
          assertFindsTheFace(chosen.faces, { scale: 0.6, dx: 150, dy: 40 });
          assert.equal(await page.locator("#face-error").isHidden(), true);
          await shot("faces-file", "#faces");
        }),
      );

      test("any model: the URL form shows progress, the summary, outputs and clear errors", TIMEOUT, () =>
        withLogs(async () => {
          const load = async () => {
            await page.click("#any-load");
            await page.waitForFunction(() => !document.querySelector("#any-load").disabled, null, { timeout: 20_000 });
          };

          // A URL prefix + epoch, relative to the page (/www/).
          await page.check('input[name="any-source"][value="prefix"]');
          await page.fill("#any-prefix", `../${FIXTURE}/model`);
          await page.fill("#any-epoch", "0");
          await page.fill("#any-shape", "1,3,16,16");
          await load();
          assert.equal(await page.locator("#any-error").isHidden(), true, await text("#any-error").catch(() => ""));
          const summary = await text("#any-summary");
          assert.match(summary, /Model summary/);
          assert.match(summary, /Convolution/);
          assert.match(summary, /\[1, 3, 16, 16\]/);
          assert.match(summary, /written by MXNet 1\.9\.1/);
          assert.match(summary, config.webgpu ? /Backend (cpu auto fell back: \S|webgpu)/ : /Backend cpu auto fell back: \S/);
          const bar = await page.evaluate(() => {
            const p = document.querySelector("#any-progress");
            return { value: p.value, max: p.max, state: p.dataset.state };
          });
          assert.deepEqual(bar, { value: 1, max: 1, state: "done" });

          // Explicit URLs, the params file streamed slowly: the bar fills step by step.
          await page.check('input[name="any-source"][value="urls"]');
          await page.fill("#any-symbol", `../${FIXTURE}/model-symbol.json`);
          await page.fill("#any-params", `../${FIXTURE}/model-0000.params?throttle=30`);
          await page.click("#any-load");
          await page.waitForFunction(() => {
            const p = document.querySelector("#any-progress");
            return p.dataset.state === "loading" && p.value > 0 && p.value < p.max;
          }, null, { timeout: 10_000 });
          await shot("any-progress", "#any-form");
          await page.waitForFunction(() => document.querySelector("#any-progress").dataset.state === "done", null, { timeout: 20_000 });
          const events = await page.evaluate(() => window.demo.any.progressEvents.filter((e) => e.file === "params"));
          const size = (await readFile(path.join(ROOT, FIXTURE, "model-0000.params"))).length;
          assert.ok(new Set(events.map((e) => e.loaded)).size >= 4, `only ${events.length} progress events`);
          assert.equal(events.at(-1).loaded, size);
          assert.ok(events.every((e) => e.total === size));
          assert.ok(await page.locator("#any-summary").isVisible());

          // Run on random input, then on an image.
          await page.check('input[name="any-input"][value="random"]');
          await page.click("#any-run-button");
          await page.waitForFunction(() => window.demo.any.last !== null, null, { timeout: 10_000 });
          let last = await page.evaluate(() => window.demo.any.last);
          assert.equal(last.length, 1);
          assert.equal(last[0].top.length, 5);
          assert.match(await text("#any-outputs"), /Forward pass on random normal input: [\d.]+ m?s on (cpu|webgpu)/);
          await page.check('input[name="any-input"][value="image"]');
          await page.setInputFiles("#any-image", path.join(ROOT, "www/assets/astronaut.jpg"));
          await page.click("#any-run-button");
          await page.waitForFunction(() => /image astronaut\.jpg/.test(document.querySelector("#any-outputs").textContent), null, { timeout: 10_000 });
          last = await page.evaluate(() => window.demo.any.last);
          assert.ok(last[0].top.every((t) => Number.isFinite(t.value)));
          await shot("any", "#any");
          await shot("page");

          // A bad URL: the library's message, naming the file and URL.
          await page.check('input[name="any-source"][value="prefix"]');
          await page.fill("#any-prefix", `../${FIXTURE}/missing`);
          await load();
          const notFound = await text("#any-error");
          assert.match(notFound, /loading the model: mxnet-web: cannot fetch (symbol|params) file http:\S+\/missing-(symbol\.json|0000\.params): HTTP 404/);
          assert.equal(await page.locator("#any-summary").isHidden(), true);

          // A bad file: a params URL that is not a params file.
          await page.check('input[name="any-source"][value="urls"]');
          await page.fill("#any-params", `../${FIXTURE}/case.json`);
          await load();
          assert.match(await text("#any-error"), /params file http:\S+case\.json/);

          // A bad shape is refused before anything downloads.
          await page.fill("#any-shape", "1,3,banana");
          await load();
          assert.match(await text("#any-error"), /an input shape is positive integers/);
          await shot("any-error", "#any");

          // Files from the user's disk (Model.fromBytes): the page's own digit classifier.
          await page.check('input[name="any-source"][value="files"]');
          await page.setInputFiles("#any-symbol-file", path.join(ROOT, "www/models/digits_cnn-symbol.json"));
          await page.setInputFiles("#any-params-file", path.join(ROOT, "www/models/digits_cnn-0000.params"));
          await page.fill("#any-shape", "1,1,16,16");
          await load();
          assert.equal(await page.locator("#any-error").isHidden(), true, await text("#any-error").catch(() => ""));
          assert.match(await text("#any-summary"), /softmax/);
          assert.equal(await page.evaluate(() => document.querySelector("#any-progress").dataset.state), "done");

          // In a Web Worker, with the files cached: the summary, a run, and a second (cached) load.
          await page.check('input[name="any-source"][value="prefix"]');
          await page.fill("#any-prefix", `../${FIXTURE}/model`);
          await page.fill("#any-shape", "1,3,16,16");
          await page.check("#any-worker");
          await page.check("#any-cache");
          for (let i = 0; i < 2; i++) {
            await load();
            assert.equal(await page.locator("#any-error").isHidden(), true, await text("#any-error").catch(() => ""));
            assert.match(await text("#any-summary"), /loaded in [\d.]+ m?s in a Web Worker · written by MXNet 1\.9\.1/);
          }
          await page.check('input[name="any-input"][value="random"]');
          await page.click("#any-run-button");
          await page.waitForFunction(() => /Forward pass on random normal input/.test(document.querySelector("#any-outputs").textContent), null, { timeout: 20_000 });
          assert.equal((await page.evaluate(() => window.demo.any.last))[0].top.length, 5);
          const cached = await page.evaluate(async (prefix) => {
            const { Model } = await import(new URL("pkg/index.js", document.baseURI).href);
            return Model.isCached(prefix);
          }, `../${FIXTURE}/model`);
          assert.ok(cached, "the files were not cached");
          await page.uncheck("#any-worker");
          await page.uncheck("#any-cache");
        }),
      );

      test("choosing a backend reloads the models on it, or says clearly why it cannot", TIMEOUT, () =>
        withLogs(async () => {
          await page.selectOption("#backend", "cpu");
          await page.waitForFunction(() => document.body.dataset.state !== "loading", null, { timeout: 30_000 });
          assert.equal(await page.evaluate(() => document.body.dataset.state), "ready");
          const backends = await page.locator("#digit-models .backend, #face-models .backend").evaluateAll((els) => els.map((e) => e.dataset.backend));
          assert.deepEqual(backends, Array(6).fill("cpu"));
          assert.equal(await page.locator(".models .fallback").count(), 0, "a backend that was asked for has no fallback reason");
          // The current image was detected again on the new backend.
          const again = await page.evaluate(() => window.demo.faces.last);
          assertFindsTheFace(again.faces, again.image === "my-photo.png" ? { scale: 0.6, dx: 150, dy: 40 } : {});
          // Without an adapter, asking for WebGPU fails with a message that names it. (With one,
          // "auto" above already ran on it where it could.)
          if (config.webgpu) return;
          // The README's screenshot: header, digits and faces, on the CPU backend.
          await page.click("#digit-clear");
          const pad = await page.locator("#digit-pad").boundingBox();
          await page.mouse.move(pad.x + 80, pad.y + 60);
          await page.mouse.down();
          for (const [x, y] of [[200, 55], [190, 70], [120, 250]]) await page.mouse.move(pad.x + x, pad.y + y, { steps: 8 });
          await page.mouse.up();
          assert.equal((await page.evaluate(() => window.demo.digits.settled())).digit, 7);
          await page.click("#face-bundled");
          await page.waitForFunction(() => /in astronaut\.jpg/.test(document.querySelector("#face-summary").textContent), null, { timeout: 20_000 });
          const bottom = await page.evaluate(() => document.querySelector("#faces").getBoundingClientRect().bottom + window.scrollY);
          await page.screenshot({ path: path.join(SHOTS, "readme.png"), fullPage: true, clip: { x: 0, y: 0, width: 1280, height: Math.ceil(bottom + 12) } });

          await page.selectOption("#backend", "webgpu");
          await page.waitForFunction(() => document.body.dataset.state !== "loading", null, { timeout: 30_000 });
          assert.equal(await page.evaluate(() => document.body.dataset.state), "error");
          assert.match(await text("#digit-error"), /^loading the digit models: .*WebGPU/is);
          assert.match(await text("#face-error"), /^loading MTCNN: .*WebGPU/is);
          await shot("forced-webgpu-error", "#digits");
        }),
      );
    });
  }
});
