// Winograd on vs off on the wasm CPU backend (Node, after `npm run build`): loads each model
// twice (load option winograd: true / false) and alternates forwards; prints the medians.
// Usage: node scripts/bench-winograd.mjs [--runs N] PREFIX:SHAPE ...
//   PREFIX: a Gluon export prefix (PREFIX-symbol.json, PREFIX-0000.params), or a fixture case
//   directory (tests/fixtures/big/resnet18_v1: uses its model files); SHAPE like 1,3,224,224.
import { readFile } from "node:fs/promises";
import path from "node:path";

const { default: init, Model } = await import("../pkg/index.js");
await init();

const args = process.argv.slice(2);
let runs = 11;
if (args[0] === "--runs") {
  runs = Number(args[1]);
  args.splice(0, 2);
}
const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
for (const arg of args) {
  const [prefix, shapeText] = arg.split(":");
  const shape = shapeText.split(",").map(Number);
  const isDir = (await readFile(path.join(prefix, "case.json")).then(() => true, () => false));
  const base = isDir ? path.join(prefix, "model") : prefix;
  const symbol = await readFile(`${base}-symbol.json`, "utf8");
  const params = await readFile(`${base}-0000.params`);
  const models = [true, false].map((winograd) => Model.fromBytes(symbol, params, { backend: "cpu", winograd }));
  const [on, off] = await Promise.all(models);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n).map((_, i) => Math.sin(i * 12.9898) * 0.5);
  const input = { shape, data };
  const times = [[], []];
  let diff = 0;
  for (let r = 0; r < runs + 1; r++) {
    const outs = [];
    for (const [i, m] of [on, off].entries()) {
      const t = performance.now();
      outs.push(await m.run([input]));
      if (r > 0) times[i].push(performance.now() - t);
    }
    const [a, b] = outs.map((o) => o[0].data);
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
  }
  console.log(
    `${path.basename(prefix)} ${shape.join("x")}: winograd ${median(times[0]).toFixed(2)} ms, ` +
      `im2col ${median(times[1]).toFixed(2)} ms (medians of ${runs}); max |on - off| ${diff.toExponential(2)}`,
  );
  on.dispose?.();
  off.dispose?.();
}
