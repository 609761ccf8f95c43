// The checks browser.test.mjs runs inside Chromium (loaded by browser.html). Each takes plain
// JSON arguments and returns a plain JSON summary that the Node.js side asserts on; paths are
// relative to the server root (the repository). Thrown errors reach the test with their message.

import init, { Model, wasmMemoryBytes } from "/pkg/index.js";
import { compareOutputs } from "/tests/js/compare.mjs";
import { describeError, fetchBytes, fixture, rejection } from "/tests/js/test-helpers.mjs";

/** Runs a model on a case's inputs: the mismatches with MXNet's outputs (empty when equal). */
async function runAndCompare(model, c) {
  const outputs = await model.run(c.inputs);
  return compareOutputs(outputs, c.outputs, c.spec.rtol, c.spec.atol);
}

function summary(model) {
  return {
    backend: model.backend,
    fallbackReason: model.fallbackReason ?? null,
    inputNames: [...model.inputNames],
    outputCount: model.outputCount,
  };
}

/** Whether this browser offers WebGPU with an adapter. */
export async function environment() {
  await init();
  let adapter = false;
  let timestampQuery = false;
  let shaderF16 = false;
  try {
    const a = await navigator.gpu?.requestAdapter();
    adapter = Boolean(a);
    timestampQuery = Boolean(a?.features.has("timestamp-query"));
    shaderF16 = Boolean(a?.features.has("shader-f16"));
  } catch {
    adapter = false;
  }
  return { navigatorGpu: "gpu" in navigator, adapter, timestampQuery, shaderF16, wasmMemoryBytes: wasmMemoryBytes() };
}

/** Model.load from a URL prefix, with progress events; outputs against MXNet's. */
export async function loadPrefix({ dir, prefix, epoch, backend }) {
  const c = await fixture(dir);
  const events = [];
  const model = await Model.load(`/${dir}/${prefix}`, { epoch, backend, onProgress: (e) => events.push({ ...e }) });
  try {
    return { ...summary(model), mismatches: await runAndCompare(model, c), events };
  } finally {
    model.dispose();
  }
}

/**
 * `precision: "f16"` on the main thread and in a worker: what runs, the note, and the outputs
 * against MXNet's (within the case's tolerance in f32; in f16 within 2% of the output scale).
 */
export async function precisionF16({ dir, backend }) {
  const c = await fixture(dir);
  const outcome = async (worker) => {
    const model = await Model.load(`/${dir}/model`, { backend, precision: "f16", worker });
    try {
      const outputs = await model.run(c.inputs);
      const scale = Math.max(...c.outputs.flatMap((t) => Array.from(t.data, Math.abs)));
      const [rtol, atol] = model.precision === "f16" ? [0, 2e-2 * scale] : [c.spec.rtol, c.spec.atol];
      return {
        backend: model.backend,
        precision: model.precision,
        precisionNote: model.precisionNote ?? null,
        mismatches: compareOutputs(outputs, c.outputs, rtol, atol),
      };
    } finally {
      model.dispose();
    }
  };
  return { main: await outcome(false), worker: await outcome(true) };
}

/** Model.profile on the main thread and in a worker; the model still runs correctly after. */
export async function profileSteps({ dir, backend }) {
  const c = await fixture(dir);
  const model = await Model.load(`/${dir}/model`, { backend });
  const worker = await Model.load(`/${dir}/model`, { backend, worker: true });
  const shape = (p) =>
    p === null
      ? null
      : {
          clock: p.clock,
          steps: p.steps.length,
          named: p.steps.every((s) => typeof s.step === "string" && s.step.startsWith("node '")),
          conv: p.steps.some((s) => s.step.includes("conv_igemm[")),
          timesOk: p.steps.every((s) => Number.isFinite(s.ms) && s.ms >= 0),
          totalMs: p.steps.reduce((a, s) => a + s.ms, 0),
        };
  const outcome = async (m) => {
    try {
      return { profile: shape(await m.profile(c.inputs)) };
    } catch (err) {
      return { error: describeError(err) };
    }
  };
  try {
    return {
      ...summary(model),
      main: await outcome(model),
      worker: await outcome(worker),
      workerBackend: worker.backend,
      mismatches: await runAndCompare(model, c),
    };
  } finally {
    model.dispose();
    worker.dispose();
  }
}

/** Model.load({ symbol, params }) with absolute and relative URLs. */
export async function loadExplicit({ dir, backend }) {
  const c = await fixture(dir);
  const symbol = new URL(`/${dir}/${c.spec.symbol}`, location.href).href; // absolute
  const params = `../../${dir}/${c.spec.params}`; // relative to this page (/tests/js/)
  const model = await Model.load({ symbol, params }, { backend });
  try {
    return { ...summary(model), mismatches: await runAndCompare(model, c) };
  } finally {
    model.dispose();
  }
}

/**
 * Aborts while the params file streams in (served in 4 KiB chunks 500 ms apart: 3.5 s in all),
 * and with an already aborted signal.
 */
export async function abortLoad({ dir, backend }) {
  const controller = new AbortController();
  const events = [];
  const started = performance.now();
  const during = await rejection(
    Model.load(
      { symbol: `/${dir}/model-symbol.json`, params: `/${dir}/model-0000.params?slow=500` },
      {
        backend,
        signal: controller.signal,
        onProgress: (e) => {
          events.push({ ...e });
          if (e.file === "params" && e.loaded > 0) controller.abort();
        },
      },
    ),
  );
  const elapsedMs = performance.now() - started;
  const before = await rejection(Model.load(`/${dir}/model`, { backend, signal: AbortSignal.abort() }));
  return { during, before, events, elapsedMs };
}

/** Loading a params file that does not exist. */
export async function notFound({ dir, backend }) {
  return rejection(Model.load(`/${dir}/model`, { backend, epoch: 7 }));
}

/** A corrupt params file: truncated in memory (fromBytes) and served truncated (load). */
export async function corruptParams({ dir, backend }) {
  const symbol = new TextDecoder().decode(await fetchBytes(`/${dir}/model-symbol.json`));
  const params = await fetchBytes(`/${dir}/model-0000.params`);
  const half = params.length >> 1;
  return {
    fromBytes: await rejection(Model.fromBytes(symbol, params.subarray(0, half), { backend, paramsName: "half.params" })),
    served: await rejection(
      Model.load({ symbol: `/${dir}/model-symbol.json`, params: `/${dir}/model-0000.params?truncate=${half}` }, { backend }),
    ),
    garbage: await rejection(Model.fromBytes(symbol, new Uint8Array(4096).fill(7), { backend })),
  };
}

/** Inputs the model cannot take; afterwards the model still runs correctly. */
export async function wrongInputs({ dir, backend }) {
  const c = await fixture(dir);
  const model = await Model.load(`/${dir}/model`, { backend });
  try {
    const x = c.inputs.data;
    const [n, ch, h, w] = x.shape;
    return {
      shape: x.shape,
      shortData: await rejection(model.run({ data: { data: new Float32Array(100), shape: x.shape } })),
      wrongShape: await rejection(model.run({ data: { data: x.data, shape: [n, ch * h, w, 1] } })),
      unknownName: await rejection(model.run({ image: x })),
      afterwards: await runAndCompare(model, c),
    };
  } finally {
    model.dispose();
  }
}

/**
 * `iterations` × (create, run, dispose): the wasm memory after 5 and after all iterations.
 * Every tenth model comes from Model.load, the others from Model.fromBytes. Use a model whose
 * parameters are large enough for a leak to show (MTCNN O-net: ~2.7 MB of wasm memory each).
 */
export async function disposeCycles({ dir, backend, iterations }) {
  const c = await fixture(dir);
  const symbolUrl = `/${dir}/${c.spec.symbol}`;
  const paramsUrl = `/${dir}/${c.spec.params}`;
  const symbol = new TextDecoder().decode(await fetchBytes(symbolUrl));
  const params = await fetchBytes(paramsUrl);
  let after5 = 0;
  let mismatches = [];
  for (let i = 1; i <= iterations; i++) {
    const model =
      i % 10 === 0
        ? await Model.load({ symbol: symbolUrl, params: paramsUrl }, { backend })
        : await Model.fromBytes(symbol, params, { backend });
    const m = await runAndCompare(model, c);
    if (m.length > 0) mismatches = m;
    model.dispose();
    if (i === 5) after5 = wasmMemoryBytes();
  }
  const last = await Model.fromBytes(symbol, params, { backend });
  last.dispose();
  last.dispose(); // no-op
  const afterDispose = await rejection(last.run(c.inputs));
  let infoAfterDispose;
  try {
    last.info();
  } catch (err) {
    infoAfterDispose = describeError(err);
  }
  return { after5, afterAll: wasmMemoryBytes(), mismatches, afterDispose, infoAfterDispose };
}
