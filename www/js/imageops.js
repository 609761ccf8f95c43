// Image decoding for the demo: files and URLs into RGBA pixels. Turning pixels into model input
// tensors is the package's tensorFromImage (pkg/image.js).

/**
 * An RGBA image in memory: `{ data: Uint8ClampedArray, width, height, canvas }`, where `canvas`
 * holds the same pixels for display.
 * @typedef {{ data: Uint8ClampedArray, width: number, height: number, canvas: HTMLCanvasElement }} RgbaImage
 */

/**
 * Decodes an image (a File/Blob, or a URL to fetch) into RGBA pixels, scaled down so that its
 * longer side is at most `maxSide`. Rejects with a message naming the file when it is not an
 * image the browser can decode.
 * @returns {Promise<RgbaImage>}
 */
export async function decodeImage(source, { maxSide = 1024, name } = {}) {
  let blob = source;
  const label = name ?? (typeof source === "string" ? source : source?.name ?? "the image");
  if (typeof source === "string") {
    let response;
    try {
      response = await fetch(source);
    } catch (err) {
      throw new Error(`cannot fetch ${label}: ${err.message}`);
    }
    if (!response.ok) throw new Error(`cannot fetch ${label}: HTTP ${response.status} ${response.statusText}`);
    blob = await response.blob();
  }
  let bitmap;
  try {
    bitmap = await createImageBitmap(blob);
  } catch {
    const type = blob.type ? ` (${blob.type})` : "";
    throw new Error(`${label}${type} is not an image this browser can decode (try a JPEG or PNG file)`);
  }
  const scale = Math.min(1, maxSide / Math.max(bitmap.width, bitmap.height));
  const width = Math.max(1, Math.round(bitmap.width * scale));
  const height = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(bitmap, 0, 0, width, height);
  bitmap.close?.();
  return { data: ctx.getImageData(0, 0, width, height).data, width, height, canvas };
}
