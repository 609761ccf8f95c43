// The face recognition conversion (scripts/convert_face_recognition.py → www/models/face_recognition)
// against the original network run by its own code: face-api's FaceRecognitionNet (the npm package
// @vladmandic/face-api, a pinned devDependency, weights loaded by face-api itself) on tfjs's pure-JS
// CPU backend, in headless Chromium. Compared, max |difference| ≤ 1e-4 each:
//   1. face-api vs MXNet 1.9.1 (the descriptors the conversion script recorded from the exported
//      files) on the reference images of tests/fixtures/face_recognition: four aligned crops of
//      the face in the bundled photo (aligned by the script) and three synthetic non-faces;
//   2. mxnet-web (wasm CPU backend) vs MXNet on the same images;
//   3. face-api vs mxnet-web on five aligned crops of the face in the bundled photo (aligned by the
//      demo's own www/js/facealign.js: plain, shifted, rotated, mirrored photo, brighter photo),
//      on the CPU backend, on WebGPU (the first two crops: SwiftShader is slow) and through the
//      old-style files (tojson + save_params);
// and the descriptors behave as dlib's: all crops of the one face are within 0.6 of each other,
// the synthetic non-faces are not within 0.6 of the face.
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
const TOLERANCE = 1e-4;
// MTCNN's five landmarks (eyes, nose, mouth corners) on www/assets/astronaut.jpg, as the demo's
// detector (www/js/mtcnn.js, CPU backend) finds them; inputs to the alignment, not results.
const LANDMARKS = [
  [203.7, 100.3],
  [247.1, 102.7],
  [224.0, 126.7],
  [201.1, 138.5],
  [245.4, 141.1],
];

/**
 * The package's folder, looked up as Node looks up packages (node_modules of this folder and of
 * each parent up to the repository root; `npm ci` installs it in the root's), without resolving
 * symbolic links so the test server can serve it.
 */
async function faceApiFolder() {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "node_modules/@vladmandic/face-api");
    if (await access(path.join(candidate, "model/face_recognition_model.bin")).then(() => true, () => false)) return candidate;
    if (dir === ROOT || dir === path.dirname(dir)) break;
  }
  throw new Error("@vladmandic/face-api is missing: run `npm ci` (it is a pinned devDependency)");
}

function maxAbsDiff(a, b) {
  assert.equal(a.length, b.length, "descriptor counts differ");
  let worst = 0;
  a.forEach((row, i) => {
    assert.equal(row.length, 128, `descriptor ${i} has ${row.length} values`);
    row.forEach((v, j) => {
      worst = Math.max(worst, Math.abs(v - b[i][j]));
    });
  });
  return worst;
}

const dist = (a, b) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0));

await access(path.join(ROOT, "pkg/wasm/mxnet_web_bg.wasm")).catch(() => {
  throw new Error("pkg/wasm/mxnet_web_bg.wasm is missing: build the package first with `npm run build`");
});

describe("face recognition: the MXNet conversion against face-api's original network", () => {
  let server;
  let browser;
  let result;
  before(async () => {
    server = await startServer(ROOT);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu-sandbox", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--enable-unsafe-webgpu"],
    });
    const folder = await faceApiFolder();
    const relative = path.relative(ROOT, folder);
    assert.ok(!relative.startsWith(".."), `${folder} must be inside the repository to be served`);
    const page = await browser.newPage();
    const logs = [];
    page.on("console", (m) => logs.push(`[${m.type()}] ${m.text()}`));
    page.on("pageerror", (e) => logs.push(`[pageerror] ${e.message}`));
    await page.goto(`${server.origin}/tests/js/browser.html`);
    try {
      result = await page.evaluate(
        async (args) => (await import("/tests/js/face-recognition-checks.mjs")).runChecks(args),
        { faceapiUrl: `/${relative.split(path.sep).join("/")}`, landmarks: LANDMARKS, backends: ["cpu", "webgpu"] },
      );
    } catch (err) {
      err.message += `\npage console:\n  ${logs.slice(-20).join("\n  ")}`;
      throw err;
    }
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test("face-api runs on tfjs's CPU backend", () => {
    assert.equal(result.tfjsBackend, "cpu");
  });

  test("face-api and MXNet 1.9.1 agree on the reference images (the conversion is exact)", () => {
    assert.equal(result.reference.names.filter((n) => n.startsWith("face:")).length, 4);
    const d = maxAbsDiff(result.reference.faceapi, result.reference.mxnet);
    console.log(`# face-api vs MXNet: max |diff| ${d.toExponential(2)} over ${result.reference.mxnet.length} images`);
    assert.ok(d <= TOLERANCE, `max |diff| ${d}`);
  });

  test("mxnet-web (CPU) and MXNet 1.9.1 agree on the reference images", () => {
    const d = maxAbsDiff(result.ours.cpu.reference, result.reference.mxnet);
    console.log(`# mxnet-web cpu vs MXNet: max |diff| ${d.toExponential(2)}`);
    assert.ok(d <= TOLERANCE, `max |diff| ${d}`);
  });

  for (const backend of ["cpu", "webgpu"]) {
    test(`face-api and mxnet-web (${backend}) agree on aligned crops of the bundled face`, () => {
      const ours = result.ours[backend];
      assert.equal(ours.backend, backend);
      assert.ok(ours.crops.length >= 2);
      const d = maxAbsDiff(ours.crops, result.crops.faceapi.slice(0, ours.crops.length));
      console.log(`# face-api vs mxnet-web ${backend} on ${ours.crops.length} face crops: max |diff| ${d.toExponential(2)} (forward ${ours.cropsMs.toFixed(0)} ms)`);
      assert.ok(d <= TOLERANCE, `max |diff| ${d}`);
    });
  }

  test("the old-style files (tojson + save_params) give the same descriptors", () => {
    assert.deepEqual(result.ours.cpu.oldFlowCrops, result.ours.cpu.crops);
  });

  test("descriptors behave as dlib's: one face stays within 0.6, non-faces do not come close", () => {
    const check = (label, descriptors, names) => {
      const isFace = names.map((n) => !n.startsWith("synthetic:"));
      for (let i = 0; i < descriptors.length; i++) {
        for (let j = i + 1; j < descriptors.length; j++) {
          const d = dist(descriptors[i], descriptors[j]);
          if (isFace[i] && isFace[j]) assert.ok(d < 0.6, `${label}: ${names[i]} vs ${names[j]}: distance ${d.toFixed(3)}`);
          if (isFace[i] !== isFace[j] && (i === 0 || j === 0)) assert.ok(d > 0.6, `${label}: ${names[i]} vs ${names[j]}: distance ${d.toFixed(3)}`);
        }
      }
    };
    check("MXNet", result.reference.mxnet, result.reference.names);
    check("face-api on the browser's crops", result.crops.faceapi, result.crops.names);
  });
});
