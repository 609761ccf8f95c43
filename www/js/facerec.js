// The face recognition network (dlib's ResNet, via face-api's weights, converted to MXNet by
// scripts/convert_face_recognition.py): aligned 150x150 RGB crops in, 128-d descriptors out.
// Two descriptors of the same person are closer than 0.6 (Euclidean), dlib's convention.

import { Model } from "../pkg/index.js";
import { CROP_SIZE } from "./facealign.js";

/** dlib's decision threshold on the Euclidean distance between two descriptors. */
export const SAME_PERSON = 0.6;
export const DESCRIPTOR_SIZE = 128;

export class FaceEmbedder {
  /** @param {Model} model */
  constructor(model, loadMs) {
    this.model = model;
    this.loadMs = loadMs;
  }

  /**
   * Loads the network: the Gluon export() files (`flow: "export"`) or the same weights saved the
   * old way (`flow: "old"`: tojson + save_params).
   */
  static async load(folder, { backend = "auto", flow = "export", onProgress, signal } = {}) {
    const start = performance.now();
    const source =
      flow === "old"
        ? { symbol: `${folder}/face_recognition_old.json`, params: `${folder}/face_recognition_old.params` }
        : `${folder}/face_recognition`;
    const model = await Model.load(source, { epoch: 0, backend, onProgress, signal });
    return new FaceEmbedder(model, performance.now() - start);
  }

  get backend() {
    return this.model.backend;
  }

  dispose() {
    this.model.dispose();
  }

  /**
   * Descriptors of aligned crops (each planar RGB 0..255, 3 x 150 x 150), in one forward pass.
   * @param {Float32Array[]} crops
   * @returns {Promise<{ descriptors: Float32Array[], ms: number }>}
   */
  async embed(crops) {
    if (crops.length === 0) return { descriptors: [], ms: 0 };
    const plane = 3 * CROP_SIZE * CROP_SIZE;
    const input = new Float32Array(crops.length * plane);
    crops.forEach((c, i) => {
      if (c.length !== plane) throw new Error(`face crop ${i} has ${c.length} values, expected 3 x ${CROP_SIZE} x ${CROP_SIZE} = ${plane}`);
      input.set(c, i * plane);
    });
    const start = performance.now();
    const [out] = await this.model.run({ data: { data: input, shape: [crops.length, 3, CROP_SIZE, CROP_SIZE] } });
    const ms = performance.now() - start;
    if (out.shape.length !== 2 || out.shape[1] !== DESCRIPTOR_SIZE) throw new Error(`face recognition output has shape [${out.shape}], expected [${crops.length}, ${DESCRIPTOR_SIZE}]`);
    const descriptors = crops.map((_, i) => out.data.slice(i * DESCRIPTOR_SIZE, (i + 1) * DESCRIPTOR_SIZE));
    return { descriptors, ms };
  }
}

/** Euclidean distance between two descriptors. */
export function distance(a, b) {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return Math.sqrt(s);
}

/**
 * The nearest enrolled face: `{ entry, distance, same }` (`same`: closer than the threshold), or
 * null when nothing is enrolled.
 */
export function nearest(descriptor, gallery, threshold = SAME_PERSON) {
  let best = null;
  for (const entry of gallery) {
    const d = distance(descriptor, entry.descriptor);
    if (best === null || d < best.distance) best = { entry, distance: d };
  }
  return best && { ...best, same: best.distance < threshold };
}
