// Runs fixture cases (tests/fixtures/<group>/<case>/case.json) in the page through the npm
// package and compares with MXNet's outputs. Used by browser-fixtures.test.mjs.

import { Model } from "/pkg/index.js";
import { parseNpy } from "/tests/js/npy.mjs";
import { compareOutputs } from "/tests/js/compare.mjs";

async function fetchOk(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r;
}

/**
 * Runs each case directory on `backend`; resolves to one summary per case:
 * `{ dir, ok, backend, detail, ms }`. Cases expecting an error must fail with every fragment.
 */
export async function runCases({ dirs, backend }) {
  const results = [];
  for (const dir of dirs) {
    const t0 = performance.now();
    let model;
    try {
      const c = await (await fetchOk(`/${dir}/case.json`)).json();
      if (!c.symbol) {
        results.push({ dir, ok: true, detail: "no graph" });
        continue;
      }
      const opts = {
        backend,
        inputs: c.inputs.map((i) => i.name),
        allowMissing: c.allow_missing,
        ignoreExtra: c.ignore_extra,
        prefixMap: c.prefix_map,
      };
      const expectError = c.expect_error === null ? null : [].concat(c.expect_error);
      let outputs;
      try {
        if (c.params) {
          model = await Model.load({ symbol: `/${dir}/${c.symbol}`, params: `/${dir}/${c.params}` }, opts);
        } else {
          const json = await (await fetchOk(`/${dir}/${c.symbol}`)).text();
          // A graph without parameters: an empty params list (magic 0x112, 0 arrays, 0 names).
          const empty = new Uint8Array(32);
          empty[0] = 0x12;
          empty[1] = 0x01;
          model = await Model.fromBytes(json, empty, opts);
        }
        const inputs = [];
        for (const i of c.inputs) inputs.push(parseNpy(await (await fetchOk(`/${dir}/${i.file}`)).arrayBuffer()));
        outputs = await model.run(inputs.map((t) => ({ data: t.data, shape: t.shape })));
      } catch (err) {
        const msg = String(err?.message ?? err);
        if (expectError && expectError.every((f) => msg.includes(f))) {
          results.push({ dir, ok: true, detail: "expected error" });
        } else {
          results.push({ dir, ok: false, detail: `error: ${msg}` });
        }
        continue;
      }
      if (expectError) {
        results.push({ dir, ok: false, detail: "expected an error, but the model ran" });
        continue;
      }
      const expected = [];
      for (const f of c.outputs) expected.push(parseNpy(await (await fetchOk(`/${dir}/${f}`)).arrayBuffer()));
      const problems = compareOutputs(outputs, expected, c.rtol, c.atol);
      results.push({
        dir,
        ok: problems.length === 0,
        backend: model.backend,
        detail: problems.join("; ") || "matches MXNet",
        ms: Math.round(performance.now() - t0),
      });
    } catch (err) {
      results.push({ dir, ok: false, detail: `harness: ${err?.message ?? err}` });
    } finally {
      model?.dispose();
    }
  }
  return results;
}

/**
 * Loads several models at once and runs them at once (they share one GPU device), then checks
 * each against MXNet. Resolves to a list of problems (empty when all match).
 */
export async function concurrent({ dirs, backend }) {
  const cases = await Promise.all(dirs.map(async (dir) => ({ dir, c: await (await fetchOk(`/${dir}/case.json`)).json() })));
  const models = await Promise.all(
    cases.map(({ dir, c }) => Model.load({ symbol: `/${dir}/${c.symbol}`, params: `/${dir}/${c.params}` }, { backend })),
  );
  try {
    const inputs = await Promise.all(
      cases.map(async ({ dir, c }) => parseNpy(await (await fetchOk(`/${dir}/${c.inputs[0].file}`)).arrayBuffer())),
    );
    // Twice each, all in flight together.
    const runs = await Promise.all(
      [...models, ...models].map((m, k) => m.run({ data: inputs[k % models.length].data, shape: inputs[k % models.length].shape })),
    );
    const problems = [];
    for (let k = 0; k < runs.length; k++) {
      const { dir, c } = cases[k % cases.length];
      const expected = [];
      for (const f of c.outputs) expected.push(parseNpy(await (await fetchOk(`/${dir}/${f}`)).arrayBuffer()));
      for (const p of compareOutputs(runs[k], expected, c.rtol, c.atol)) problems.push(`${dir}: ${p}`);
    }
    return { problems, backends: models.map((m) => m.backend) };
  } finally {
    for (const m of models) m.dispose();
  }
}
