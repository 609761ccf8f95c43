// The checks browser-robustness.test.mjs runs inside Chromium (loaded by robustness.html):
// software adapters under "auto", containment of a trap of the wasm module, WebGPU after a
// failed run and after a lost device, an abort during the weight upload, an HTML page instead
// of the .wasm. Each returns a plain JSON summary; the Node.js side asserts on it.

import init, { Model, wasmMemoryBytes, __testFailure } from "/pkg/index.js";
import { compareOutputs } from "/tests/js/compare.mjs";
import { describeError, emptyParams, fixture, oneOp } from "/tests/js/test-helpers.mjs";

const RESNET = "tests/fixtures/models/tiny_resnet";

/** Settles `promise` into a JSON summary; never waits longer than `ms`. */
async function outcome(promise, ms = 20_000) {
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ hung: true }), ms);
  });
  const settled = promise.then(
    (value) => {
      const r = { resolved: true };
      if (value instanceof Model) {
        r.backend = value.backend;
        r.fallbackReason = value.fallbackReason ?? null;
        value.dispose();
      }
      return r;
    },
    describeError,
  );
  try {
    return await Promise.race([settled, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs the tiny ResNet on a model: mismatches with MXNet (empty when equal), or the error. */
async function runResnet(model, c, ms = 20_000) {
  const r = await outcome(model.run(c.inputs), ms);
  if (!r.resolved) return r;
  const outputs = await model.run(c.inputs);
  return { resolved: true, mismatches: compareOutputs(outputs, c.outputs, c.spec.rtol, c.spec.atol) };
}

/** A fresh load of the tiny ResNet on `backend`, run and compared. */
async function freshResnet(backend) {
  const c = await fixture(RESNET);
  let model;
  try {
    model = await Model.load(`/${RESNET}/model`, { backend });
  } catch (err) {
    return { isError: true, message: String(err?.message ?? err) };
  }
  try {
    return { backend: model.backend, fallbackReason: model.fallbackReason ?? null, ...(await runResnet(model, c)) };
  } finally {
    model.dispose();
  }
}

export async function environment() {
  await init();
  let adapter = null;
  try {
    const a = await navigator.gpu?.requestAdapter();
    if (a) {
      const info = a.info ?? {};
      adapter = {
        isFallbackAdapter: Boolean(info.isFallbackAdapter ?? a.isFallbackAdapter),
        description: `${info.vendor ?? ""} ${info.architecture ?? ""} ${info.description ?? ""}`.trim(),
      };
    }
  } catch {
    adapter = null;
  }
  return { adapter, wasmMemoryBytes: wasmMemoryBytes() };
}

/** 13.1: "auto" and an explicit "webgpu" on this browser's adapter. */
export async function autoAndExplicit() {
  return { auto: await freshResnet("auto"), webgpu: await freshResnet("webgpu") };
}

/** 14.1: a trap inside async work while a WebGPU model runs; then new loads. */
export async function trapWhileRunning({ backend }) {
  const c = await fixture(RESNET);
  const before = await Model.load(`/${RESNET}/model`, { backend });
  const healthy = await runResnet(before, c);
  const running = outcome(before.run(c.inputs));
  const trap = await outcome(__testFailure("async"));
  const concurrentRun = await running;
  const afterwards = await outcome(before.run(c.inputs));
  before.dispose();
  return { healthy, trap, concurrentRun, afterwards, fresh: await freshResnet(backend), auto: await freshResnet("auto") };
}

/** Runs the Pad (pad_width 100000 on 1x3x8x8: 1.2e11 output values) on `backend`. */
function runHugePad(backend) {
  const x = { data: new Float32Array(3 * 8 * 8), shape: [1, 3, 8, 8] };
  return (async () => {
    const m = await Model.fromBytes(
      oneOp("Pad", { mode: "constant", constant_value: "0", pad_width: "(0,0,0,0,100000,100000,100000,100000)" }),
      emptyParams(),
      { backend },
    );
    try {
      return await m.run(x);
    } finally {
      m.dispose();
    }
  })();
}

/**
 * 14.2: a Pad that cannot run (pad_width 100000) on WebGPU, then the other WebGPU work. Without
 * a plan-size limit (issue 14.4) the WebGPU build of that plan allocates many GiB of buffers
 * before it fails, so the check first asks whether the CPU backend refuses the plan cleanly.
 */
export async function hugePad() {
  const cpu = await outcome(runHugePad("cpu"), 20_000);
  if (cpu.hung || cpu.resolved || /WebAssembly module crashed/.test(cpu.message)) {
    return { skipped: `no plan-size limit in this build (the CPU run gave ${JSON.stringify(cpu).slice(0, 300)})` };
  }
  const c = await fixture(RESNET);
  const earlier = await Model.load(`/${RESNET}/model`, { backend: "webgpu" });
  const healthy = await runResnet(earlier, c);
  const pad = await outcome(runHugePad("webgpu"));
  const earlierAfter = await runResnet(earlier, c);
  earlier.dispose();
  return { healthy, pad, earlierAfter, webgpu: await freshResnet("webgpu"), auto: await freshResnet("auto") };
}

/** 14.2: the shared device is destroyed (as a driver reset would); models recover. */
export async function lostDevice() {
  const c = await fixture(RESNET);
  const model = await Model.load(`/${RESNET}/model`, { backend: "webgpu" });
  const healthy = await runResnet(model, c);
  const destroyed = await __testFailure("device");
  await new Promise((r) => setTimeout(r, 100)); // let device.lost resolve
  const afterLoss = await runResnet(model, c);
  const backendAfter = model.backend;
  model.dispose();
  return { healthy, destroyed, afterLoss, backendAfter, webgpu: await freshResnet("webgpu"), auto: await freshResnet("auto") };
}

/** 14.6: abort once both downloads are complete, i.e. during the WebGPU weight upload. */
export async function abortDuringUpload({ backend, iterations }) {
  const results = [];
  const warm = await Model.load(`/${RESNET}/model`, { backend });
  warm.dispose();
  const memoryBefore = wasmMemoryBytes();
  for (let i = 0; i < iterations; i++) {
    const controller = new AbortController();
    const done = new Set();
    results.push(
      await outcome(
        Model.load(`/${RESNET}/model`, {
          backend,
          signal: controller.signal,
          onProgress: (e) => {
            if (e.total !== undefined && e.loaded === e.total) done.add(e.file);
            if (done.size === 2) setTimeout(() => controller.abort(), 0);
          },
        }),
      ),
    );
  }
  return { results, memoryBefore, memoryAfter: wasmMemoryBytes() };
}

/** 13.2: init() on a URL where the server answers with its HTML page (a fresh page: not yet initialised). */
export async function htmlInsteadOfWasm() {
  return outcome(init("/pkg/wasm/mxnet_web_bg.wasm?html=1"));
}
