// Shared by the Node.js and browser tests: comparing outputs with MXNet's and the fixture cases
// both use. Browser-compatible (no Node.js imports).

/**
 * Compares one output with MXNet's as the Rust fixture tests do: element i passes when
 * |actual - expected| <= atol + rtol * |expected|, or both are NaN, or both are the same infinity.
 * @returns {string | null} null when equal within tolerance, else a description of the mismatch
 */
export function compareTensor(actual, expected, rtol, atol, label = "output") {
  if (!(actual?.data instanceof Float32Array)) return `${label}: data is not a Float32Array`;
  if (JSON.stringify(actual.shape) !== JSON.stringify(expected.shape)) {
    return `${label}: shape [${actual.shape}] but MXNet gives [${expected.shape}]`;
  }
  if (actual.data.length !== expected.data.length) {
    return `${label}: ${actual.data.length} values but MXNet gives ${expected.data.length}`;
  }
  let worst = -1;
  let worstDiff = 0;
  let failures = 0;
  for (let i = 0; i < expected.data.length; i++) {
    const a = actual.data[i];
    const b = expected.data[i];
    if (a === b || (Number.isNaN(a) && Number.isNaN(b))) continue;
    const d = Math.abs(a - b);
    if (!(d <= atol + rtol * Math.abs(b))) {
      failures++;
      if (!(d <= worstDiff)) {
        worst = i;
        worstDiff = d;
      }
    }
  }
  if (failures === 0) return null;
  return (
    `${label}: ${failures} of ${expected.data.length} values differ from MXNet's; worst: element ${worst} is ` +
    `${actual.data[worst]}, MXNet ${expected.data[worst]} (|diff| ${worstDiff} > atol ${atol} + rtol ${rtol}·|mxnet|)`
  );
}

/** Compares all heads; returns the list of mismatch descriptions (empty when all match). */
export function compareOutputs(actual, expected, rtol, atol) {
  if (actual.length !== expected.length) return [`${actual.length} outputs but MXNet gives ${expected.length}`];
  return actual.map((t, i) => compareTensor(t, expected[i], rtol, atol, `output ${i}`)).filter((m) => m !== null);
}

/**
 * Fixture cases (tests/fixtures/<dir>/case.json) run by both test files: whole models with
 * MXNet's outputs. `prefix` is the Gluon-style URL prefix when the files follow
 * `prefix-symbol.json` + `prefix-NNNN.params` naming.
 */
export const MODEL_CASES = [
  { dir: "tests/fixtures/models/tiny_resnet", prefix: "model", epoch: 0 },
  { dir: "tests/fixtures/legacy/mtcnn_det1", prefix: "det1", epoch: 1 },
  { dir: "tests/fixtures/legacy/mtcnn_det3", prefix: "det3", epoch: 1 },
];
