// End-to-end test of the demo's "Face embeddings" section (www/js/embeddings.js) in headless
// Chromium with a fake camera: Chromium plays a .y4m file as the webcam
// (--use-fake-device-for-media-stream --use-file-for-fake-video-capture). The file is written here,
// at test time, from the bundled photo (www/assets/astronaut.jpg, decoded by the browser and
// converted to YUV 4:2:0 below), so no video tool is needed.
//
// On each backend, chosen explicitly (?backend=cpu, ?backend=webgpu on SwiftShader):
//   - the camera starts and shows the fake stream;
//   - the face is enrolled from one camera frame, with a name;
//   - it is recognised (distance < 0.6) in a mirrored, brighter copy and in a shifted, smaller copy
//     of the photo (the section's "changed copies" button), and the similarity matrix of the
//     three faces is symmetric, zero on the diagonal, all below 0.6;
//   - nobody is recognised in an unrelated, face-free image chosen as a file.
// On the CPU only (WebGPU on a CPU emulator takes seconds per forward pass): live matching of the
// camera stream, and the camera error states (permission denied, no camera, no camera API).
// Needs the built package (npm run build). Environment: CHROMIUM_PATH (default /usr/bin/chromium).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { access, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

import { serveStatic } from "../../scripts/serve.mjs";

const ROOT = path.resolve(fileURLToPath(import.meta.url), "../../..");
const SHOTS = path.join(ROOT, "tests/demo/screenshots");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const TIMEOUT = { timeout: 240_000 };
const COMMON_ARGS = ["--no-sandbox", "--disable-gpu-sandbox", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const CAMERA = { width: 640, height: 480 };

// minSize: the smallest face MTCNN looks for; the faces here are 60 px and larger, and on the
// CPU emulator fewer pyramid scales save seconds.
const BACKENDS = [
  { backend: "cpu", args: [], minSize: 40 },
  { backend: "webgpu", args: ["--enable-unsafe-webgpu"], minSize: 56 },
];

/**
 * A YUV4MPEG2 file of one frame from RGBA pixels: 4:2:0 (chroma averaged over 2x2 blocks),
 * BT.601 limited range, as Chromium's fake capture device reads it.
 */
export function y4m(rgba, width, height) {
  if (width % 2 || height % 2) throw new Error("y4m: even sizes only");
  const header = Buffer.from(`YUV4MPEG2 W${width} H${height} F30:1 Ip A1:1 C420jpeg\nFRAME\n`, "latin1");
  const ySize = width * height;
  const cSize = ySize / 4;
  const out = Buffer.alloc(header.length + ySize + 2 * cSize);
  header.copy(out);
  const Y = header.length;
  const U = Y + ySize;
  const V = U + cSize;
  const clamp = (v) => Math.max(0, Math.min(255, Math.round(v)));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = (y * width + x) * 4;
      const [r, g, b] = [rgba[at] / 255, rgba[at + 1] / 255, rgba[at + 2] / 255];
      out[Y + y * width + x] = clamp(16 + 65.481 * r + 128.553 * g + 24.966 * b);
    }
  }
  for (let y = 0; y < height; y += 2) {
    for (let x = 0; x < width; x += 2) {
      let u = 0;
      let v = 0;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
        const at = ((y + dy) * width + x + dx) * 4;
        const [r, g, b] = [rgba[at] / 255, rgba[at + 1] / 255, rgba[at + 2] / 255];
        u += 128 - 37.797 * r - 74.203 * g + 112 * b;
        v += 128 + 112 * r - 93.786 * g - 18.214 * b;
      }
      const c = (y / 2) * (width / 2) + x / 2;
      out[U + c] = clamp(u / 4);
      out[V + c] = clamp(v / 4);
    }
  }
  return out;
}

await access(path.join(ROOT, "pkg/wasm/mxnet_web_bg.wasm")).catch(() => {
  throw new Error("pkg/wasm/mxnet_web_bg.wasm is missing: build the package first with `npm run build`");
});

describe("demo: face embeddings with a fake camera", () => {
  let server;
  let tmp;
  let cameraFile;
  before(async () => {
    await mkdir(SHOTS, { recursive: true });
    // The page imports the package as www/pkg/. Instead of copying it there (demo.test.mjs does,
    // and may run at the same time), serve a folder of links: www/* → the repository's www/*,
    // www/pkg → pkg/.
    tmp = await mkdtemp(path.join(os.tmpdir(), "mxnet-web-camera-"));
    await mkdir(path.join(tmp, "www"));
    for (const name of await readdir(path.join(ROOT, "www"))) {
      if (name !== "pkg") await symlink(path.join(ROOT, "www", name), path.join(tmp, "www", name));
    }
    await symlink(path.join(ROOT, "pkg"), path.join(tmp, "www", "pkg"));
    server = await serveStatic({ root: tmp, port: 0 });
    // The camera's picture: the bundled photo, smaller, off-centre on a grey 640x480 frame.
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: COMMON_ARGS });
    try {
      const page = await browser.newPage();
      await page.goto(`${server.url}www/assets/astronaut.jpg`);
      const rgba = await page.evaluate(async ({ width, height }) => {
        const img = new Image();
        img.src = location.href;
        await img.decode();
        const canvas = Object.assign(document.createElement("canvas"), { width, height });
        const ctx = canvas.getContext("2d");
        ctx.fillStyle = "#808080";
        ctx.fillRect(0, 0, width, height);
        ctx.drawImage(img, 180, 30, 420, 420);
        return Array.from(ctx.getImageData(0, 0, width, height).data);
      }, CAMERA);
      cameraFile = path.join(tmp, "astronaut.y4m");
      await writeFile(cameraFile, y4m(Uint8Array.from(rgba), CAMERA.width, CAMERA.height));
    } finally {
      await browser.close();
    }
  });
  after(async () => {
    await server?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test("the .y4m writer: header, plane sizes, BT.601 values", () => {
    const white = new Uint8Array(4 * 4 * 4).fill(255);
    const file = y4m(white, 4, 4);
    const header = "YUV4MPEG2 W4 H4 F30:1 Ip A1:1 C420jpeg\nFRAME\n";
    assert.equal(file.subarray(0, header.length).toString("latin1"), header);
    assert.equal(file.length, header.length + 16 + 4 + 4);
    assert.equal(file[header.length], 235, "white is Y = 235 in limited range");
    assert.equal(file[header.length + 16], 128, "no chroma");
    assert.throws(() => y4m(white, 3, 4), /even/);
  });

  for (const { backend, args, minSize } of BACKENDS) {
    describe(`backend ${backend}`, () => {
      let browser;
      let page;
      const logs = [];
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
      /** Waits for the section's queued work (enrol / match) to finish. */
      const settled = () => page.evaluate(() => window.demo.embeddings.busy);

      before(async () => {
        browser = await chromium.launch({
          executablePath: CHROMIUM,
          args: [...COMMON_ARGS, ...args, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", `--use-file-for-fake-video-capture=${cameraFile}`],
        });
        page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        page.on("console", (m) => logs.push(`[${m.type()}] ${m.text()}`));
        page.on("pageerror", (e) => logs.push(`[pageerror] ${e.message}`));
      });
      after(async () => {
        await browser?.close();
      });

      test("the page loads the face recognition network on the chosen backend", TIMEOUT, () =>
        withLogs(async () => {
          await page.goto(`${server.url}www/?backend=${backend}`);
          await page.waitForFunction(() => document.body.dataset.state !== "loading", null, { timeout: 200_000 });
          assert.equal(await page.evaluate(() => document.body.dataset.state), "ready", await text("body"));
          const status = await page.locator("#embed-models li .backend").getAttribute("data-backend");
          assert.equal(status, backend);
          assert.match(await text("#embed-models"), /face_recognition .* loaded in [\d.]+ m?s · MXNet 1\.9\.1 file/);
          assert.match(await text("#embed-gallery"), /No face enrolled yet/);
          await page.fill("#embed-minsize", String(minSize));
        }),
      );

      test("the fake camera starts, and the face is enrolled from one frame", TIMEOUT, () =>
        withLogs(async () => {
          await page.click("#embed-camera-start");
          await page.waitForFunction(() => document.querySelector("#embeddings").dataset.camera !== "starting", null, { timeout: 20_000 });
          assert.equal(await page.locator("#embeddings").getAttribute("data-camera"), "on", await text("#embed-camera-status"));
          assert.match(await text("#embed-camera-status"), /Camera on: .*\(640×480\)/);
          assert.equal(await page.locator("#embed-enrol-camera").isEnabled(), true);

          await page.fill("#embed-label", "Eileen");
          await page.click("#embed-enrol-camera");
          await settled();
          assert.equal(await page.locator("#embed-error").isHidden(), true, await text("#embed-error").catch(() => ""));
          const gallery = await page.evaluate(() => window.demo.embeddings.gallery.map((e) => ({ label: e.label, source: e.source, norm: Math.hypot(...e.descriptor) })));
          assert.equal(gallery.length, 1);
          assert.equal(gallery[0].label, "Eileen");
          assert.equal(gallery[0].source, "camera");
          assert.ok(gallery[0].norm > 0.5 && gallery[0].norm < 2, `descriptor norm ${gallery[0].norm}`);
          assert.match(await text("#embed-summary"), /Enrolled “Eileen” from camera/);
        }),
      );

      test("the face is recognised in mirrored, brighter and shifted copies; the matrix agrees", TIMEOUT, () =>
        withLogs(async () => {
          await page.click("#embed-match-variants");
          await settled();
          assert.equal(await page.locator("#embed-error").isHidden(), true, await text("#embed-error").catch(() => ""));
          const last = await page.evaluate(() => window.demo.embeddings.last.faces.map((f) => ({ box: f.box, match: f.match })));
          assert.equal(last.length, 2, JSON.stringify(last));
          for (const f of last) {
            assert.equal(f.match.label, "Eileen");
            assert.ok(f.match.same && f.match.distance < 0.6, `distance ${f.match.distance}`);
          }
          // One face in each half of the 880-wide composite: mirrored + brighter left, shifted right.
          assert.deepEqual(last.map((f) => (f.box[0] + f.box[2]) / 2 < 440).sort(), [false, true]);
          assert.match(await text("#embed-summary"), /2 faces in .*, 2 recognised/);
          assert.match(await text("#embed-matches"), /Eileen\s*· distance 0\.\d+ < 0\.6/);

          const { labels, distances } = await page.evaluate(() => window.demo.embeddings.matrix);
          assert.equal(labels.length, 3);
          assert.equal(labels[0], "Eileen");
          for (let i = 0; i < 3; i++) {
            assert.equal(distances[i][i], 0);
            for (let j = 0; j < 3; j++) {
              assert.ok(Math.abs(distances[i][j] - distances[j][i]) < 1e-6, "symmetric");
              assert.ok(distances[i][j] < 0.6, `${labels[i]} vs ${labels[j]}: ${distances[i][j]}`);
            }
          }
          assert.equal(await page.locator("#embed-matrix tbody tr").count(), 3);
          assert.equal(await page.locator("#embed-matrix td.same").count(), 9);
          await page.locator("#embeddings").screenshot({ path: path.join(SHOTS, `embeddings-${backend}.png`) });
        }),
      );

      test("nobody is recognised in an unrelated image", TIMEOUT, () =>
        withLogs(async () => {
          // A face-free picture: sky, hills, a sun, a house.
          await page.evaluate(async () => {
            const canvas = Object.assign(document.createElement("canvas"), { width: 640, height: 400 });
            const ctx = canvas.getContext("2d");
            const sky = ctx.createLinearGradient(0, 0, 0, 260);
            sky.addColorStop(0, "#4a90d9");
            sky.addColorStop(1, "#cfe6ff");
            ctx.fillStyle = sky;
            ctx.fillRect(0, 0, 640, 400);
            ctx.fillStyle = "#ffd23f";
            ctx.beginPath();
            ctx.arc(520, 80, 40, 0, 2 * Math.PI);
            ctx.fill();
            ctx.fillStyle = "#3d8b37";
            ctx.beginPath();
            ctx.moveTo(0, 300);
            ctx.quadraticCurveTo(200, 180, 400, 290);
            ctx.quadraticCurveTo(520, 240, 640, 280);
            ctx.lineTo(640, 400);
            ctx.lineTo(0, 400);
            ctx.fill();
            ctx.fillStyle = "#b5523b";
            ctx.fillRect(120, 250, 90, 70);
            ctx.fillStyle = "#5a3a29";
            ctx.fillRect(150, 285, 25, 35);
            const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
            const transfer = new DataTransfer();
            transfer.items.add(new File([blob], "landscape.png", { type: "image/png" }));
            const input = document.querySelector("#embed-match-file");
            input.files = transfer.files;
            input.dispatchEvent(new Event("change"));
          });
          await page.waitForFunction(() => window.demo.embeddings.last?.image === "landscape.png", null, { timeout: 120_000 });
          await settled();
          const last = await page.evaluate(() => window.demo.embeddings.last.faces.map((f) => f.match));
          assert.equal(last.filter((m) => m?.same).length, 0, JSON.stringify(last));
          assert.match(await text("#embed-summary"), /in landscape\.png, 0 recognised/);
        }),
      );

      if (backend !== "cpu") return;

      test("enrolling an image without a face, or a file that is not an image, says so", TIMEOUT, () =>
        withLogs(async () => {
          // A plain white picture: an image, but no face.
          await page.evaluate(async () => {
            const canvas = Object.assign(document.createElement("canvas"), { width: 64, height: 64 });
            const ctx = canvas.getContext("2d");
            ctx.fillStyle = "#fff";
            ctx.fillRect(0, 0, 64, 64);
            const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
            const transfer = new DataTransfer();
            transfer.items.add(new File([blob], "blank.png", { type: "image/png" }));
            const input = document.querySelector("#embed-enrol-file");
            input.files = transfer.files;
            input.dispatchEvent(new Event("change"));
          });
          await settled();
          assert.match(await text("#embed-error"), /^enrolling: no face found in blank\.png/);
          await page.setInputFiles("#embed-enrol-file", { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("not an image") });
          await settled();
          assert.match(await text("#embed-error"), /^reading the image: notes\.txt \(text\/plain\) is not an image this browser can decode/);
          assert.equal(await page.evaluate(() => window.demo.embeddings.gallery.length), 1, "the gallery is unchanged");
        }),
      );

      test("live matching recognises the face in the camera stream", TIMEOUT, () =>
        withLogs(async () => {
          await page.check("#embed-live");
          await page.waitForFunction(() => window.demo.embeddings.last?.image === "camera (live)", null, { timeout: 60_000 });
          await page.uncheck("#embed-live");
          await settled();
          const faces = await page.evaluate(() => window.demo.embeddings.last.faces.map((f) => f.match));
          assert.equal(faces.length, 1);
          assert.equal(faces[0].label, "Eileen");
          assert.ok(faces[0].same, `distance ${faces[0].distance}`);
          await page.click("#embed-camera-stop");
          assert.equal(await page.locator("#embeddings").getAttribute("data-camera"), "off");
          assert.equal(await page.locator("#embed-enrol-camera").isDisabled(), true);
        }),
      );

      test("camera errors are explained: permission denied, no camera, no camera API", TIMEOUT, () =>
        withLogs(async () => {
          const other = await browser.newPage();
          try {
            // getUserMedia fails the way window.cameraFailure says (set before each click).
            await other.addInitScript(() => {
              const real = navigator.mediaDevices;
              Object.defineProperty(Navigator.prototype, "mediaDevices", {
                get() {
                  if (window.cameraFailure === "no-api") return undefined;
                  return {
                    getUserMedia: async () => {
                      throw new DOMException("simulated", window.cameraFailure);
                    },
                    enumerateDevices: () => real.enumerateDevices(),
                  };
                },
              });
            });
            await other.goto(`${server.url}www/?backend=cpu`);
            // Once the models are loaded (loading clears the section's error box).
            await other.waitForFunction(() => document.body.dataset.state === "ready", null, { timeout: 100_000 });
            const attempt = async (failure) => {
              await other.evaluate((f) => {
                window.cameraFailure = f;
              }, failure);
              await other.evaluate(() => window.demo.embeddings.startCamera().catch(() => {}));
              return {
                state: await other.locator("#embeddings").getAttribute("data-camera"),
                error: await other.locator("#embed-error").innerText(),
                visible: await other.locator("#embed-error").isVisible(),
              };
            };
            const denied = await attempt("NotAllowedError");
            assert.equal(denied.state, "error");
            assert.ok(denied.visible);
            assert.match(denied.error, /camera permission denied: allow the camera/);
            const missing = await attempt("NotFoundError");
            assert.match(missing.error, /no camera found/);
            const noApi = await attempt("no-api");
            assert.match(noApi.error, /camera access needs a secure page/);
            assert.equal(await other.locator("#embed-enrol-camera").isDisabled(), true);
          } finally {
            await other.close();
          }
        }),
      );
    });
  }
});
