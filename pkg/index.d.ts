// Types of mxnet-web's public API (index.js).
/// <reference lib="esnext.disposable" />

/** A dense float32 tensor in row-major (C) order. */
export interface Tensor {
  /** `shape.reduce((a, b) => a * b, 1)` values. */
  data: Float32Array;
  /** Dimensions, e.g. `[1, 3, 224, 224]` (NCHW for images, as MXNet). */
  shape: number[];
}

/**
 * What `run` accepts as an input's values: a Float32Array, another number typed array (not
 * BigInt64Array / BigUint64Array, not a DataView) or an array of numbers; anything but a
 * Float32Array is converted to one. Other array-likes are rejected.
 */
export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | readonly number[];

/**
 * An input tensor. `run` copies `data` when it is called: changing the array afterwards (even
 * before the run's promise resolves) does not change the run.
 */
export interface TensorInput {
  data: TensorData;
  /** Non-negative integers, each at most 2^32 − 1 (the WebAssembly build is 32-bit). */
  shape: readonly number[];
}

/** Which backend runs a model. */
export type Backend = "cpu" | "webgpu";

/**
 * `"auto"` picks WebGPU when it is available on a hardware adapter and works, else the CPU
 * (WebAssembly SIMD) backend, with `Model.fallbackReason` saying why. A software adapter
 * (`isFallbackAdapter`, e.g. Chromium's SwiftShader) counts as no GPU: it is far slower than the
 * CPU backend. `"webgpu"` uses any adapter, and fails when WebGPU is unavailable.
 */
export type BackendChoice = "auto" | Backend;

/**
 * The precision of the weights of convolutions and FullyConnected layers on WebGPU. `"f16"`
 * stores them in half precision (half the GPU memory and weight reads; about 1e-3 relative
 * error against MXNet) where the device has the `shader-f16` feature; activations and
 * accumulation stay f32. The CPU backend is always f32.
 */
export type Precision = "f32" | "f16";

/** One download progress report (see `LoadOptions.onProgress`). */
export interface ProgressEvent {
  /** Which file: the symbol JSON or the `.params` file. */
  file: "symbol" | "params";
  /** The file's absolute URL. */
  url: string;
  /** Bytes received so far: never decreases for a file. */
  loaded: number;
  /**
   * The file's size: its Content-Length header when the transfer is not compressed, else the
   * size given in `LoadOptions.sizes`, else `undefined` (a server that compresses, e.g. with
   * `Content-Encoding: gzip` as `vite preview` does, sends no usable size). The last event of a
   * file has `loaded === total` when a total is known.
   */
  total: number | undefined;
}

/** Options of `Model.fromBytes` (and of `Model.load`). */
export interface BindOptions {
  /** Backend: default `"auto"`. */
  backend?: BackendChoice;
  /**
   * Names of the graph's data inputs (variables that are not parameters), in the order `run`
   * takes them as an array. Default `["data"]`.
   */
  inputs?: string[];
  /** Accept parameters missing from the params file (MXNet's `allow_missing`). Default false. */
  allowMissing?: boolean;
  /** Accept params-file entries that match no graph variable (MXNet's `ignore_extra`). Default false. */
  ignoreExtra?: boolean;
  /**
   * Renames params-file keys before binding: a key starting with FROM starts with TO instead
   * (the first matching entry applies). `{ FROM: TO }` or `["FROM=TO", ...]`; either side may
   * be empty. Fixes Gluon prefix mismatches such as `resnetv10_` vs `resnetv11_`.
   */
  prefixMap?: Record<string, string> | string[];
  /**
   * The most bytes one forward pass may take (activation buffers plus kernel scratch). Inputs
   * whose plan needs more are refused before anything is allocated, with the size and the node
   * in the message. Default: the platform's (2 GiB in WebAssembly; on WebGPU also the device's
   * largest buffer).
   */
  memoryLimit?: number;
  /**
   * `"f16"` asks for half-precision weights on WebGPU (see `Precision`); without `shader-f16`
   * the weights stay f32 and `Model.precisionNote` says why. Default `"f32"`, the reference.
   */
  precision?: Precision;
}

/** Options of `Model.fromBytes`. */
export interface FromBytesOptions extends BindOptions {
  /** Name of the symbol file in error messages. Default `"symbol.json"`. */
  symbolName?: string;
  /** Name of the params file in error messages. Default `"model.params"`. */
  paramsName?: string;
}

/** Options of `Model.load`. */
export interface LoadOptions extends BindOptions {
  /** Epoch of the params file when loading by URL prefix: `prefix-0000.params` for 0 (default). */
  epoch?: number;
  /** Called as the files download (both download at once; events say which file). */
  onProgress?: (event: ProgressEvent) => void;
  /**
   * Cancels the load: it then rejects with the signal's reason when that is an Error (a
   * DOMException named "AbortError" for `controller.abort()`), else with an "AbortError".
   */
  signal?: AbortSignal;
  /**
   * The fetch function to use (default: the global `fetch`), e.g. to add headers. Under
   * Node.js it serves every URL but `file:` ones (and relative paths), which are read from disk.
   */
  fetch?: (url: string, init: { signal: AbortSignal }) => Promise<Response>;
  /**
   * The files' sizes in bytes, when known, for progress totals where the server's
   * Content-Length cannot give them (a compressed transfer). Used for progress only.
   */
  sizes?: { symbol?: number; params?: number };
}

/** A named tensor shape in `ModelInfo`: `shape` is null when unknown (no input shapes given). */
export interface NamedShape {
  name: string;
  shape: number[] | null;
}

/** One stored parameter in `ModelInfo`. */
export interface ParamInfo {
  name: string;
  shape: number[];
  /** The stored dtype: "float32", "float16", "float64", ... (values are converted to float32). */
  dtype: string;
  /** "weight" for learned parameters (`arg:`), "aux" for BatchNorm statistics (`aux:`), ... */
  role: "weight" | "aux" | "data" | "label";
}

/** What `Model.info` returns. */
export interface ModelInfo {
  /** The MXNet version that wrote the symbol file, e.g. "1.9.1" ("0.8.0" for legacy files). */
  mxnetVersion: string;
  /** Inputs in run order (shapes when given to `info`). */
  inputs: NamedShape[];
  /** Output heads (`<node>_output<i>`); shapes when input shapes were given. */
  outputs: NamedShape[];
  /** Operator name → number of nodes that run it. */
  opCounts: Record<string, number>;
  /**
   * Operator family → the operator names of that family in the model, e.g.
   * `{ recurrent: ["RNN"], detection: ["_contrib_box_nms"], convolution: ["Convolution"] }`.
   */
  opFamilies: Record<string, string[]>;
  params: ParamInfo[];
  /** Total number of parameter values. */
  paramCount: number;
  /** Total parameter size as stored in the params file. */
  paramBytes: number;
  /** Multiply-adds ×2 of one forward pass; null without input shapes. */
  flops: number | null;
}

/** Inputs of `Model.run`: by input name, in `inputNames` order, or one tensor (single-input models). */
export type RunInputs = Record<string, TensorInput> | TensorInput[] | TensorInput;

/** Where `init` gets the WebAssembly module from. */
export type WasmSource =
  | string
  | URL
  | Response
  | Promise<Response>
  | BufferSource
  | WebAssembly.Module;

/**
 * Loads and instantiates the WebAssembly module (idempotent; later calls share the first
 * call's promise). Optional: every other entry point calls it. Call it early to overlap the
 * module's download with other work, or to load the `.wasm` from elsewhere (default:
 * `wasm/mxnet_web_bg.wasm` next to `index.js`, read from disk under Node.js).
 *
 * Rejects with an Error saying what happened when the server answers with an HTML page or
 * anything but a WebAssembly module (e.g. a development server's index.html for a path it does
 * not know; with Vite 5/7 the fix is `optimizeDeps: { exclude: ["mxnet-web"] }`, although the
 * package first retries from `/node_modules/mxnet-web/wasm/` where pre-bundling moved it away).
 */
export default function init(wasmSource?: WasmSource): Promise<void>;

/**
 * Sets how many threads the CPU backend uses, the calling thread included (an integer from 1
 * to 64). Call it before the first load or `init()`; afterwards it throws.
 *
 * More than one thread loads the threaded WebAssembly module (`wasm-mt/`, instead of `wasm/`;
 * only one of the two is downloaded) and starts `n - 1` workers sharing its memory. That needs
 * `SharedArrayBuffer`: in browsers, a cross-origin isolated page (served with
 * `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`);
 * elsewhere the package quietly uses one thread. An explicit `init(wasmSource)` loads the
 * single-threaded module.
 *
 * Default: in browsers `min(4, navigator.hardwareConcurrency)` when `crossOriginIsolated`, else
 * 1; in Node.js the environment variable `MXNET_WEB_THREADS`, else 1.
 */
export function setThreads(n: number): void;

/**
 * The number of threads the CPU backend uses: after initialisation, 1 plus the workers that
 * started; before it, the count initialisation will try (1 where memory cannot be shared).
 */
export function threads(): number;

/**
 * The WebAssembly linear memory's current size in bytes (0 before `init`). It only grows; a
 * stable value over many load/run/dispose cycles shows that nothing leaks.
 */
export function wasmMemoryBytes(): number;

/** A model bound to its parameters, ready to run. Call `dispose()` when done with it. */
export class Model {
  private constructor();

  /**
   * Downloads a model and binds it.
   *
   * `source` is either a URL prefix, as written by Gluon's `export("prefix", epoch)`:
   * `"models/resnet18"` loads `models/resnet18-symbol.json` and
   * `models/resnet18-0000.params` (`opts.epoch` picks the number), or both URLs.
   * Relative URLs resolve against the page (browsers) or the working directory (Node.js, where
   * `file:` URLs are read from disk).
   *
   * Rejects with an Error naming the file and URL when a download fails (e.g. `mxnet-web:
   * cannot fetch params file https://…/m-0000.params: HTTP 404 Not Found`) or the server
   * returned an HTML page instead of the file (a wrong path), with the library's message when a
   * file is malformed or does not fit the graph, when the `.params` file is too large for
   * WebAssembly memory (checked before downloading it when the size is known), and as `signal`
   * says when aborted (also during the WebGPU weight upload that follows the downloads).
   */
  static load(source: ModelSource, opts: LoadOptions & { worker: true }): Promise<WorkerModel>;
  static load(source: string | URL | { symbol: string | URL; params: string | URL }, opts?: LoadOptions & { worker?: false }): Promise<Model>;
  static load(source: ModelSource, opts: LoadOptions & WorkerOption): Promise<Model | WorkerModel>;

  /** Binds a model from files already in memory. */
  static fromBytes(
    symbolJson: string | Uint8Array | ArrayBuffer,
    paramsBytes: Uint8Array | ArrayBuffer | ArrayBufferView,
    opts: FromBytesOptions & { worker: true },
  ): Promise<WorkerModel>;
  static fromBytes(
    symbolJson: string | Uint8Array | ArrayBuffer,
    paramsBytes: Uint8Array | ArrayBuffer | ArrayBufferView,
    opts?: FromBytesOptions & { worker?: false },
  ): Promise<Model>;
  static fromBytes(
    symbolJson: string | Uint8Array | ArrayBuffer,
    paramsBytes: Uint8Array | ArrayBuffer | ArrayBufferView,
    opts: FromBytesOptions & WorkerOption,
  ): Promise<Model | WorkerModel>;

  /** The backend that runs this model. */
  readonly backend: Backend;
  /** Why `backend: "auto"` did not pick WebGPU; undefined when it did or a backend was forced. */
  readonly fallbackReason: string | undefined;
  /** The precision of the weights that run: `"f16"` only on WebGPU with `precision: "f16"` and `shader-f16`. */
  readonly precision: Precision;
  /** Why the weights run in f32 although `precision: "f16"` was asked for; undefined otherwise. */
  readonly precisionNote: string | undefined;
  /** Input names in the order `run` takes an array. */
  readonly inputNames: readonly string[];
  /** Number of output heads: `run` resolves to this many tensors. */
  readonly outputCount: number;

  /**
   * Runs a forward pass; resolves to one tensor per output head, in the graph's head order.
   * Inputs are checked and copied first (names, shapes, `data.length` against the shape), with
   * errors such as `input 'data': shape [1,3,224,224] needs 150528 values but data has 100`.
   * Runs of one model execute one after another.
   *
   * Should the WebAssembly module crash (a bug), the run rejects with an Error carrying the
   * crash message; every model loaded before is then lost (its methods reject with "this model
   * was lost when the WebAssembly module crashed: load it again") and new loads work.
   */
  run(inputs: RunInputs): Promise<Tensor[]>;

  /**
   * Runs a forward pass and times each of its steps on the GPU with WebGPU timestamp queries,
   * for finding slow kernels (the steps run as in `run`). Resolves to `null` on the CPU
   * backend; rejects where the WebGPU device has no `timestamp-query` feature.
   */
  profile(inputs: RunInputs): Promise<Profile | null>;

  /**
   * A summary: inputs, outputs, operator counts, parameters; with input shapes (by name or in
   * input order) also the output shapes and FLOPs. Not callable while a `run` is in progress.
   */
  info(shapes?: Record<string, number[]> | number[][]): ModelInfo;

  /**
   * Frees the model's WebAssembly (and GPU) memory. Afterwards every method throws
   * `Error("mxnet-web: this model was disposed")`; a second `dispose()` does nothing. A run in
   * progress completes first. Never throws (a model lost in a crash has nothing left to free).
   */
  dispose(): void;
}

/** Per-step GPU times of one forward pass (`Model.profile`). */
export interface Profile {
  /** How the steps were timed: GPU timestamps (in the browser always). */
  readonly clock: "gpu-timestamps" | "host-per-submit";
  /** In plan order: the step (node, operator, kernels with their workgroup grids) and its time. */
  readonly steps: readonly { readonly step: string; readonly ms: number }[];
}

// ---------------------------------------------------------------------------------------------
// Web-app features (issue 12): worker mode (worker.js), caching (cache.js), image helpers
// (image.js), warmup and Symbol.dispose. Declared as additions that merge with the types above.
// ---------------------------------------------------------------------------------------------

/** What `Model.load` takes: a URL prefix or both file URLs. */
export type ModelSource = string | URL | { symbol: string | URL; params: string | URL };

/**
 * The `worker` option of `Model.load` and `Model.fromBytes` (a separate type so that a plain
 * `LoadOptions` value still loads a `Model`): `worker: true` resolves to a `WorkerModel`.
 */
export interface WorkerOption {
  /**
   * Run the model in a dedicated Web Worker (browsers): downloading, binding and every forward
   * pass happen off the main thread.
   */
  worker: boolean;
}

export interface LoadOptions {
  /**
   * Keep the downloaded files in Cache Storage (cache "mxnet-web", keyed by URL). Later loads
   * use the stored copy: revalidated with a conditional request when the server sent an ETag or
   * Last-Modified header (304: no download), else with no request at all. Ignored where Cache
   * Storage is unavailable (Node.js, pages that are not a secure context).
   */
  cache?: boolean;
}

/** Input shapes: by input name or in input order. */
export type InputShapes = Record<string, number[]> | number[][];

export interface Model extends Disposable {
  /**
   * Runs one forward pass on zeros of these input shapes, so that the first real `run` does not
   * pay for planning, allocation and WebGPU pipeline creation. Resolves to its duration in ms.
   */
  warmup(shapes: InputShapes): Promise<number>;
  /** Same as `dispose()`: `using model = await Model.load(…)` disposes it at the end of the scope. */
  [Symbol.dispose](): void;
}

export declare namespace Model {
  /** Whether the files `Model.load(source, opts)` would download are all cached. */
  function isCached(source: ModelSource, opts?: { epoch?: number }): Promise<boolean>;
  /** Removes a model's cached files, or every cached model file without `source`. */
  function clearCache(source?: ModelSource, opts?: { epoch?: number }): Promise<boolean>;
}

/**
 * A model running in its own dedicated Web Worker (`Model.load(src, { worker: true })`). The
 * same members as `Model`, except that `info` resolves asynchronously. Inputs are copied once
 * and transferred to the worker; outputs are transferred back. `dispose()` ends the worker.
 */
export class WorkerModel implements Disposable {
  private constructor();
  readonly backend: Backend;
  readonly fallbackReason: string | undefined;
  readonly precision: Precision;
  readonly precisionNote: string | undefined;
  readonly inputNames: readonly string[];
  readonly outputCount: number;
  run(inputs: RunInputs): Promise<Tensor[]>;
  profile(inputs: RunInputs): Promise<Profile | null>;
  warmup(shapes: InputShapes): Promise<number>;
  info(shapes?: InputShapes): Promise<ModelInfo>;
  dispose(): void;
  [Symbol.dispose](): void;
}

/** RGBA pixels in memory, 4 bytes per pixel: an `ImageData` or any object of this shape. */
export interface ImageDataLike {
  data: ArrayLike<number>;
  width: number;
  height: number;
}

/**
 * What `tensorFromImage` reads: `ImageData` (or ImageData-like pixels), or anything a canvas can
 * draw (`<img>`, `<canvas>`, `OffscreenCanvas`, `ImageBitmap`, `<video>`, `VideoFrame`), described
 * by the size properties the helper reads so that the type needs no DOM library.
 */
export type ImageSource =
  | ImageDataLike
  | { naturalWidth: number; naturalHeight: number }
  | { videoWidth: number; videoHeight: number }
  | { displayWidth: number; displayHeight: number }
  | { width: number; height: number };

/** Options of `tensorFromImage`. Each value v (0..255) becomes `(v * scale - mean[c]) / std[c]`. */
export interface ImageTensorOptions {
  /** Output `[height, width]`; default: the source's (or the crop's) size. */
  size?: [number, number];
  /** Per output channel (or one for all); in the units after `scale`. Default 0. */
  mean?: number | readonly number[];
  /** Per output channel (or one for all). Default 1. */
  std?: number | readonly number[];
  /** Multiplies the 0..255 values first: default 1/255 (Gluon's ToTensor); 1 for MXNet's 0..255 means. */
  scale?: number;
  /** Default "NCHW" (MXNet's); "NHWC" interleaves the channels. */
  layout?: "NCHW" | "NHWC";
  /** Default "RGB"; "BGR" for Caffe/OpenCV-style models; "gray" for one BT.601 luma channel. */
  channels?: "RGB" | "BGR" | "gray";
  /** "stretch" (default) resizes the whole image; "cover" crops its centre to the output's aspect ratio first. */
  resize?: "stretch" | "cover";
  /** A region of the source, in whole pixels; parts outside the image read as 0. */
  crop?: { x: number; y: number; width: number; height: number };
}

/**
 * A normalised `[1, C, H, W]` (or `[1, H, W, C]`) float32 tensor from an image, resized with
 * bilinear interpolation exactly as MXNet's `mx.image.imresize` (OpenCV INTER_LINEAR).
 */
export function tensorFromImage(source: ImageSource, options?: ImageTensorOptions): Tensor;

/** Softmax of all values. */
export function softmax(values: ArrayLike<number>): Float32Array;
/** Softmax of each row of a tensor along its last axis. */
export function softmax(tensor: Tensor): Tensor;

/** The k (default 5) largest values with their indices, largest first. */
export function topK(values: ArrayLike<number> | Tensor, k?: number): { index: number; value: number }[];
