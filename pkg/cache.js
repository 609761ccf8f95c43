// mxnet-web: keeps downloaded model files in Cache Storage (`Model.load(src, { cache: true })`).
//
// Files are stored under their absolute URL in the cache named "mxnet-web". A later load uses
// the stored copy:
//   - when the stored response carried an ETag or Last-Modified header, it is revalidated with
//     a conditional request (If-None-Match / If-Modified-Since): 304 Not Modified → the stored
//     copy (no body downloaded); 200 → the new file, which replaces the stored one; a network
//     failure → the stored copy (offline use);
//   - otherwise it is used as is, with no request at all (Model.clearCache forgets it).
// The cache layer is a fetch function, so the loader's progress reporting, cancellation and
// checks apply to cached files as to downloaded ones. Where Cache Storage is unavailable
// (Node.js, pages that are not a secure context) caching is skipped.

const PREFIX = "mxnet-web: ";
/** The Cache Storage cache that holds model files. */
export const CACHE_NAME = "mxnet-web";

/** The CacheStorage of this context, or null where there is none. */
function cacheStorage() {
  try {
    return typeof caches === "object" && caches !== null && typeof caches.open === "function" ? caches : null;
  } catch {
    return null; // e.g. a SecurityError in an opaque-origin context
  }
}

/** Whether this environment can cache model files (Cache Storage exists). */
export function cacheAvailable() {
  return cacheStorage() !== null;
}

/**
 * Wraps a fetch function with the cache. Returns `fetchFn` unchanged where Cache Storage is
 * unavailable (so Node.js keeps reading file: URLs from disk).
 *
 * @param {((url: string, init: RequestInit) => Promise<Response>) | undefined} fetchFn the user's fetch (default: global fetch)
 */
export function cachedFetch(fetchFn) {
  const storage = cacheStorage();
  if (storage === null) return fetchFn;
  const base = fetchFn ?? ((url, init) => globalThis.fetch(url, init));
  return async (url, init = {}) => {
    let cache = null;
    try {
      cache = await storage.open(CACHE_NAME);
    } catch {
      // Storage refused (quota, private mode): download without caching.
      return base(url, init);
    }
    const stored = await cache.match(url);
    if (stored === undefined) return storeWhileReading(cache, url, await base(url, init));

    const etag = stored.headers.get("etag");
    const lastModified = stored.headers.get("last-modified");
    if (etag === null && lastModified === null) return stored;
    const headers = new Headers(init.headers);
    if (etag !== null) headers.set("If-None-Match", etag);
    if (lastModified !== null) headers.set("If-Modified-Since", lastModified);
    let response;
    try {
      response = await base(url, { ...init, headers });
    } catch (err) {
      if (init.signal?.aborted) throw err;
      return stored; // offline: the stored copy
    }
    if (response.status === 304) {
      response.body?.cancel?.().catch(() => {});
      return stored;
    }
    if (!response.ok) {
      // The file is gone or the server fails: report it, and forget a copy the server disowns.
      if (response.status === 404 || response.status === 410) await cache.delete(url).catch(() => {});
      stored.body?.cancel?.().catch(() => {});
      return response;
    }
    stored.body?.cancel?.().catch(() => {});
    return storeWhileReading(cache, url, response);
  };
}

/**
 * Returns a response that streams `response`'s body to the caller and, once the whole body has
 * arrived, stores it in `cache` before the caller sees the end of the stream (so a finished load
 * is cached). An aborted or failed download stores nothing; a failed write (quota) only logs.
 */
function storeWhileReading(cache, url, response) {
  if (!response.ok || response.status !== 200 || !response.body || typeof TransformStream !== "function") return response;
  const chunks = [];
  const copy = new TransformStream({
    transform(chunk, controller) {
      chunks.push(chunk);
      controller.enqueue(chunk);
    },
    async flush() {
      const headers = new Headers(response.headers);
      // The stored body is decoded: its length is what the loader reads back.
      headers.delete("content-encoding");
      const blob = new Blob(chunks);
      headers.set("content-length", String(blob.size));
      try {
        await cache.put(url, new Response(blob, { status: 200, statusText: response.statusText, headers }));
      } catch (err) {
        console.warn(`${PREFIX}could not cache ${url}: ${err?.message ?? err}`);
      }
    },
  });
  return new Response(response.body.pipeThrough(copy), {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

/**
 * Whether every one of these URLs is in the cache.
 * @param {string[]} urls absolute URLs
 */
export async function allCached(urls) {
  const storage = cacheStorage();
  if (storage === null || !(await storage.has(CACHE_NAME))) return false;
  const cache = await storage.open(CACHE_NAME);
  for (const url of urls) if ((await cache.match(url)) === undefined) return false;
  return true;
}

/**
 * Forgets cached files: these URLs, or the whole cache when `urls` is undefined.
 * Resolves to whether anything was removed.
 * @param {string[] | undefined} urls absolute URLs
 */
export async function removeCached(urls) {
  const storage = cacheStorage();
  if (storage === null) return false;
  if (urls === undefined) return storage.delete(CACHE_NAME);
  if (!(await storage.has(CACHE_NAME))) return false;
  const cache = await storage.open(CACHE_NAME);
  let removed = false;
  for (const url of urls) removed = (await cache.delete(url)) || removed;
  return removed;
}
