// Fixture cases read from disk, for the Node.js tests (the browser pages use test-helpers.mjs's
// `fixture`, which fetches them).

import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { parseNpy } from "./npy.mjs";

export const ROOT = path.resolve(fileURLToPath(import.meta.url), "../../..");

/** A fixture case: case.json, its files' paths, inputs and MXNet's outputs. */
export async function loadCase(dir) {
  const abs = path.join(ROOT, dir);
  const spec = JSON.parse(await readFile(path.join(abs, "case.json"), "utf8"));
  const inputs = {};
  for (const { name, file } of spec.inputs) inputs[name] = parseNpy(await readFile(path.join(abs, file)));
  const outputs = await Promise.all(spec.outputs.map(async (f) => parseNpy(await readFile(path.join(abs, f)))));
  return {
    dir: abs,
    spec,
    symbolPath: path.join(abs, spec.symbol),
    paramsPath: path.join(abs, spec.params),
    inputNames: spec.inputs.map((i) => i.name),
    inputs,
    outputs,
  };
}
