// A static file server for the tests: serves the repository root on 127.0.0.1 (a free port),
// with Content-Length and the MIME types browsers need (application/wasm, text/javascript).
//
// Query parameters shape the response so the tests can exercise the loader:
//   ?slow=MS       send the body in 4 KiB chunks, MS milliseconds apart (for aborts)
//   ?chunked=1     no Content-Length (chunked transfer): progress totals are unknown
//   ?truncate=N    serve only the first N bytes (a corrupt file)
//   ?html=1        answer with an HTML page (status 200), as a development server or an SPA host
//                  does for an unknown path; ?html=octet sends it as application/octet-stream
//   ?gzip=1        gzip the body (Content-Encoding: gzip; Content-Length is the compressed size)
//
// Options of startServer(root, options) (the webapp tests: caching, a CDN on another origin;
// isolation: COOP/COEP headers on every file, for the threads test):
//   validators: true   send ETag (from the file's mtime and size) and Last-Modified, and answer
//                      If-None-Match / If-Modified-Since with 304 Not Modified;
//                      "last-modified": the same with Last-Modified only
//   cors: true         Access-Control-Allow-Origin: * (a CDN serving another origin's page)
// Node.js built-ins only.

import http from "node:http";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import zlib from "node:zlib";

/** What a development server sends for a path it does not know (its index.html). */
const HTML_PAGE = '<!DOCTYPE html>\n<html lang="en">\n  <head><script type="module" src="/@vite/client"></script></head>\n  <body><div id="app"></div></body>\n</html>\n';

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".params": "application/octet-stream",
  ".npy": "application/octet-stream",
};

/**
 * Starts the server. Resolves to `{ origin, requests, close() }`; `requests` lists the paths
 * served (with status) for failure messages.
 */
export async function startServer(root, { validators = false, cors = false, isolation = false } = {}) {
  const requests = [];
  const sockets = new Set();
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, "http://localhost");
    let status = 200;
    try {
      const file = path.join(root, decodeURIComponent(url.pathname));
      const html = url.searchParams.get("html");
      if (html !== null) {
        const body = Buffer.from(HTML_PAGE);
        res.writeHead(200, {
          "Content-Type": html === "octet" ? "application/octet-stream" : "text/html",
          "Content-Length": body.length,
        });
        res.end(body);
      } else if (!file.startsWith(root + path.sep)) {
        status = 403;
      } else {
        let body;
        try {
          body = await readFile(file);
        } catch {
          status = 404;
        }
        if (body !== undefined) {
          const truncate = url.searchParams.get("truncate");
          if (truncate !== null) body = body.subarray(0, Number(truncate));
          const headers = {
            "Content-Type": MIME[path.extname(file)] ?? "application/octet-stream",
            "Cache-Control": "no-store",
          };
          if (cors) headers["Access-Control-Allow-Origin"] = "*";
          if (isolation) {
            // Cross-origin isolated pages (SharedArrayBuffer: the package's threads, issue 9).
            headers["Cross-Origin-Opener-Policy"] = "same-origin";
            headers["Cross-Origin-Embedder-Policy"] = "require-corp";
          }
          if (validators) {
            const { mtimeMs, mtime, size } = await stat(file);
            if (validators !== "last-modified") headers["ETag"] = `"${Math.floor(mtimeMs).toString(16)}-${size.toString(16)}"`;
            headers["Last-Modified"] = mtime.toUTCString();
            headers["Cache-Control"] = "no-cache";
            const since = req.headers["if-modified-since"];
            const unchanged =
              req.headers["if-none-match"] !== undefined && headers["ETag"] !== undefined
                ? req.headers["if-none-match"] === headers["ETag"]
                : since !== undefined && Math.floor(mtimeMs / 1000) <= Math.floor(Date.parse(since) / 1000);
            if (unchanged) {
              status = 304;
              body = Buffer.alloc(0);
            }
          }
          if (url.searchParams.get("gzip") !== null && status === 200) {
            body = zlib.gzipSync(body);
            headers["Content-Encoding"] = "gzip";
          }
          if (url.searchParams.get("chunked") === null && status === 200) headers["Content-Length"] = body.length;
          res.writeHead(status, headers);
          const slow = url.searchParams.get("slow");
          if (slow === null) {
            res.end(body);
          } else {
            for (let at = 0; at < body.length && !res.destroyed; at += 4096) {
              res.write(body.subarray(at, at + 4096));
              await new Promise((r) => setTimeout(r, Number(slow)));
            }
            res.end();
          }
        }
      }
    } catch (err) {
      status = 500;
      if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain" });
      res.end(String(err));
    }
    requests.push(`${status} ${url.pathname}${url.search}`);
    if (status === 403 || status === 404) {
      res.writeHead(status, { "Content-Type": "text/plain" });
      res.end(status === 404 ? "Not Found" : "Forbidden");
    }
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
