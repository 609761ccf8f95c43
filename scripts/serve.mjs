#!/usr/bin/env node
// Serves the in-browser demo (www/) on 127.0.0.1: `npm start` builds the package, then runs this.
//
// The demo is plain static files with relative URLs, so any static host serves it; the only
// preparation is a copy of the built package (pkg/index.js and pkg/wasm/) into www/pkg/
// (git-ignored), which the page imports as ./pkg/index.js.
//
// Every response carries Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy:
// require-corp, so the page is cross-origin isolated and the package runs the CPU backend on
// several threads (issue 9; threads() shows how many); --no-isolation leaves them out (one thread).
//
// Usage: node scripts/serve.mjs [--port N] [--no-copy] [--log] [--no-isolation]
//   port: --port, else $PORT, else 8080; when taken, the next free one (up to +20); 0 picks any.
//   Any URL may end in ?throttle=KIB_PER_S to stream that file slowly, e.g.
//   models/mtcnn/det3-0001.params?throttle=200, to watch the demo's download progress bar.
// Node.js built-ins only.

import http from "node:http";
import { cp, mkdir, readdir, readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const WWW = path.join(REPO, "www");

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".md": "text/markdown; charset=utf-8",
  ".ts": "text/plain; charset=utf-8",
  ".wasm": "application/wasm",
  ".params": "application/octet-stream",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
};

/**
 * Copies the built package into www/pkg/ (its .js and .d.ts files, package.json, wasm/).
 * Throws with the command to run when the package has not been built.
 */
export async function copyPackage(repo = REPO) {
  const pkg = path.join(repo, "pkg");
  const wasm = path.join(pkg, "wasm", "mxnet_web_bg.wasm");
  try {
    await stat(wasm);
  } catch {
    throw new Error(`${path.relative(repo, wasm)} is missing: build the package first (npm run build)`);
  }
  const dest = path.join(repo, "www", "pkg");
  await rm(dest, { recursive: true, force: true });
  await mkdir(dest, { recursive: true });
  // Every module of the package (index.js imports its siblings: image.js, worker.js, ...).
  const files = (await readdir(pkg)).filter((f) => f.endsWith(".js") || f.endsWith(".d.ts") || f === "package.json");
  for (const file of files) {
    await cp(path.join(pkg, file), path.join(dest, file));
  }
  await cp(path.join(pkg, "wasm"), path.join(dest, "wasm"), { recursive: true });
  // The threaded variant (absent when built with MXNET_WEB_NO_THREADS=1).
  try {
    await cp(path.join(pkg, "wasm-mt"), path.join(dest, "wasm-mt"), { recursive: true });
  } catch {
    // one thread only
  }
  return dest;
}

/**
 * Serves `root` read-only on host:port (the next free port when taken, up to 20 tries).
 * Resolves to `{ url, port, close() }`.
 */
export async function serveStatic({ root = WWW, port = 8080, host = "127.0.0.1", log = false, isolation = true } = {}) {
  // Cross-origin isolation (SharedArrayBuffer, hence wasm threads).
  const coi = isolation
    ? { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" }
    : {};
  const base = path.resolve(root);
  const sockets = new Set();
  const server = http.createServer(async (req, res) => {
    let status = 200;
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      let file = path.join(base, decodeURIComponent(url.pathname));
      if (file !== base && !file.startsWith(base + path.sep)) {
        status = 403;
      } else {
        if (url.pathname.endsWith("/")) file = path.join(file, "index.html");
        let body;
        try {
          const info = await stat(file);
          if (info.isDirectory()) {
            // /www → /www/ so the page's relative URLs resolve inside the folder.
            status = 301;
            res.writeHead(301, { Location: `${url.pathname}/${url.search}` });
            res.end();
          } else {
            body = await readFile(file);
          }
        } catch {
          status = 404;
        }
        if (body !== undefined) {
          res.writeHead(200, {
            "Content-Type": MIME[path.extname(file).toLowerCase()] ?? "application/octet-stream",
            "Content-Length": body.length,
            "Cache-Control": "no-cache",
            ...coi,
          });
          const throttle = Number(url.searchParams.get("throttle"));
          if (req.method === "HEAD") res.end();
          else if (throttle > 0) await sendSlowly(res, body, throttle * 1024);
          else res.end(body);
        }
      }
    } catch (err) {
      status = 500;
      if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain; charset=utf-8" });
      res.end(String(err));
    }
    if (status === 403 || status === 404) {
      res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8" });
      res.end(status === 404 ? "Not Found" : "Forbidden");
    }
    if (log) console.log(`${status} ${req.method} ${req.url}`);
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });

  const tries = port === 0 ? 1 : 20;
  for (let i = 0; i < tries; i++) {
    const candidate = port === 0 ? 0 : port + i;
    const ok = await new Promise((resolve, reject) => {
      const onError = (err) => {
        server.off("listening", onListening);
        if (err.code === "EADDRINUSE" && i < tries - 1) resolve(false);
        else reject(err);
      };
      const onListening = () => {
        server.off("error", onError);
        resolve(true);
      };
      server.once("error", onError);
      server.once("listening", onListening);
      server.listen(candidate, host);
    });
    if (ok) break;
  }
  const actual = server.address().port;
  return {
    url: `http://${host}:${actual}/`,
    port: actual,
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Streams `body` at about `bytesPerSecond`, in 10 chunks a second (stops if the client leaves). */
async function sendSlowly(res, body, bytesPerSecond) {
  const chunk = Math.max(1, Math.round(bytesPerSecond / 10));
  for (let at = 0; at < body.length && !res.destroyed; at += chunk) {
    res.write(body.subarray(at, at + chunk));
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  res.end();
}

async function main() {
  const args = process.argv.slice(2);
  const portArg = args.indexOf("--port");
  const port = Number(portArg >= 0 ? args[portArg + 1] : (process.env.PORT ?? 8080));
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`invalid port ${portArg >= 0 ? args[portArg + 1] : process.env.PORT}`);
  }
  if (!args.includes("--no-copy")) await copyPackage();
  const server = await serveStatic({ port, log: args.includes("--log"), isolation: !args.includes("--no-isolation") });
  console.log(`mxnet-web demo: ${server.url}  (serving ${path.relative(process.cwd(), WWW) || "."}; Ctrl-C stops)`);
  const stop = () => server.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`error: ${err.message}`);
    process.exit(1);
  });
}
