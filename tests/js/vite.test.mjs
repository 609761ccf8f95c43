// The packed npm tarball under a real Vite dev server (issue 13.2): Vite 5 and 7 pre-bundle
// dependencies into node_modules/.vite/deps/, away from the package's .wasm, and answer the
// .wasm URL with their HTML page. The package must still start there (it retries from
// /node_modules/mxnet-web/wasm/), and with `optimizeDeps: { exclude: ["mxnet-web"] }`.
//
// Needs the npm registry (vite is installed into a temporary project; npm's cache is shared
// between runs) and Chromium. VITE_VERSIONS (default "5.4.21,7.3.8") picks the versions;
// MXNET_WEB_SKIP_VITE=1 skips the file.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { access, cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { chromium } from "playwright-core";

import { parseNpy } from "./npy.mjs";

const run = promisify(execFile);
const ROOT = path.resolve(fileURLToPath(import.meta.url), "../../..");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const VERSIONS = (process.env.VITE_VERSIONS ?? "5.4.21,7.3.8").split(",").map((s) => s.trim());
const SKIP = process.env.MXNET_WEB_SKIP_VITE === "1";
const MODEL = path.join(ROOT, "tests/fixtures/models/tiny_resnet");

await access(path.join(ROOT, "pkg/wasm/mxnet_web_bg.wasm")).catch(() => {
  throw new Error("pkg/wasm/mxnet_web_bg.wasm is missing: build the package first with `npm run build`");
});

const MAIN_JS = `
import { Model } from "mxnet-web";
window.result = (async () => {
  try {
    const model = await Model.load("/model/model", { backend: "cpu" });
    const input = await (await fetch("/model/input.json")).json();
    const [out] = await model.run({ data: { data: Float32Array.from(input.data), shape: input.shape } });
    model.dispose();
    return { ok: true, out: Array.from(out.data) };
  } catch (err) {
    return { ok: false, message: String(err && err.message) };
  }
})();
`;

/** Starts `vite` (dev server) in `dir` on a free port; resolves to { url, stop }. */
async function startVite(dir) {
  const child = spawn(process.execPath, ["node_modules/vite/bin/vite.js", "--host", "127.0.0.1", "--port", "0", "--clearScreen", "false"], {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`vite did not start:\n${output}`)), 60_000);
    const onData = (d) => {
      output += d;
      const m = /Local:\s+(http:\/\/127\.0\.0\.1:\d+\/)/.exec(output.replace(/\x1b\[[0-9;]*m/g, ""));
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => reject(new Error(`vite exited with ${code}:\n${output}`)));
  });
  return {
    url,
    output: () => output,
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", resolve);
        child.kill();
      }),
  };
}

describe("the packed package under the Vite dev server", { skip: SKIP && "MXNET_WEB_SKIP_VITE=1", timeout: 600_000 }, () => {
  let work;
  let tarball;
  let browser;
  let expected;

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), "mxnet-web-vite-"));
    const { stdout } = await run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", work], { cwd: path.join(ROOT, "pkg") });
    tarball = path.join(work, JSON.parse(stdout)[0].filename);
    expected = parseNpy(await readFile(path.join(MODEL, "out_0.npy")));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu-sandbox", "--no-first-run"] });
  });
  after(async () => {
    await browser?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  for (const version of VERSIONS) {
    for (const exclude of [false, true]) {
      test(`vite ${version}${exclude ? ' with optimizeDeps: { exclude: ["mxnet-web"] }' : ", default config (pre-bundling)"}`, async () => {
        const dir = path.join(work, `app-${version}-${exclude ? "exclude" : "default"}`);
        await mkdir(path.join(dir, "public/model"), { recursive: true });
        await writeFile(path.join(dir, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
        await writeFile(path.join(dir, "index.html"), '<!doctype html><html><body><script type="module" src="/main.js"></script></body></html>\n');
        await writeFile(path.join(dir, "main.js"), MAIN_JS);
        if (exclude) await writeFile(path.join(dir, "vite.config.js"), 'export default { optimizeDeps: { exclude: ["mxnet-web"] } };\n');
        await cp(path.join(MODEL, "model-symbol.json"), path.join(dir, "public/model/model-symbol.json"));
        await cp(path.join(MODEL, "model-0000.params"), path.join(dir, "public/model/model-0000.params"));
        const x = parseNpy(await readFile(path.join(MODEL, "in_data.npy")));
        await writeFile(path.join(dir, "public/model/input.json"), JSON.stringify({ data: Array.from(x.data), shape: x.shape }));
        await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", `vite@${version}`, tarball], {
          cwd: dir,
          timeout: 300_000,
        });

        const vite = await startVite(dir);
        const page = await browser.newPage();
        const requests = [];
        page.on("request", (r) => requests.push(new URL(r.url()).pathname));
        try {
          await page.goto(vite.url);
          const result = await page.waitForFunction(() => window.result, null, { timeout: 120_000 }).then((h) => h.jsonValue());
          assert.ok(result.ok, `the page failed: ${result.message}\nrequests: ${requests.join(" ")}\nvite:\n${vite.output()}`);
          assert.equal(result.out.length, expected.data.length);
          for (let i = 0; i < expected.data.length; i++) {
            assert.ok(Math.abs(result.out[i] - expected.data[i]) <= 1e-5 + 1e-4 * Math.abs(expected.data[i]), `out[${i}]`);
          }
          const prebundled = requests.some((p) => p.includes("/node_modules/.vite/deps/mxnet-web"));
          assert.equal(prebundled, !exclude, `pre-bundling (requests: ${requests.join(" ")})`);
          if (!exclude) assert.ok(requests.includes("/node_modules/mxnet-web/wasm/mxnet_web_bg.wasm"), requests.join(" "));
        } finally {
          await page.close();
          await vite.stop();
        }
      });
    }
  }
});
