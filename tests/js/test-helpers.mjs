// Helpers shared by the test pages' check modules (served to Chromium as /tests/js/…) and the
// Node.js tests. Browser-compatible: no Node.js imports.

import { parseNpy } from "./npy.mjs";

/** The bytes at `url`; a failed download is a test-setup error, not a library failure. */
export async function fetchBytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`test setup: cannot fetch ${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

/** A fixture case served under `/${dir}`: case.json, inputs by name and MXNet's outputs. */
export async function fixture(dir) {
  const spec = JSON.parse(new TextDecoder().decode(await fetchBytes(`/${dir}/case.json`)));
  const inputs = {};
  for (const { name, file } of spec.inputs) inputs[name] = parseNpy(await fetchBytes(`/${dir}/${file}`));
  const outputs = await Promise.all(spec.outputs.map(async (f) => parseNpy(await fetchBytes(`/${dir}/${f}`))));
  return { spec, inputs, outputs };
}

/** What a rejection looked like, for the Node.js side to assert on. */
export function describeError(err) {
  return { isError: err instanceof Error, name: err?.name, message: String(err?.message ?? err) };
}

/** How `promise` settled: `{ resolved: true }` (disposing what it gave) or the error's description. */
export async function rejection(promise) {
  try {
    const value = await promise;
    value?.dispose?.();
    return { resolved: true };
  } catch (err) {
    return describeError(err);
  }
}

/** An empty .params file (magic 0x112, reserved, no arrays, no names): for parameterless graphs. */
export function emptyParams() {
  const b = new Uint8Array(32);
  new DataView(b.buffer).setBigUint64(0, 0x112n, true);
  return b;
}

/** The symbol JSON of a one-operator graph on input `data`. */
export function oneOp(op, attrs) {
  return JSON.stringify({
    nodes: [
      { op: "null", name: "data", inputs: [] },
      { op, name: `${op.toLowerCase()}0`, attrs, inputs: [[0, 0, 0]] },
    ],
    arg_nodes: [0],
    node_row_ptr: [0, 1, 2],
    heads: [[1, 0, 0]],
    attrs: { mxnet_version: ["int", 10901] },
  });
}
