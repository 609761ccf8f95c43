// Browser side of face-recognition.test.mjs: runs the ORIGINAL face recognition network (face-api's
// FaceRecognitionNet on tfjs's pure-JS CPU backend, weights loaded by face-api's own loader from the
// npm package) and our MXNet conversion (www/models/face_recognition, run by mxnet-web) on the same
// inputs, and returns every descriptor as plain arrays for the Node side to compare.

import init, { Model } from "/pkg/index.js";
import { CROP_SIZE, alignFace } from "/www/js/facealign.js";
import { parseNpy } from "/tests/js/npy.mjs";

const SIZE = CROP_SIZE;
const PLANE = SIZE * SIZE;

async function fetchNpy(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return parseNpy(new Uint8Array(await response.arrayBuffer()));
}

/** NHWC (n, 150, 150, 3) → NCHW float32. */
function toNchw(nhwc, n) {
  const out = new Float32Array(n * 3 * PLANE);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < PLANE; p++) {
      for (let c = 0; c < 3; c++) out[i * 3 * PLANE + c * PLANE + p] = nhwc[(i * PLANE + p) * 3 + c];
    }
  }
  return out;
}

/** NCHW → NHWC float32. */
function toNhwc(nchw, n) {
  const out = new Float32Array(n * 3 * PLANE);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < PLANE; p++) {
      for (let c = 0; c < 3; c++) out[(i * PLANE + p) * 3 + c] = nchw[i * 3 * PLANE + c * PLANE + p];
    }
  }
  return out;
}

/** The bundled photo, optionally mirrored / brightened, as an RgbaImage-like { canvas, width, height }. */
async function photo({ mirror = false, brightness = 1 } = {}) {
  const img = new Image();
  img.src = "/www/assets/astronaut.jpg";
  await img.decode();
  const canvas = Object.assign(document.createElement("canvas"), { width: img.width, height: img.height });
  const ctx = canvas.getContext("2d");
  if (brightness !== 1) ctx.filter = `brightness(${brightness})`;
  if (mirror) {
    ctx.translate(img.width, 0);
    ctx.scale(-1, 1);
  }
  ctx.drawImage(img, 0, 0);
  return { canvas, width: img.width, height: img.height };
}

/**
 * Aligned 150x150 crops of the face in the bundled photo (planar RGB 0..255), from `landmarks`
 * (MTCNN's five points on the photo) and perturbed versions of them: shifted, rotated, on a
 * mirrored and on a brighter copy of the photo.
 */
async function faceCrops(landmarks) {
  const plain = await photo();
  const mirrored = await photo({ mirror: true });
  const brighter = await photo({ brightness: 1.3 });
  const mirror = (pts) => [pts[1], pts[0], pts[2], pts[4], pts[3]].map(([x, y]) => [plain.width - x, y]);
  const rotate = (pts, deg) => {
    const r = (deg * Math.PI) / 180;
    const [cx, cy] = pts[2];
    return pts.map(([x, y]) => [cx + (x - cx) * Math.cos(r) - (y - cy) * Math.sin(r), cy + (x - cx) * Math.sin(r) + (y - cy) * Math.cos(r)]);
  };
  const variants = [
    ["aligned", plain, landmarks],
    ["shifted 4 px", plain, landmarks.map(([x, y]) => [x + 4, y - 3])],
    ["rotated 8°", plain, rotate(landmarks, 8)],
    ["mirrored photo", mirrored, mirror(landmarks)],
    ["brighter photo", brighter, landmarks],
  ];
  return variants.map(([name, image, pts]) => ({ name, pixels: alignFace(image, pts).pixels }));
}

/** face-api's own network on NHWC float32 images (n of them): descriptors as arrays. */
async function faceApiDescriptors(faceapi, nhwc, n) {
  const tf = faceapi.tf;
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = tf.tensor3d(nhwc.subarray(i * 3 * PLANE, (i + 1) * 3 * PLANE), [SIZE, SIZE, 3], "float32");
    out.push(Array.from(await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(t)));
    t.dispose();
  }
  return out;
}

async function mxnetDescriptors(model, nchw, n) {
  const [y] = await model.run({ data: { data: nchw, shape: [n, 3, SIZE, SIZE] } });
  return Array.from({ length: n }, (_, i) => Array.from(y.data.subarray(i * 128, (i + 1) * 128)));
}

/**
 * Everything the test compares. `faceapiUrl`: the package's folder on the server;
 * `backends`: mxnet-web backends to run the conversion on.
 */
export async function runChecks({ faceapiUrl, landmarks, backends }) {
  await init();
  const faceapi = await import(`${faceapiUrl}/dist/face-api.esm.js`);
  await faceapi.tf.setBackend("cpu");
  await faceapi.tf.ready();
  await faceapi.nets.faceRecognitionNet.loadFromUri(`${faceapiUrl}/model`);

  const inputs = await fetchNpy("/tests/fixtures/face_recognition/inputs.npy");
  const mxnet = await fetchNpy("/tests/fixtures/face_recognition/descriptors.npy");
  const names = (await (await fetch("/tests/fixtures/face_recognition/inputs.json")).json()).names;
  const nRef = inputs.shape[0];
  const crops = await faceCrops(landmarks);
  const cropsNchw = new Float32Array(crops.length * 3 * PLANE);
  crops.forEach((c, i) => cropsNchw.set(c.pixels, i * 3 * PLANE));

  const result = {
    tfjsBackend: faceapi.tf.getBackend(),
    faceapiVersion: faceapi.version?.faceapi ?? faceapi.version,
    reference: {
      names,
      mxnet: Array.from({ length: nRef }, (_, i) => Array.from(mxnet.data.subarray(i * 128, (i + 1) * 128))),
      faceapi: await faceApiDescriptors(faceapi, inputs.data, nRef),
    },
    crops: { names: crops.map((c) => c.name), faceapi: await faceApiDescriptors(faceapi, toNhwc(cropsNchw, crops.length), crops.length) },
    ours: {},
  };
  for (const backend of backends) {
    const model = await Model.load("/www/models/face_recognition/face_recognition", { epoch: 0, backend });
    // WebGPU in headless Chromium without a GPU is a CPU emulator (SwiftShader): two crops there.
    const n = backend === "cpu" ? crops.length : Math.min(2, crops.length);
    const start = performance.now();
    const entry = {
      backend: model.backend,
      crops: await mxnetDescriptors(model, cropsNchw.subarray(0, n * 3 * PLANE), n),
      cropsMs: performance.now() - start,
    };
    if (backend === "cpu") {
      entry.reference = await mxnetDescriptors(model, toNchw(inputs.data, nRef), nRef);
      const old = await Model.load(
        { symbol: "/www/models/face_recognition/face_recognition_old.json", params: "/www/models/face_recognition/face_recognition_old.params" },
        { backend },
      );
      entry.oldFlowCrops = await mxnetDescriptors(old, cropsNchw, crops.length);
      old.dispose();
    }
    model.dispose();
    result.ours[backend] = entry;
  }
  return result;
}
