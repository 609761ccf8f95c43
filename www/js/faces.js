// Section 2: MTCNN face detection on the bundled photo or a user's image file.

import { decodeImage } from "./imageops.js";
import { DEFAULT_OPTIONS, MtcnnDetector } from "./mtcnn.js";
import { $, formatMs, h, modelStatus, nextFrame, showError, timed } from "./util.js";

const BUNDLED = { url: "assets/astronaut.jpg", name: "astronaut.jpg (Eileen Collins, NASA, public domain)" };
/** Longest side an image is scaled to before detection (bigger photos are slow and no better). */
const MAX_SIDE = 1024;

export class FacesDemo {
  constructor(root) {
    this.root = root;
    this.el = {
      canvas: $("#face-canvas", root),
      bundled: $("#face-bundled", root),
      file: $("#face-file", root),
      minSize: $("#face-minsize", root),
      detect: $("#face-detect", root),
      summary: $("#face-summary", root),
      stages: $("#face-stages", root),
      list: $("#face-list", root),
      models: $("#face-models", root),
      error: $("#face-error", root),
    };
    this.el.minSize.value = String(DEFAULT_OPTIONS.minSize);
    this.detector = null;
    this.image = null;
    this.imageName = "";
    /** The last detection, for tests and the console: { image, faces, stages, totalMs }. */
    this.last = null;
    this.el.bundled.addEventListener("click", () => this.useBundled().catch(() => {}));
    this.el.file.addEventListener("change", () => {
      const file = this.el.file.files?.[0];
      if (file) this.useFile(file).catch(() => {});
    });
    this.el.detect.addEventListener("click", () => this.detect().catch(() => {}));
  }

  /** (Re)loads P-Net, R-Net and O-Net on a backend. */
  async load(backend) {
    showError(this.el.error, null);
    this.el.models.replaceChildren(h("li", {}, `loading MTCNN (backend: ${backend})…`));
    try {
      const detector = await MtcnnDetector.load("models/mtcnn", { backend });
      this.detector?.dispose();
      this.detector = detector;
      const names = { pnet: "det1 · P-Net", rnet: "det2 · R-Net", onet: "det3 · O-Net" };
      this.el.models.replaceChildren(
        ...Object.entries(names).map(([key, label]) => modelStatus(label, detector[key], detector.loadMs[key], `MXNet ${detector[key].info().mxnetVersion} file`)),
      );
    } catch (err) {
      this.el.models.replaceChildren();
      showError(this.el.error, err, "loading MTCNN");
      throw err;
    }
  }

  async useBundled() {
    this.el.file.value = "";
    return this.#useImage(() => decodeImage(BUNDLED.url, { maxSide: MAX_SIDE, name: BUNDLED.url }), BUNDLED.name);
  }

  async useFile(file) {
    return this.#useImage(() => decodeImage(file, { maxSide: MAX_SIDE }), file.name);
  }

  async #useImage(decode, name) {
    showError(this.el.error, null);
    try {
      this.image = await decode();
      this.imageName = name;
    } catch (err) {
      showError(this.el.error, err, "reading the image");
      throw err;
    }
    return this.detect();
  }

  /** Detects faces in the current image and draws them. */
  async detect() {
    showError(this.el.error, null);
    if (!this.detector || !this.image) return null;
    const minSize = Number(this.el.minSize.value);
    if (!(minSize >= 12)) {
      const err = new Error(`the smallest face size must be a number of pixels ≥ 12, not "${this.el.minSize.value}"`);
      showError(this.el.error, err);
      throw err;
    }
    this.el.summary.textContent = `Detecting faces in ${this.imageName}…`;
    this.el.summary.dataset.faces = "";
    await nextFrame();
    try {
      const [result, totalMs] = await timed(() => this.detector.detect(this.image, { minSize }));
      this.last = { image: this.imageName, width: this.image.width, height: this.image.height, ...result, totalMs };
      this.#draw(result.faces);
      const n = result.faces.length;
      this.el.summary.textContent =
        `${n} face${n === 1 ? "" : "s"} in ${this.imageName} (${this.image.width}×${this.image.height}) ` +
        `in ${formatMs(totalMs)}, backend ${this.detector.pnet.backend}.`;
      this.el.summary.dataset.faces = String(n);
      this.el.stages.replaceChildren(
        ...result.stages.map((s) =>
          h(
            "li",
            {},
            h("b", {}, s.net),
            s.net === "P-Net"
              ? ` ${s.scales.length} pyramid scales (${s.scales[0].toFixed(3)} … ${s.scales.at(-1).toFixed(3)}) packed into one ` +
                  `${s.mosaic[0]}×${s.mosaic[1]} image: ${s.candidates} windows above threshold → ${s.kept} boxes after NMS`
              : ` one batch of ${s.candidates} crops → ${s.kept} kept`,
            `; forward ${formatMs(s.ms)}`,
          ),
        ),
      );
      this.el.list.replaceChildren(
        ...result.faces.map((f, i) =>
          h(
            "li",
            {},
            `#${i + 1}: p = ${f.score.toFixed(4)}, box (${f.box.map((v) => Math.round(v)).join(", ")}), landmarks `,
            f.landmarks.map(([x, y]) => `(${Math.round(x)}, ${Math.round(y)})`).join(" "),
          ),
        ),
      );
      return this.last;
    } catch (err) {
      this.el.summary.textContent = "";
      showError(this.el.error, err, "detecting faces");
      throw err;
    }
  }

  #draw(faces) {
    const { canvas } = this.el;
    const img = this.image;
    canvas.width = img.width;
    canvas.height = img.height;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(img.canvas, 0, 0);
    const line = Math.max(2, Math.round(Math.max(img.width, img.height) / 256));
    ctx.lineWidth = line;
    ctx.font = `bold ${6 * line + 4}px system-ui, sans-serif`;
    ctx.textBaseline = "bottom";
    const landmarkColours = ["#00e5ff", "#00e5ff", "#ffea00", "#ff4081", "#ff4081"];
    for (const f of faces) {
      const [x1, y1, x2, y2] = f.box;
      ctx.strokeStyle = "#39ff14";
      ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
      const label = f.score.toFixed(3);
      const tw = ctx.measureText(label).width;
      ctx.fillStyle = "#39ff14";
      ctx.fillRect(x1 - line / 2, y1 - 6 * line - 8, tw + 8, 6 * line + 8);
      ctx.fillStyle = "#000";
      ctx.fillText(label, x1 + 4, y1 - 2);
      f.landmarks.forEach(([x, y], k) => {
        ctx.fillStyle = landmarkColours[k];
        ctx.beginPath();
        ctx.arc(x, y, 1.5 * line, 0, 2 * Math.PI);
        ctx.fill();
      });
    }
  }
}
