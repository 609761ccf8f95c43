// Type-checked with `tsc --strict` by tests/js/types.test.mjs (together with the snippets of
// pkg/README.md): the whole public API as a TypeScript user writes it, and misuses that must
// not compile (@ts-expect-error fails the check if the line compiles).

import init, { Model, WorkerModel, softmax, tensorFromImage, topK, wasmMemoryBytes } from "mxnet-web";
import type { ImageTensorOptions, LoadOptions, ModelInfo, Precision, Profile, ProgressEvent, Tensor } from "mxnet-web";

export async function mainThread(canvas: HTMLCanvasElement, video: HTMLVideoElement, signal: AbortSignal): Promise<number> {
  await init();
  const onProgress = (e: ProgressEvent): void => console.log(e.file, e.loaded, e.total ?? "?");
  const options: LoadOptions = { epoch: 3, backend: "auto", onProgress, signal, cache: true, precision: "f16" };
  const model: Model = await Model.load({ symbol: "net-symbol.json", params: new URL("https://example.com/net-0003.params") }, options);
  const ms: number = await model.warmup({ data: [1, 3, 224, 224] });
  await model.warmup([[1, 3, 224, 224]]);
  const frame: Tensor = tensorFromImage(video, { size: [224, 224], channels: "BGR", mean: 127.5, std: 128, scale: 1 });
  const [out] = await model.run({ data: frame });
  const probs: Float32Array = softmax(out.data);
  const rows: Tensor = softmax(out);
  const best: { index: number; value: number }[] = topK(probs, 3);
  const info: ModelInfo = model.info({ data: [1, 3, 224, 224] });
  const profile: Profile | null = await model.profile({ data: frame });
  const slowest: number = Math.max(...(profile?.steps.map((s) => s.ms) ?? [0]));
  const crop: ImageTensorOptions = { crop: { x: -4, y: 0, width: 48, height: 48 }, layout: "NHWC", resize: "cover" };
  tensorFromImage(canvas, crop);
  tensorFromImage({ data: new Uint8ClampedArray(16), width: 2, height: 2 });
  const cached: boolean = await Model.isCached("models/net", { epoch: 3 });
  await Model.clearCache();
  const precision: Precision = model.precision;
  const note: string = model.precisionNote ?? precision;
  model[Symbol.dispose]();
  // @ts-expect-error precision is "f32" or "f16"
  await Model.load("models/net", { precision: "f64" });
  // @ts-expect-error info() is synchronous on the main thread
  await model.info().then(() => {});
  // @ts-expect-error warmup needs the input shapes
  await model.warmup();
  // @ts-expect-error layout is NCHW or NHWC
  tensorFromImage(canvas, { layout: "CHW" });
  return ms + slowest + info.paramCount + best.length + rows.shape.length + wasmMemoryBytes() + Number(cached) + note.length;
}

export async function inWorker(bytes: Uint8Array, json: string): Promise<string> {
  const model: WorkerModel = await Model.load("models/net", { worker: true, cache: true });
  const info: ModelInfo = await model.info();
  const shaped: Promise<ModelInfo> = model.info({ data: [1, 3, 32, 32] });
  const outputs: Tensor[] = await model.run([{ data: new Float32Array(3 * 32 * 32), shape: [1, 3, 32, 32] }]);
  const clock: string = (await model.profile({ data: new Float32Array(3 * 32 * 32), shape: [1, 3, 32, 32] }))?.clock ?? "cpu";
  {
    using fromBytes = await Model.fromBytes(json, bytes, { worker: true, backend: "cpu" });
    await fromBytes.warmup({ data: [1, 3, 32, 32] });
  }
  model.dispose();
  // Decided at run time: either kind, which both have run() and dispose().
  const either: Model | WorkerModel = await Model.load("models/net", { worker: navigator.hardwareConcurrency > 2 });
  await either.run({ data: new Float32Array(3 * 32 * 32), shape: [1, 3, 32, 32] });
  either.dispose();
  // @ts-expect-error a worker model is not a main-thread Model (info is asynchronous)
  const wrong: Model = model;
  return `${clock} ${model.backend} ${model.precision} ${model.precisionNote ?? ""} ${model.fallbackReason ?? ""} ${info.inputs.length} ${(await shaped).flops} ${outputs.length} ${model.inputNames.join()} ${model.outputCount} ${String(wrong)}`;
}
