// A thread of the CPU backend's pool (issue 9): a module Web Worker in browsers, a
// worker_threads Worker in Node.js, started by index.js when threads() > 1. It instantiates the
// threaded WebAssembly module (wasm-mt/) on the page's shared memory, says "ready", and runs the
// pool's worker loop, which waits for parallel jobs and never returns. If the loop throws (the
// thread trapped: a panic in a task), it marks the pool dead so that the thread waiting for the
// lost task fails (the package then replaces the instance) instead of waiting forever.

import { initSync, __mxnet_worker_loop, __mxnet_worker_died } from "./wasm-mt/mxnet_web.js";

function run({ module, memory }, post) {
  try {
    initSync({ module, memory });
  } catch (err) {
    post({ error: `mxnet-web thread: cannot start: ${err?.message ?? err}` });
    return;
  }
  post({ ready: true });
  try {
    __mxnet_worker_loop();
  } catch (err) {
    try {
      __mxnet_worker_died();
    } catch {
      // the instance is unusable: the caller still sees no progress, best effort
    }
    post({ error: `mxnet-web thread died: ${err?.message ?? err}` });
  }
}

const nodeThreads =
  typeof process === "object" && typeof process.getBuiltinModule === "function"
    ? process.getBuiltinModule("node:worker_threads")
    : null;
if (nodeThreads !== null && nodeThreads.parentPort !== null) {
  run(nodeThreads.workerData, (m) => nodeThreads.parentPort.postMessage(m));
} else {
  self.onmessage = (event) => run(event.data, (m) => self.postMessage(m));
}
