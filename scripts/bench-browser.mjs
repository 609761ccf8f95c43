#!/usr/bin/env node
// Forward latency of the npm package in headless Chromium (Debian's /usr/bin/chromium), CPU (wasm)
// and WebGPU (SwiftShader here, a real GPU elsewhere) backends, on the zoo models of
// tests/fixtures/big. Prints medians; benchmarks are never asserted.
//
//   npm run build && node scripts/bench-browser.mjs [--runs 5] [--models resnet18_v1,mobilenetv2_1_0]

import path from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

import { startServer } from "../tests/js/server.mjs";

const ROOT = path.resolve(fileURLToPath(import.meta.url), "../..");
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
};
const RUNS = Number(arg("runs", "5"));
const MODELS = arg("models", "resnet18_v1,mobilenetv2_1_0").split(",");

const server = await startServer(ROOT);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu-sandbox", "--enable-unsafe-webgpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  await page.goto(`${server.origin}/tests/js/fixtures.html`);
  await page.waitForFunction(() => window.runCases !== undefined || window.pageError !== undefined);
  console.log("model              backend  load ms  first ms  median ms  adapter");
  for (const model of MODELS) {
    for (const backend of ["cpu", "webgpu"]) {
      const r = await page.evaluate(
        async ([dir, backend, runs]) => {
          const { Model } = await import("/pkg/index.js");
          const { parseNpy } = await import("/tests/js/npy.mjs");
          const x = parseNpy(await (await fetch(`/${dir}/in_data.npy`)).arrayBuffer());
          let t = performance.now();
          const m = await Model.load(`/${dir}/model`, { backend });
          const load = performance.now() - t;
          t = performance.now();
          await m.run({ data: { data: x.data, shape: x.shape } });
          const first = performance.now() - t;
          const times = [];
          for (let i = 0; i < runs; i++) {
            t = performance.now();
            await m.run({ data: { data: x.data, shape: x.shape } });
            times.push(performance.now() - t);
          }
          times.sort((a, b) => a - b);
          const adapter = navigator.gpu ? (await navigator.gpu.requestAdapter())?.info?.description ?? "" : "";
          const out = { load, first, median: times[Math.floor(times.length / 2)], backend: m.backend, adapter };
          m.dispose();
          return out;
        },
        [`tests/fixtures/big/${model}`, backend, backend === "webgpu" ? Math.min(RUNS, 3) : RUNS],
      );
      console.log(
        `${model.padEnd(18)} ${r.backend.padEnd(8)} ${r.load.toFixed(0).padStart(7)} ${r.first.toFixed(0).padStart(9)} ` +
          `${r.median.toFixed(1).padStart(10)}  ${backend === "webgpu" ? r.adapter : ""}`,
      );
    }
  }
} finally {
  await browser.close();
  await server.close();
}
