// CPU threads in Node.js (issue 9): setThreads / threads(), the threaded module (pkg/wasm-mt/)
// with worker_threads, outputs against MXNet's fixtures with 2 threads, and 1 vs 2 threads
// bit for bit (child processes: the thread count is fixed per process).
// Run with `node --test tests/js/threads.test.mjs` after `npm run build`.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { access, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { compareOutputs } from "./compare.mjs";
import { loadCase } from "./fixture-files.mjs";

const ROOT = path.resolve(fileURLToPath(import.meta.url), "../../..");
await access(path.join(ROOT, "pkg/wasm-mt/mxnet_web_bg.wasm")).catch(() => {
  throw new Error("pkg/wasm-mt/ is missing: build the package first with `npm run build`");
});
const { default: init, Model, setThreads, threads } = await import("../../pkg/index.js");

// Full-size networks (tests/fixtures/big: 224², layers large enough to be split among threads)
// and a small one (tests/fixtures/models).
const CASES = ["tests/fixtures/big/mobilenetv2_1_0", "tests/fixtures/big/resnet18_v1", "tests/fixtures/models/tiny_mobilenetv2"];


describe("threads (issue 9)", { timeout: 300_000 }, () => {
  test("setThreads validates, threads() reports the count, and setThreads after init throws", async () => {
    const env = Number(process.env.MXNET_WEB_THREADS);
    assert.equal(threads(), Number.isInteger(env) && env >= 1 ? Math.min(env, 64) : 1, "Node.js default: MXNET_WEB_THREADS, else 1");
    for (const bad of [0, -1, 1.5, 65, NaN, "2", null]) {
      assert.throws(() => setThreads(bad), /setThreads: expected an integer from 1 to 64/, String(bad));
    }
    setThreads(2);
    assert.equal(threads(), 2);
    await init();
    assert.equal(threads(), 2, "two threads running after init");
    assert.throws(() => setThreads(3), /setThreads must be called before the first load/);
    assert.equal(threads(), 2);
  });

  for (const dir of CASES) {
    test(`${dir}: 2 threads match MXNet`, async () => {
      await init();
      assert.equal(threads(), 2);
      const c = await loadCase(dir);
      const model = await Model.fromBytes(
        await readFile(c.symbolPath, "utf8"),
        await readFile(c.paramsPath),
        { backend: "cpu", inputs: c.spec.inputs.map((i) => i.name) },
      );
      try {
        for (let i = 0; i < 2; i++) {
          const outputs = await model.run(c.inputs);
          const mismatches = compareOutputs(outputs, c.outputs, c.spec.rtol, c.spec.atol);
          assert.deepEqual(mismatches, [], `${dir} (run ${i}):\n  ${mismatches.join("\n  ")}`);
        }
      } finally {
        model.dispose();
      }
    });
  }

  test("1 and 2 threads (MXNET_WEB_THREADS) give bit-identical outputs", () => {
    for (const dir of CASES.slice(0, 2)) {
      const runs = [1, 2].map((n) => {
        const r = spawnSync(process.execPath, [path.join(ROOT, "tests/js/threads-run.mjs"), path.join(ROOT, dir)], {
          env: { ...process.env, MXNET_WEB_THREADS: String(n) },
          encoding: "utf8",
          timeout: 120_000,
        });
        assert.equal(r.status, 0, `${dir}, ${n} thread(s): ${r.stderr}`);
        return JSON.parse(r.stdout.trim().split("\n").at(-1));
      });
      assert.deepEqual(runs.map((r) => r.threads), [1, 2], dir);
      assert.equal(runs[1].sha256, runs[0].sha256, `${dir}: 2 threads differ from 1`);
    }
  });
});
