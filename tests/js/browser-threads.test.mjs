// CPU threads in Chromium (issue 9): on a cross-origin isolated page (COOP/COEP) setThreads(2)
// gives threads() == 2, only the threaded module (wasm-mt/) is downloaded, and models run on the
// CPU backend match MXNet's outputs; on a page that is not isolated the package stays on one
// thread with the single-threaded module.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { access } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

import { startServer } from "./server.mjs";

const ROOT = path.resolve(fileURLToPath(import.meta.url), "../../..");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = ["--no-sandbox", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

const DIRS = ["tests/fixtures/models/tiny_mobilenetv2", "tests/fixtures/models/tiny_resnet", "tests/fixtures/big/mobilenetv2_1_0", "tests/fixtures/big/resnet18_v1"];

async function present(dirs) {
  const out = [];
  for (const d of dirs) if (await access(path.join(ROOT, d, "case.json")).then(() => true, () => false)) out.push(d);
  return out;
}

for (const isolation of [true, false]) {
  describe(`threads in Chromium, ${isolation ? "cross-origin isolated" : "not isolated"}`, { timeout: 300_000 }, () => {
    let server;
    let browser;
    let page;
    before(async () => {
      server = await startServer(ROOT, { isolation });
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
      page = await browser.newPage();
      page.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warning") console.log(`# page ${m.type()}: ${m.text()}`);
      });
      await page.goto(`${server.origin}/tests/js/fixtures.html`);
      await page.waitForFunction(() => window.runCases !== undefined || window.pageError !== undefined);
      assert.equal(await page.evaluate(() => window.pageError), undefined);
    });
    after(async () => {
      await browser?.close();
      await server?.close();
    });

    test(`setThreads(2): threads() is ${isolation ? 2 : 1} and one module is downloaded`, async () => {
      const r = await page.evaluate(async () => {
        const m = await import("/pkg/index.js");
        m.setThreads(2);
        const before = m.threads();
        await m.default();
        return { coi: self.crossOriginIsolated, before, after: m.threads() };
      });
      assert.deepEqual(r, { coi: isolation, before: isolation ? 2 : 1, after: isolation ? 2 : 1 });
      const wasm = server.requests.filter((q) => q.endsWith(".wasm"));
      assert.deepEqual(wasm, [isolation ? "200 /pkg/wasm-mt/mxnet_web_bg.wasm" : "200 /pkg/wasm/mxnet_web_bg.wasm"]);
      if (isolation) {
        assert.ok(server.requests.includes("200 /pkg/threads.js"), server.requests.join("\n"));
      }
    });

    test(`CPU outputs match MXNet on ${isolation ? 2 : 1} thread(s)`, async () => {
      const dirs = await present(DIRS);
      const results = await page.evaluate((dirs) => window.runCases({ dirs, backend: "cpu" }), dirs);
      for (const r of results) console.log(`# ${r.dir}: ${r.ms} ms (load + first run), ${r.detail}`);
      const failed = results.filter((r) => !r.ok);
      assert.equal(failed.length, 0, failed.map((r) => `${r.dir}: ${r.detail}`).join("\n"));
      assert.equal(await page.evaluate(async () => (await import("/pkg/index.js")).threads()), isolation ? 2 : 1);
    });
  });
}
