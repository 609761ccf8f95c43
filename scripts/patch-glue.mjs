// Patches the JS glue that wasm-bindgen generates (pkg/wasm/mxnet_web.js) so that a trap of the
// WebAssembly module inside asynchronous work can be contained by pkg/index.js (issue 14.1).
//
// wasm-bindgen-futures polls Rust futures from a queueMicrotask() callback. When the module
// traps there (a panic aborts in wasm: `RuntimeError: unreachable`), the exception escapes that
// callback as an uncaught exception (Node.js exits) and every pending promise of the instance
// hangs. wasm-bindgen (>= 0.2.10x) already knows how to replace a dead instance
// (`schedule_reinit`, called by the panic hook in src/web.rs); this patch adds what it lacks:
//   1. the futures queue's microtask is wrapped: an exception escaping it marks the instance for
//      replacement and goes to the listener index.js registers (which rejects what was pending
//      on the instance with the panic message) instead of escaping;
//   2. a closure of a replaced instance called later (a late promise callback of the dead
//      instance) does nothing instead of throwing an unhandled error;
//   3. two exports for index.js: __mxnet_set_trap_listener(f) and __mxnet_reset_now() (replaces
//      the dead instance at once, so that its pending callbacks become stale no-ops);
//   4. whole-line comments are removed (size).
// It runs on both variants' glue (pkg/wasm/ and the threaded pkg/wasm-mt/).
// Every pattern must match exactly as expected, else the build fails (a wasm-bindgen upgrade
// must be checked against this file).
//
// Usage: node scripts/patch-glue.mjs pkg/wasm/mxnet_web.js

import { readFile, writeFile } from "node:fs/promises";

const file = process.argv[2];
if (!file) throw new Error("usage: node scripts/patch-glue.mjs GLUE.js");
let text = await readFile(file, "utf8");
if (text.includes("__mxnet_set_trap_listener")) {
  console.log(`${file}: already patched`);
  process.exit(0);
}

function replaceAll(pattern, replacement, what, { min = 1, max = Infinity } = {}) {
  const count = (text.match(pattern) ?? []).length;
  if (count < min || count > max) {
    throw new Error(`${file}: expected ${min}..${max} match(es) of ${what} (${pattern}), found ${count}: has wasm-bindgen changed?`);
  }
  text = text.replace(pattern, replacement);
}

for (const name of ["__wbg_reinit_scheduled", "function __wbg_reset_state", "function __wbg_call_guard"]) {
  if (!text.includes(name)) throw new Error(`${file}: no ${name}: is schedule_reinit() still used by src/web.rs?`);
}
replaceAll(/^(\s*)queueMicrotask\(arg0\);$/gm, "$1queueMicrotask(__mxnet_contain(arg0));", "the queueMicrotask import", { max: 1 });
replaceAll(
  /throw new Error\('Cannot invoke closure from previous WASM instance'\);/g,
  "return; // patched: a closure of a replaced instance does nothing",
  "the stale-closure check",
);

text += `
// ---- added by scripts/patch-glue.mjs: containment of traps in async work (see pkg/index.js) ----

let __mxnet_trap_listener = null;

/** index.js's listener, called with the exception when the futures queue's microtask traps. */
export function __mxnet_set_trap_listener(f) {
    __mxnet_trap_listener = f;
}

/**
 * Replaces a trapped instance now: from here on, callbacks of the dead instance (a GPU promise
 * resolving later, its futures queue) are stale and do nothing instead of running its code.
 */
export function __mxnet_reset_now() {
    __wbg_reset_state();
}

function __mxnet_contain(task) {
    return () => {
        try {
            task();
        } catch (e) {
            if (__mxnet_trap_listener === null) throw e;
            __mxnet_trap_listener(e);
        }
    };
}
`;
// Comments go: the glue is shipped as is (no minifier) and counts against the 500 KB download
// budget (issue 9: ~2 KB gzipped per glue); the documentation is in the .d.ts next to it.
const before = text.length;
text = text.replace(/^[ \t]*\/\*\*[\s\S]*?\*\/[ \t]*\n/gm, "").replace(/^[ \t]*\/\/.*\n/gm, "");
await writeFile(file, text);
console.log(`${file}: patched (trap containment; ${before - text.length} bytes of comments removed)`);
