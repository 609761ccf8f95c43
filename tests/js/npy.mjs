// A minimal .npy reader for the tests (runs in Node.js and in the browser test page).
//
// Format (numpy/lib/format.py): "\x93NUMPY", major and minor version bytes, the header length
// (uint16 LE in v1, uint32 LE in v2/v3), then a Python dict literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 8, 8), }, then the raw data.
// Little-endian float32 is what the fixtures hold; other little-endian numeric dtypes are
// converted to float32 so integer inputs can be fed too.

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** dtype descr → typed array constructor (little-endian or byte-sized types only). */
const DTYPES = {
  "<f4": Float32Array,
  "<f8": Float64Array,
  "<i4": Int32Array,
  "<u4": Uint32Array,
  "<i2": Int16Array,
  "<u2": Uint16Array,
  "|i1": Int8Array,
  "|u1": Uint8Array,
  "|b1": Uint8Array,
};

/**
 * Parses a .npy file.
 * @param {Uint8Array | ArrayBuffer} input
 * @returns {{ data: Float32Array, shape: number[], descr: string }}
 */
export function parseNpy(input) {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new Error("not a .npy file (bad magic)");
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerStart, headerLength;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    headerLength = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new Error(`unsupported .npy version ${major}`);
  }
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(headerStart, headerStart + headerLength),
  );
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new Error(`malformed .npy header: ${header}`);
  }
  if (fortran === "True") throw new Error("fortran-order .npy files are not supported");
  const Type = DTYPES[descr];
  if (Type === undefined) throw new Error(`unsupported .npy dtype ${descr}`);
  const shape = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = headerStart + headerLength;
  const byteLength = count * Type.BYTES_PER_ELEMENT;
  if (dataStart + byteLength > bytes.length) {
    throw new Error(`truncated .npy file: ${count} ${descr} values need ${byteLength} bytes`);
  }
  // Copy into a fresh buffer so the typed array is aligned whatever the header length (and
  // independent of Node's pooled Buffers, whose slice() is a view).
  const raw = new Type(new Uint8Array(bytes.subarray(dataStart, dataStart + byteLength)).buffer);
  const data = raw instanceof Float32Array ? raw : Float32Array.from(raw);
  return { data, shape, descr };
}
