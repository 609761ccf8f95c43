// The npm package as users get it, in real toolchains: `npm pack` of pkg/, the tarball installed
// into fresh projects that are built with default configurations, and a model run from each
// build in headless Chromium (Debian's /usr/bin/chromium, via playwright-core), on the main
// thread and in worker mode:
//   - Vite (production `vite build`, no vite.config), served statically;
//   - webpack 5 + webpack-cli (no webpack.config.js, no asset rules);
//   - a plain HTML page importing the unpacked package from a static directory on another
//     origin (CDN style: the worker is then started from a same-origin blob);
//   - Node.js: `import` (ESM) from the installed package, and `require` (CommonJS).
// The .wasm (and the worker script) must be found with no configuration: new URL(…, import.meta.url).
//
// Needs the npm registry (vite, webpack and webpack-cli at the pinned versions below) the first
// time; the npm cache ($MXNET_WEB_NPM_CACHE, default <tmp>/mxnet-web-npm-cache) makes reruns
// quick. Needs the built package (npm run build). Set MXNET_WEB_SKIP_TOOLCHAINS=1 to skip (no
// registry access).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { access, cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { chromium } from "playwright-core";

import { compareOutputs } from "./compare.mjs";
import { parseNpy } from "./npy.mjs";
import { startServer } from "./server.mjs";

const ROOT = path.resolve(fileURLToPath(import.meta.url), "../../..");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const NPM_CACHE = process.env.MXNET_WEB_NPM_CACHE ?? path.join(os.tmpdir(), "mxnet-web-npm-cache");
const SKIP = process.env.MXNET_WEB_SKIP_TOOLCHAINS === "1" ? "MXNET_WEB_SKIP_TOOLCHAINS=1" : false;
const VERSIONS = { vite: "7.3.8", webpack: "5.113.0", "webpack-cli": "6.0.0" };
const FIXTURE = "tests/fixtures/models/tiny_resnet";
const TIMEOUT = { timeout: 240_000, skip: SKIP };
const run = promisify(execFile);

await access(path.join(ROOT, "pkg/wasm/mxnet_web_bg.wasm")).catch(() => {
  throw new Error("pkg/wasm/mxnet_web_bg.wasm is missing: build the package first with `npm run build`");
});

/** The app every toolchain builds: runs the fixture model, on the main thread or in a worker. */
const APP = `import { Model, softmax, topK } from "mxnet-web";

window.runApp = async ({ prefix, input, worker }) => {
  const model = await Model.load(prefix, { worker });
  const [out] = await model.run({ data: { data: new Float32Array(input.data), shape: input.shape } });
  const result = { backend: model.backend, data: Array.from(out.data), shape: out.shape, top: topK(softmax(out.data), 1)[0].index };
  model.dispose();
  return result;
};
window.appReady = true;
`;

/** Runs a command; on failure the error carries its output. */
async function sh(cmd, args, cwd, timeout = 200_000) {
  try {
    return await run(cmd, args, {
      cwd,
      timeout,
      maxBuffer: 64 << 20,
      env: { ...process.env, npm_config_cache: NPM_CACHE, npm_config_update_notifier: "false", npm_config_fund: "false", npm_config_audit: "false" },
    });
  } catch (err) {
    err.message += `\n--- stdout:\n${err.stdout ?? ""}\n--- stderr:\n${err.stderr ?? ""}`;
    throw err;
  }
}

/** `npm install --prefer-offline` in a project dir. */
function npmInstall(dir) {
  return sh("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], dir);
}

describe("packaging in real toolchains", { skip: SKIP }, () => {
  let work;
  let tarball;
  let fixture;
  let browser;
  let installs;

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), "mxnet-web-toolchains-"));
    const { stdout } = await sh("npm", ["pack", path.join(ROOT, "pkg"), "--pack-destination", work, "--json"], work);
    const [info] = JSON.parse(stdout);
    tarball = { path: path.join(work, info.filename), files: info.files.map((f) => f.path) };
    const spec = JSON.parse(await readFile(path.join(ROOT, FIXTURE, "case.json"), "utf8"));
    const input = parseNpy(await readFile(path.join(ROOT, FIXTURE, spec.inputs[0].file)));
    const output = parseNpy(await readFile(path.join(ROOT, FIXTURE, spec.outputs[0])));
    fixture = { spec, input: { data: Array.from(input.data), shape: input.shape }, output };
    // Both projects install at once (network-bound).
    installs = {
      vite: project("vite-app", { type: "module", devDependencies: { vite: VERSIONS.vite } }, {
        "index.html": `<!doctype html>\n<html><body><script type="module" src="/main.js"></script></body></html>\n`,
        "main.js": APP,
      }),
      webpack: project("webpack-app", { devDependencies: { webpack: VERSIONS.webpack, "webpack-cli": VERSIONS["webpack-cli"] } }, {
        "src/index.js": APP,
      }),
    };
    // A failed install fails its own test, not the others.
    for (const p of Object.values(installs)) p.catch(() => {});
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu-sandbox", "--no-first-run", "--disable-background-networking", "--disable-features=WebGPU"],
    });
  });
  after(async () => {
    await browser?.close();
    if (work && !process.env.MXNET_WEB_KEEP_TOOLCHAINS) await rm(work, { recursive: true, force: true });
  });

  /** Creates a fresh project depending on the packed tarball, and installs it. */
  async function project(name, manifest, files) {
    const dir = path.join(work, name);
    await mkdir(dir, { recursive: true });
    const pkg = { name, private: true, ...manifest, dependencies: { "mxnet-web": `file:${tarball.path}` } };
    await writeFile(path.join(dir, "package.json"), JSON.stringify(pkg, null, 2));
    for (const [file, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await writeFile(path.join(dir, file), text);
    }
    await npmInstall(dir);
    return dir;
  }

  /** Copies the fixture model into a served directory as model/model-*. */
  async function addModel(dir) {
    await mkdir(path.join(dir, "model"), { recursive: true });
    for (const f of [fixture.spec.symbol, fixture.spec.params]) await cp(path.join(ROOT, FIXTURE, f), path.join(dir, "model", f));
  }

  /** Opens `url` and runs the app on the main thread and in a worker; asserts MXNet's outputs. */
  async function runInBrowser(url, label) {
    const page = await browser.newPage();
    const lines = [];
    page.on("console", (m) => lines.push(`[${m.type()}] ${m.text()}`));
    page.on("pageerror", (e) => lines.push(`[pageerror] ${e.message}`));
    page.on("requestfailed", (r) => lines.push(`[requestfailed] ${r.url()} ${r.failure()?.errorText}`));
    try {
      await page.goto(url);
      await page.waitForFunction(() => window.appReady === true, null, { timeout: 20_000 });
      for (const worker of [false, true]) {
        const r = await page.evaluate((a) => window.runApp(a), { prefix: "model/model", input: fixture.input, worker });
        const mismatches = compareOutputs([{ data: new Float32Array(r.data), shape: r.shape }], [fixture.output], fixture.spec.rtol, fixture.spec.atol);
        assert.deepEqual(mismatches, [], `${label}, worker ${worker}`);
        assert.equal(r.backend, "cpu");
      }
    } catch (err) {
      err.message += `\n${label}: page console:\n  ${lines.slice(-20).join("\n  ")}`;
      throw err;
    } finally {
      await page.close();
    }
  }

  test("npm pack: the tarball holds every module, the types and the .wasm", TIMEOUT, () => {
    for (const f of ["index.js", "index.d.ts", "image.js", "cache.js", "worker.js", "worker-entry.js", "wasm/mxnet_web.js", "wasm/mxnet_web_bg.wasm", "package.json", "README.md"]) {
      assert.ok(tarball.files.includes(f), `${f} is not in the tarball (${tarball.files.join(", ")})`);
    }
  });

  test(`Vite ${VERSIONS.vite}: a default production build runs the model (main thread and worker)`, TIMEOUT, async () => {
    const dir = await installs.vite;
    await sh(path.join(dir, "node_modules/.bin/vite"), ["build", "--logLevel", "warn"], dir);
    const dist = path.join(dir, "dist");
    await addModel(dist);
    const server = await startServer(dist);
    try {
      await runInBrowser(`${server.origin}/index.html`, "vite");
      assert.ok(server.requests.some((r) => /^200 \/assets\/.*\.wasm$/.test(r)), `no .wasm served: ${server.requests}`);
      assert.ok(server.requests.some((r) => /^200 \/assets\/worker-entry.*\.js$/.test(r)), `no worker script served: ${server.requests}`);
    } finally {
      await server.close();
    }
  });

  test(`webpack ${VERSIONS.webpack}: the default configuration (no asset rules) runs the model (main thread and worker)`, TIMEOUT, async () => {
    const dir = await installs.webpack;
    await sh(path.join(dir, "node_modules/.bin/webpack"), [], dir);
    const dist = path.join(dir, "dist");
    await writeFile(path.join(dist, "index.html"), `<!doctype html>\n<html><body><script src="main.js"></script></body></html>\n`);
    await addModel(dist);
    const server = await startServer(dist);
    try {
      await runInBrowser(`${server.origin}/index.html`, "webpack");
      assert.ok(server.requests.some((r) => /^200 \/[0-9a-f]+\.wasm$/.test(r)), `no .wasm served: ${server.requests}`);
    } finally {
      await server.close();
    }
  });

  test("a plain HTML page imports the package from a static directory on another origin (CDN style)", TIMEOUT, async () => {
    const cdn = path.join(work, "cdn");
    await mkdir(cdn, { recursive: true });
    await sh("tar", ["-xzf", tarball.path, "-C", cdn], cdn); // → cdn/package/
    const cdnServer = await startServer(cdn, { cors: true });
    const site = path.join(work, "site");
    await mkdir(site, { recursive: true });
    await addModel(site);
    await writeFile(path.join(site, "index.html"), `<!doctype html>\n<html><body><script type="module">\n${APP.replace('"mxnet-web"', `"${cdnServer.origin}/package/index.js"`)}</script></body></html>\n`);
    const siteServer = await startServer(site);
    try {
      await runInBrowser(`${siteServer.origin}/index.html`, "CDN");
      assert.ok(cdnServer.requests.includes("200 /package/wasm/mxnet_web_bg.wasm"), `${cdnServer.requests}`);
      assert.ok(cdnServer.requests.includes("200 /package/worker-entry.js"), `${cdnServer.requests}`);
    } finally {
      await cdnServer.close();
      await siteServer.close();
    }
  });

  /** A Node.js script in the webpack project (mxnet-web installed there) that prints the output. */
  async function nodeRun(file, source) {
    const dir = await installs.webpack;
    await addModel(dir);
    await writeFile(path.join(dir, file), source);
    const { stdout } = await sh(process.execPath, [file], dir, 60_000);
    const r = JSON.parse(stdout);
    return compareOutputs([{ data: new Float32Array(r.data), shape: r.shape }], [fixture.output], fixture.spec.rtol, fixture.spec.atol);
  }

  test("Node.js ESM: import from the installed package, the .wasm read from disk", TIMEOUT, async () => {
    const mismatches = await nodeRun(
      "run.mjs",
      `import { Model, topK } from "mxnet-web";
const input = ${JSON.stringify(fixture.input)};
const model = await Model.load("model/model", { backend: "cpu" });
const [out] = await model.run({ data: { data: new Float32Array(input.data), shape: input.shape } });
topK(out.data, 1);
console.log(JSON.stringify({ data: Array.from(out.data), shape: out.shape }));
`,
    );
    assert.deepEqual(mismatches, []);
  });

  test("Node.js CommonJS: require('mxnet-web') works, or fails with a message that says to use import", TIMEOUT, async (t) => {
    const source = `const input = ${JSON.stringify(fixture.input)};
let mod;
try {
  mod = require("mxnet-web");
} catch (err) {
  console.log(JSON.stringify({ requireError: String(err && err.message) }));
  process.exit(0);
}
(async () => {
  const { Model } = mod;
  const model = await Model.load("model/model", { backend: "cpu" });
  const [out] = await model.run({ data: { data: new Float32Array(input.data), shape: input.shape } });
  console.log(JSON.stringify({ data: Array.from(out.data), shape: out.shape }));
})().catch((err) => {
  console.log(JSON.stringify({ runError: String(err && err.message) }));
});
`;
    const dir = await installs.webpack;
    await addModel(dir);
    await writeFile(path.join(dir, "run.cjs"), source);
    const { stdout } = await sh(process.execPath, ["run.cjs"], dir, 60_000);
    const r = JSON.parse(stdout);
    assert.equal(r.runError, undefined, `require() gave the module but it did not run: ${r.runError}`);
    t.diagnostic(r.requireError === undefined ? `require() works (Node.js ${process.version})` : `require() fails: ${r.requireError}`);
    if (r.requireError !== undefined) {
      assert.match(r.requireError, /import\(|ES module|ESM/, `require() failed without saying to use import: ${r.requireError}`);
    } else {
      const mismatches = compareOutputs([{ data: new Float32Array(r.data), shape: r.shape }], [fixture.output], fixture.spec.rtol, fixture.spec.atol);
      assert.deepEqual(mismatches, []);
    }
  });
});
