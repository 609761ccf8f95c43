// Section 3: face embeddings. MTCNN finds faces and their five landmarks (the detector of
// section 2 is shared), each face is aligned onto a 150x150 template by a similarity transform,
// and dlib's face recognition ResNet (face-api's weights converted to MXNet files) turns it into a
// 128-d descriptor. Faces enrolled from the webcam or from photos, with a label, form a gallery;
// every face of a new photo (or of the live webcam stream) is matched to its nearest enrolled
// face, and is that person when closer than 0.6. The similarity matrix covers every face on the
// page: the enrolled ones and those of the last matched image.

import { alignFace } from "./facealign.js";
import { FaceEmbedder, SAME_PERSON, distance, nearest } from "./facerec.js";
import { decodeImage } from "./imageops.js";
import { $, formatMs, h, messageOf, modelStatus, nextFrame, showError, timed } from "./util.js";

const MODEL_FOLDER = "models/face_recognition";
const BUNDLED = { url: "assets/astronaut.jpg", label: "Eileen Collins" };
const MAX_SIDE = 1024;

/** Why getUserMedia failed, in words a user can act on. */
export function cameraErrorMessage(err) {
  switch (err?.name) {
    case "NotAllowedError":
    case "PermissionDeniedError":
    case "SecurityError":
      return "camera permission denied: allow the camera for this page (the icon in the address bar or the site settings), then press Start camera again";
    case "NotFoundError":
    case "DevicesNotFoundError":
    case "OverconstrainedError":
      return "no camera found: connect one, or enrol and match faces from photos instead";
    case "NotReadableError":
    case "TrackStartError":
    case "AbortError":
      return `the camera could not be started (in use by another application?): ${messageOf(err)}`;
    default:
      return `the camera could not be started: ${messageOf(err)}`;
  }
}

/** The current frame of a playing <video> as an RgbaImage (imageops.js). */
function grabFrame(video) {
  const width = video.videoWidth;
  const height = video.videoHeight;
  if (!width || !height) throw new Error("the camera has not delivered a frame yet");
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(video, 0, 0, width, height);
  return { data: ctx.getImageData(0, 0, width, height).data, width, height, canvas };
}

/** A small copy of a crop canvas for lists and the matrix. */
function thumbnail(crop, size = 56) {
  const c = h("canvas", { width: size, height: size, class: "face-thumb" });
  c.getContext("2d").drawImage(crop, 0, 0, size, size);
  return c;
}

export class EmbeddingsDemo {
  /**
   * @param {HTMLElement} root the section
   * @param {() => import("./mtcnn.js").MtcnnDetector | null} detector the shared MTCNN detector
   */
  constructor(root, detector) {
    this.root = root;
    this.detector = detector;
    this.el = {
      models: $("#embed-models", root),
      label: $("#embed-label", root),
      minSize: $("#embed-minsize", root),
      enrolBundled: $("#embed-enrol-bundled", root),
      enrolFile: $("#embed-enrol-file", root),
      enrolCamera: $("#embed-enrol-camera", root),
      matchFile: $("#embed-match-file", root),
      matchVariants: $("#embed-match-variants", root),
      matchCamera: $("#embed-match-camera", root),
      live: $("#embed-live", root),
      cameraStart: $("#embed-camera-start", root),
      cameraStop: $("#embed-camera-stop", root),
      cameraStatus: $("#embed-camera-status", root),
      video: $("#embed-video", root),
      gallery: $("#embed-gallery", root),
      result: $("#embed-result", root),
      summary: $("#embed-summary", root),
      matches: $("#embed-matches", root),
      matrix: $("#embed-matrix", root),
      error: $("#embed-error", root),
    };
    this.embedder = null;
    this.loadFailed = false;
    /** Enrolled faces: { id, label, descriptor, crop (canvas), source }. */
    this.gallery = [];
    /** The last matched image: { image, faces: [{ box, landmarks, descriptor, match }], detectMs, embedMs }. */
    this.last = null;
    /** The distance matrix of every face on the page: { labels, distances }. */
    this.matrix = { labels: [], distances: [] };
    this.stream = null;
    this.busy = Promise.resolve();
    this.nextId = 1;
    this.#setCamera("off", "Camera off.");

    const run = (fn) => () => {
      this.busy = this.busy.then(fn, fn).catch(() => {});
      return this.busy;
    };
    this.el.enrolBundled.addEventListener("click", run(() => this.enrolBundled()));
    this.el.enrolFile.addEventListener("change", run(() => this.#fromInput(this.el.enrolFile, (f) => this.enrolFile(f))));
    this.el.enrolCamera.addEventListener("click", run(() => this.enrolCamera()));
    this.el.matchFile.addEventListener("change", run(() => this.#fromInput(this.el.matchFile, (f) => this.matchFile(f))));
    this.el.matchVariants.addEventListener("click", run(() => this.matchVariants()));
    this.el.matchCamera.addEventListener("click", run(() => this.matchCamera()));
    this.el.cameraStart.addEventListener("click", () => this.startCamera().catch(() => {}));
    this.el.cameraStop.addEventListener("click", () => this.stopCamera());
    this.el.live.addEventListener("change", () => {
      if (this.el.live.checked) this.#liveLoop();
    });
    this.#renderGallery();
    this.#renderMatrix();
  }

  /** (Re)loads the face recognition network on a backend. */
  async load(backend) {
    // Clears only a loading error: a camera or matching error stays until the next action.
    if (this.loadFailed) showError(this.el.error, null);
    this.loadFailed = false;
    this.el.models.replaceChildren(h("li", {}, `loading the face recognition network (22 MB, backend: ${backend})…`));
    const progress = h("progress", { max: 1, value: 0 });
    this.el.models.firstChild.append(" ", progress);
    try {
      const embedder = await FaceEmbedder.load(MODEL_FOLDER, {
        backend,
        onProgress: ({ loaded, total }) => {
          if (total) progress.value = loaded / total;
        },
      });
      this.embedder?.dispose();
      this.embedder = embedder;
      const info = embedder.model.info();
      this.el.models.replaceChildren(modelStatus("face_recognition · dlib ResNet, 29 convolutions", embedder.model, embedder.loadMs, `MXNet ${info.mxnetVersion} file`));
      this.#updateButtons();
    } catch (err) {
      this.el.models.replaceChildren();
      this.loadFailed = true;
      showError(this.el.error, err, "loading the face recognition network");
      throw err;
    }
  }

  #updateButtons() {
    const ready = this.embedder !== null;
    const camera = this.stream !== null;
    for (const b of [this.el.enrolBundled, this.el.enrolFile, this.el.matchFile, this.el.matchVariants]) b.disabled = !ready;
    this.el.enrolCamera.disabled = !(ready && camera);
    this.el.matchCamera.disabled = !(ready && camera);
    this.el.live.disabled = !(ready && camera);
    this.el.cameraStart.disabled = camera;
    this.el.cameraStop.disabled = !camera;
  }

  // ----------------------------------------------------------------------------------------
  // Faces → descriptors

  /**
   * Detects, aligns and embeds every face of an image (one forward pass for all of them).
   * @returns {Promise<{ faces: object[], detectMs: number, embedMs: number }>}
   */
  async describe(image) {
    const detector = this.detector();
    if (!detector) throw new Error("MTCNN is not loaded yet (see section 2)");
    if (!this.embedder) throw new Error("the face recognition network is not loaded yet");
    const minSize = Number(this.el.minSize.value);
    if (!(minSize >= 12)) throw new Error(`the smallest face size must be a number of pixels ≥ 12, not "${this.el.minSize.value}"`);
    const [detection, detectMs] = await timed(() => detector.detect(image, { minSize }));
    const aligned = detection.faces.map((f) => alignFace(image, f.landmarks));
    const { descriptors, ms: embedMs } = await this.embedder.embed(aligned.map((a) => a.pixels));
    const faces = detection.faces.map((f, i) => ({ ...f, crop: aligned[i].canvas, descriptor: descriptors[i] }));
    return { faces, detectMs, embedMs };
  }

  // ----------------------------------------------------------------------------------------
  // Enrolment

  async enrolBundled() {
    const image = await this.#decode(() => decodeImage(BUNDLED.url, { maxSide: MAX_SIDE, name: BUNDLED.url }));
    return this.enrol(image, "astronaut.jpg", this.el.label.value.trim() || BUNDLED.label);
  }

  async enrolFile(file) {
    const image = await this.#decode(() => decodeImage(file, { maxSide: MAX_SIDE }));
    return this.enrol(image, file.name);
  }

  async enrolCamera() {
    return this.enrol(this.#frame(), "camera");
  }

  /**
   * Enrols the largest face of an image under a label (the label field, else "Person N").
   * Rejects, and says so on the page, when the image has no face.
   */
  async enrol(image, source, label = this.el.label.value.trim()) {
    showError(this.el.error, null);
    this.el.summary.textContent = `Enrolling the face in ${source}…`;
    await nextFrame();
    try {
      const { faces } = await this.describe(image);
      if (faces.length === 0) throw new Error(`no face found in ${source} (try a larger, frontal face, or a smaller "smallest face")`);
      const area = (f) => (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]);
      const face = faces.reduce((a, b) => (area(b) > area(a) ? b : a));
      const id = this.nextId++;
      const entry = { id, label: label || `Person ${id}`, descriptor: face.descriptor, crop: face.crop, source };
      this.gallery.push(entry);
      this.el.label.value = "";
      this.el.summary.textContent = `Enrolled “${entry.label}” from ${source}${faces.length > 1 ? ` (the largest of ${faces.length} faces)` : ""}.`;
      this.#renderGallery();
      this.#renderMatrix();
      return { id: entry.id, label: entry.label, source, faces: faces.length };
    } catch (err) {
      this.el.summary.textContent = "";
      showError(this.el.error, err, "enrolling");
      throw err;
    }
  }

  remove(id) {
    this.gallery = this.gallery.filter((e) => e.id !== id);
    this.#renderGallery();
    this.#renderMatrix();
  }

  // ----------------------------------------------------------------------------------------
  // Matching

  async matchFile(file) {
    const image = await this.#decode(() => decodeImage(file, { maxSide: MAX_SIDE }));
    return this.match(image, file.name);
  }

  async matchCamera() {
    return this.match(this.#frame(), "camera");
  }

  /** The bundled photo mirrored and brightened, next to a shifted, smaller copy: two probes. */
  async matchVariants() {
    const photo = await this.#decode(() => decodeImage(BUNDLED.url, { maxSide: MAX_SIDE, name: BUNDLED.url }));
    const canvas = h("canvas", { width: 880, height: 440 });
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.fillStyle = "#6b7280";
    ctx.fillRect(0, 0, 880, 440);
    ctx.save();
    ctx.filter = "brightness(1.35)";
    ctx.translate(20 + 400, 20);
    ctx.scale(-1, 1);
    ctx.drawImage(photo.canvas, 0, 0, 400, 400);
    ctx.restore();
    ctx.drawImage(photo.canvas, 470, 55, 360, 360);
    const image = { data: ctx.getImageData(0, 0, 880, 440).data, width: 880, height: 440, canvas };
    return this.match(image, "the bundled photo, mirrored + brighter and shifted");
  }

  /** Matches every face of an image against the gallery and shows the result. */
  async match(image, source) {
    showError(this.el.error, null);
    if (!this.el.live.checked) this.el.summary.textContent = `Matching the faces in ${source}…`;
    await nextFrame();
    try {
      const { faces, detectMs, embedMs } = await this.describe(image);
      for (const f of faces) {
        const best = nearest(f.descriptor, this.gallery);
        f.match = best && { id: best.entry.id, label: best.entry.label, distance: best.distance, same: best.same };
      }
      this.last = { image: source, width: image.width, height: image.height, faces, detectMs, embedMs };
      this.#drawResult(image, faces);
      const known = faces.filter((f) => f.match?.same).length;
      this.el.summary.textContent =
        `${faces.length} face${faces.length === 1 ? "" : "s"} in ${source}, ${known} recognised` +
        (this.gallery.length === 0 ? " (nothing enrolled yet)" : "") +
        ` · MTCNN ${formatMs(detectMs)}, descriptors ${formatMs(embedMs)} (${this.embedder.backend})`;
      this.el.matches.replaceChildren(
        ...faces.map((f, i) =>
          h(
            "li",
            { class: f.match?.same ? "same" : "different" },
            thumbnail(f.crop, 40),
            ` #${i + 1}: `,
            f.match
              ? f.match.same
                ? h("b", {}, f.match.label)
                : `unknown (nearest: ${f.match.label})`
              : "no enrolled face to compare with",
            f.match ? ` · distance ${f.match.distance.toFixed(3)} ${f.match.same ? "<" : "≥"} ${SAME_PERSON}` : "",
          ),
        ),
      );
      this.#renderMatrix();
      return this.#summaryOf(this.last);
    } catch (err) {
      this.el.summary.textContent = "";
      showError(this.el.error, err, "matching");
      throw err;
    }
  }

  /** A plain-data copy of a match result (for the console and the tests). */
  #summaryOf(last) {
    return {
      image: last.image,
      faces: last.faces.map((f) => ({ box: f.box, score: f.score, match: f.match })),
      detectMs: last.detectMs,
      embedMs: last.embedMs,
    };
  }

  #drawResult(image, faces) {
    const canvas = this.el.result;
    canvas.width = image.width;
    canvas.height = image.height;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(image.canvas, 0, 0);
    const line = Math.max(2, Math.round(Math.max(image.width, image.height) / 300));
    ctx.lineWidth = line;
    ctx.font = `bold ${6 * line + 6}px system-ui, sans-serif`;
    ctx.textBaseline = "bottom";
    for (const f of faces) {
      const [x1, y1, x2, y2] = f.box;
      const colour = f.match?.same ? "#39ff14" : "#ff5252";
      ctx.strokeStyle = colour;
      ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
      const label = f.match ? `${f.match.same ? f.match.label : "unknown"} ${f.match.distance.toFixed(2)}` : "?";
      const tw = ctx.measureText(label).width;
      ctx.fillStyle = colour;
      ctx.fillRect(x1 - line / 2, y1 - 6 * line - 10, tw + 8, 6 * line + 10);
      ctx.fillStyle = "#000";
      ctx.fillText(label, x1 + 4, y1 - 2);
    }
  }

  // ----------------------------------------------------------------------------------------
  // Gallery and matrix

  #renderGallery() {
    if (this.gallery.length === 0) {
      this.el.gallery.replaceChildren(h("li", { class: "muted" }, "No face enrolled yet: enrol one from the camera or a photo."));
      return;
    }
    this.el.gallery.replaceChildren(
      ...this.gallery.map((e) => {
        const remove = h("button", { type: "button", class: "link", title: `remove ${e.label}` }, "remove");
        remove.addEventListener("click", () => this.remove(e.id));
        return h("li", { "data-id": e.id }, thumbnail(e.crop), h("span", {}, h("b", {}, e.label), h("br"), h("small", { class: "muted" }, e.source)), remove);
      }),
    );
  }

  #renderMatrix() {
    const faces = [
      ...this.gallery.map((e) => ({ label: e.label, crop: e.crop, descriptor: e.descriptor })),
      ...(this.last?.faces ?? []).map((f, i) => ({ label: `${this.last.image} #${i + 1}`, crop: f.crop, descriptor: f.descriptor })),
    ];
    const distances = faces.map((a) => faces.map((b) => distance(a.descriptor, b.descriptor)));
    this.matrix = { labels: faces.map((f) => f.label), distances };
    if (faces.length < 2) {
      this.el.matrix.replaceChildren(h("caption", { class: "muted" }, "Enrol or match at least two faces to compare them."));
      return;
    }
    const head = h("tr", {}, h("th"), ...faces.map((f) => h("th", { title: f.label }, thumbnail(f.crop, 36))));
    const rows = faces.map((f, i) =>
      h(
        "tr",
        {},
        h("th", { title: f.label }, thumbnail(f.crop, 36), h("span", {}, f.label)),
        ...distances[i].map((d, j) => {
          // Closer = greener; at or past the threshold, grey.
          const t = Math.max(0, 1 - d / SAME_PERSON);
          const style = i === j ? "" : d < SAME_PERSON ? `background: rgba(30, 142, 62, ${0.15 + 0.6 * t})` : "background: #f1f3f6";
          return h("td", { class: d < SAME_PERSON ? "same" : "different", style, title: `${faces[i].label} ↔ ${faces[j].label}` }, d.toFixed(2));
        }),
      ),
    );
    this.el.matrix.replaceChildren(
      h("caption", {}, `Euclidean distances between the ${faces.length} faces on the page (green: < ${SAME_PERSON}, the same person)`),
      h("thead", {}, head),
      h("tbody", {}, ...rows),
    );
  }

  // ----------------------------------------------------------------------------------------
  // Camera

  #setCamera(state, text) {
    this.root.dataset.camera = state;
    this.el.cameraStatus.textContent = text;
    this.el.cameraStatus.className = state === "error" ? "error-text" : "muted";
  }

  async startCamera() {
    showError(this.el.error, null);
    if (!navigator.mediaDevices?.getUserMedia) {
      const err = new Error("this page cannot use a camera here: camera access needs a secure page (https:// or http://localhost) in a browser that supports it");
      this.#setCamera("error", "No camera API.");
      showError(this.el.error, err, "camera");
      throw err;
    }
    this.#setCamera("starting", "Starting the camera (the browser may ask for permission)…");
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" }, audio: false });
      this.stream = stream;
      this.el.video.srcObject = stream;
      await this.el.video.play();
      if (!this.el.video.videoWidth) await new Promise((resolve) => this.el.video.addEventListener("loadedmetadata", resolve, { once: true }));
      const [track] = stream.getVideoTracks();
      track?.addEventListener("ended", () => this.stopCamera("The camera stopped."));
      // A fake capture device's label is its file's path: its name is enough.
      const name = (track?.label || "camera").split("/").pop();
      this.#setCamera("on", `Camera on: ${name} (${this.el.video.videoWidth}×${this.el.video.videoHeight}).`);
      this.#updateButtons();
    } catch (err) {
      this.stopCamera();
      const message = cameraErrorMessage(err);
      this.#setCamera("error", message.split(":")[0] + ".");
      showError(this.el.error, new Error(message));
      throw err;
    }
  }

  stopCamera(text = "Camera off.") {
    this.el.live.checked = false;
    this.stream?.getTracks().forEach((t) => t.stop());
    this.stream = null;
    this.el.video.srcObject = null;
    this.#setCamera("off", text);
    this.#updateButtons();
  }

  #frame() {
    if (!this.stream) {
      const err = new Error("the camera is off: press Start camera first");
      showError(this.el.error, err);
      throw err;
    }
    return grabFrame(this.el.video);
  }

  /** Matches camera frames one after another while "live" is checked and the camera runs. */
  async #liveLoop() {
    if (this.liveRunning) return;
    this.liveRunning = true;
    try {
      while (this.el.live.checked && this.stream) {
        await (this.busy = this.busy.then(() => this.match(grabFrame(this.el.video), "camera (live)")).catch(() => {
          this.el.live.checked = false;
        }));
        await nextFrame();
      }
    } finally {
      this.liveRunning = false;
    }
  }

  // ----------------------------------------------------------------------------------------

  async #decode(fn) {
    showError(this.el.error, null);
    try {
      return await fn();
    } catch (err) {
      showError(this.el.error, err, "reading the image");
      throw err;
    }
  }

  async #fromInput(input, fn) {
    const file = input.files?.[0];
    input.value = "";
    if (file) return fn(file);
    return null;
  }
}
