// The checks webapp-browser.test.mjs runs inside Chromium (loaded by webapp.html): worker mode,
// Cache Storage caching, image sources for tensorFromImage, warmup and Symbol.dispose. Each takes
// JSON arguments and returns a JSON summary; paths are relative to the server root (the repository).

import { Model, WorkerModel, tensorFromImage } from "/pkg/index.js";
import { compareOutputs } from "/tests/js/compare.mjs";
import { describeError, fetchBytes, fixture, rejection } from "/tests/js/test-helpers.mjs";

// ---------------------------------------------------------------------------------------------
// Worker mode
// ---------------------------------------------------------------------------------------------

/** Loads a fixture in a worker: outputs against MXNet's, the model's fields, progress, info, dispose. */
export async function workerLoad({ dir, backend, cache = false }) {
  const c = await fixture(dir);
  const events = [];
  const model = await Model.load(`/${dir}/model`, { backend, worker: true, cache, onProgress: (e) => events.push(e) });
  const isWorkerModel = model instanceof WorkerModel;
  const input = c.inputs.data;
  const inputCopy = input.data.slice();
  const outputs = await model.run(c.inputs);
  const mismatches = compareOutputs(outputs, c.outputs, c.spec.rtol, c.spec.atol);
  // The caller's input is left as it was (the worker gets a copy).
  const inputIntact = input.data.length === inputCopy.length && input.data.every((v, i) => v === inputCopy[i]);
  const info = model.info();
  const infoIsPromise = info instanceof Promise;
  const summary = await info;
  const shaped = await model.info({ data: c.inputs.data.shape });
  const warmupMs = await model.warmup({ data: c.inputs.data.shape });
  const result = {
    isWorkerModel,
    backend: model.backend,
    fallbackReason: model.fallbackReason ?? null,
    inputNames: [...model.inputNames],
    outputCount: model.outputCount,
    mismatches,
    inputIntact,
    outputIsFloat32: outputs[0].data instanceof Float32Array,
    infoIsPromise,
    infoInputs: summary.inputs.map((i) => i.name),
    outputShape: shaped.outputs[0].shape,
    expectedShape: c.outputs[0].shape,
    warmupMs,
    events: events.map(({ file, loaded, total }) => ({ file, loaded, total })),
  };
  model.dispose();
  result.afterDispose = await rejection(model.run(c.inputs));
  return result;
}

/**
 * A main-thread timer ticks every 5 ms while a long forward pass runs, in worker mode and on
 * the main thread: the longest gap between ticks, and the forward's duration, for each.
 */
export async function timerDuringForward({ dir, shape, backend = "cpu" }) {
  const result = {};
  for (const worker of [true, false]) {
    const model = await Model.load(`/${dir}/model`, { backend, worker });
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size).map((_, i) => Math.sin(i));
    await model.run({ data: { data: data.subarray(0, size), shape } }); // plans and allocates once
    const ticks = [];
    const timer = setInterval(() => ticks.push(performance.now()), 5);
    await new Promise((r) => setTimeout(r, 50));
    const start = performance.now();
    await model.run({ data: { data, shape } });
    const end = performance.now();
    await new Promise((r) => setTimeout(r, 50));
    clearInterval(timer);
    let maxGap = 0;
    const inside = [start, ...ticks.filter((t) => t > start && t < end), end];
    for (let i = 1; i < inside.length; i++) maxGap = Math.max(maxGap, inside[i] - inside[i - 1]);
    result[worker ? "worker" : "main"] = { forwardMs: end - start, maxGapMs: maxGap, ticks: inside.length - 2, backend: model.backend };
    model.dispose();
  }
  return result;
}

/** Worker mode: errors, abort, fromBytes, a custom fetch that runs in the page, Symbol.dispose. */
export async function workerEdges({ dir }) {
  const c = await fixture(dir);
  const out = {};
  out.notFound = await rejection(Model.load(`/${dir}/model`, { worker: true, epoch: 7, backend: "cpu" }));

  const controller = new AbortController();
  const started = performance.now();
  const pending = Model.load(`/${dir}/model`, { worker: true, backend: "cpu", signal: controller.signal, fetch: slowFetch });
  setTimeout(() => controller.abort(), 300);
  out.aborted = await rejection(pending);
  out.abortMs = performance.now() - started;

  const [symbol, params] = await Promise.all([fetchBytes(`/${dir}/${c.spec.symbol}`), fetchBytes(`/${dir}/${c.spec.params}`)]);
  const fromBytes = await Model.fromBytes(new TextDecoder().decode(symbol), params, { worker: true, backend: "cpu" });
  out.fromBytes = compareOutputs(await fromBytes.run(c.inputs), c.outputs, c.spec.rtol, c.spec.atol);
  out.paramsIntact = params.byteLength > 0; // the caller's bytes are copied, not moved
  fromBytes.dispose();

  const fetched = [];
  const custom = await Model.load(`/${dir}/model`, {
    worker: true,
    backend: "cpu",
    fetch: (url, init) => {
      fetched.push(url);
      return fetch(url, init);
    },
  });
  out.customFetch = { fetched, mismatches: compareOutputs(await custom.run(c.inputs), c.outputs, c.spec.rtol, c.spec.atol) };
  custom.dispose();

  {
    // eslint-disable-next-line no-unused-vars
    using scoped = await Model.load(`/${dir}/model`, { worker: true, backend: "cpu" });
    out.scoped = scoped;
  }
  out.afterUsing = await rejection(out.scoped.run(c.inputs));
  delete out.scoped;
  out.badInput = await rejection(
    (async () => {
      const m = await Model.load(`/${dir}/model`, { worker: true, backend: "cpu" });
      try {
        return await m.run({ image: c.inputs.data });
      } finally {
        m.dispose();
      }
    })(),
  );
  return out;
}

/** A fetch whose body arrives slowly (the test server's ?slow=), to abort a load mid-download. */
function slowFetch(url, init) {
  return fetch(url.endsWith(".params") ? `${url}?slow=100` : url, init);
}

// ---------------------------------------------------------------------------------------------
// Caching
// ---------------------------------------------------------------------------------------------

/** Clears the model cache: what isCached said before and after, and what clearCache returned. */
export async function clearCache({ prefix }) {
  const before = await Model.isCached(prefix);
  const cleared = await Model.clearCache(prefix);
  const after = await Model.isCached(prefix);
  await Model.clearCache();
  return { before, cleared, after, cacheExists: await caches.has("mxnet-web") };
}

/** One load of `prefix` with cache: true: progress, outputs against MXNet's, what is cached. */
export async function cachedLoad({ prefix, dir, worker = false }) {
  const c = await fixture(dir);
  const events = [];
  const model = await Model.load(prefix, { cache: true, worker, backend: "cpu", onProgress: (e) => events.push(e) });
  const mismatches = compareOutputs(await model.run(c.inputs), c.outputs, c.spec.rtol, c.spec.atol);
  model.dispose();
  const cache = await caches.open("mxnet-web");
  const stored = await Promise.all(
    (await cache.keys()).map(async (r) => {
      const res = await cache.match(r);
      return { url: r.url, etag: res.headers.get("etag"), lastModified: res.headers.get("last-modified"), size: (await res.arrayBuffer()).byteLength };
    }),
  );
  return {
    events: events.map(({ file, loaded, total }) => ({ file, loaded, total })),
    mismatches,
    isCached: await Model.isCached(prefix),
    stored,
  };
}

// ---------------------------------------------------------------------------------------------
// Images, warmup
// ---------------------------------------------------------------------------------------------

/** The same pixels through every kind of source: the largest difference from the ImageData result. */
export async function imageSources({ smooth }) {
  const width = 41;
  const height = 29;
  const image = new ImageData(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = (y * width + x) * 4;
      const noise = smooth ? 0 : ((x * 7919 + y * 104729) % 61) - 30;
      image.data[at] = (x * 255) / (width - 1) + noise;
      image.data[at + 1] = (y * 255) / (height - 1) - noise;
      image.data[at + 2] = 128 + noise;
      image.data[at + 3] = 255;
    }
  }
  const options = { size: [20, 24], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
  const reference = tensorFromImage(image, options);
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d").putImageData(image, 0, 0);
  const offscreen = new OffscreenCanvas(width, height);
  offscreen.getContext("2d").putImageData(image, 0, 0);
  const bitmap = await createImageBitmap(image);
  const img = new Image();
  img.src = URL.createObjectURL(await new Promise((r) => canvas.toBlob(r, "image/png")));
  await img.decode();
  const frame = new VideoFrame(canvas, { timestamp: 0 });

  const diff = (t) => {
    if (JSON.stringify(t.shape) !== JSON.stringify(reference.shape)) return `shape [${t.shape}]`;
    let worst = 0;
    let sum = 0;
    for (let i = 0; i < t.data.length; i++) {
      const d = Math.abs(t.data[i] - reference.data[i]);
      worst = Math.max(worst, d);
      sum += d;
    }
    return { worst, mean: sum / t.data.length };
  };
  const result = {
    shape: reference.shape,
    canvas: diff(tensorFromImage(canvas, options)),
    offscreen: diff(tensorFromImage(offscreen, options)),
    bitmap: diff(tensorFromImage(bitmap, options)),
    img: diff(tensorFromImage(img, options)),
    videoFrame: diff(tensorFromImage(frame, options)),
  };
  frame.close();

  // A <video> playing the canvas as a stream: lossy (YUV), so only close.
  const video = document.createElement("video");
  video.muted = true;
  video.srcObject = canvas.captureStream(30);
  const draw = setInterval(() => canvas.getContext("2d").putImageData(image, 0, 0), 30);
  await video.play();
  await new Promise((r) => (video.requestVideoFrameCallback ? video.requestVideoFrameCallback(() => r()) : setTimeout(r, 200)));
  result.video = diff(tensorFromImage(video, options));
  clearInterval(draw);
  video.pause();

  const empty = new Image();
  result.notLoaded = describeError(catchSync(() => tensorFromImage(empty, options)));
  return result;
}

function catchSync(fn) {
  try {
    fn();
    return null;
  } catch (err) {
    return err;
  }
}

/** warmup() on the main thread: the first run after it is not slower than later ones by much. */
export async function warmupAndDispose({ dir, backend }) {
  const c = await fixture(dir);
  const model = await Model.load(`/${dir}/model`, { backend });
  const shape = c.inputs.data.shape;
  const warmupMs = await model.warmup({ data: shape });
  const arrayForm = await model.warmup([shape]);
  const noShapes = describeError(await model.warmup().catch((e) => e));
  const mismatches = compareOutputs(await model.run(c.inputs), c.outputs, c.spec.rtol, c.spec.atol);
  const hasDispose = typeof model[Symbol.dispose] === "function";
  {
    // eslint-disable-next-line no-unused-vars
    using scoped = model;
  }
  const afterUsing = await rejection(model.run(c.inputs));
  return { warmupMs, arrayForm, noShapes, mismatches, hasDispose, afterUsing };
}
