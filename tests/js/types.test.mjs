// The package's TypeScript types (pkg/index.d.ts) under `tsc --strict`: every ```js snippet of
// pkg/README.md, compiled as a TypeScript module, and tests/types/examples.ts (the whole API,
// plus misuses marked @ts-expect-error that must not compile). "mxnet-web" resolves to pkg/.
// TypeScript is a root devDependency (npm ci installs it).

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { access, cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const ROOT = path.resolve(fileURLToPath(import.meta.url), "../../..");
const TSC = path.join(ROOT, "node_modules/typescript/bin/tsc");

test("tsc --strict accepts pkg/README.md's snippets and tests/types/examples.ts", { timeout: 120_000 }, async () => {
  await access(TSC).catch(() => {
    throw new Error(`${TSC} is missing: install the root devDependencies (npm ci)`);
  });
  const readme = await readFile(path.join(ROOT, "pkg/README.md"), "utf8");
  const snippets = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(snippets.length >= 5, `only ${snippets.length} js snippets in pkg/README.md`);
  const dir = await mkdtemp(path.join(os.tmpdir(), "mxnet-web-types-"));
  try {
    const files = [];
    for (const [i, code] of snippets.entries()) {
      const file = `readme_${i}.ts`;
      // Each snippet is its own module (top-level await, own names).
      await writeFile(path.join(dir, file), `${code}\nexport {};\n`);
      files.push(file);
    }
    await cp(path.join(ROOT, "tests/types/examples.ts"), path.join(dir, "examples.ts"));
    files.push("examples.ts");
    await mkdir(path.join(dir, "node_modules"), { recursive: true });
    const tsconfig = {
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: "es2022",
        module: "esnext",
        moduleResolution: "bundler",
        lib: ["es2022", "dom", "dom.iterable"],
        types: [],
        skipLibCheck: false,
        noUnusedLocals: false,
        paths: { "mxnet-web": [path.join(ROOT, "pkg/index.d.ts")] },
      },
      files,
    };
    await writeFile(path.join(dir, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));
    const result = await promisify(execFile)(process.execPath, [TSC, "-p", dir, "--pretty", "false"], { cwd: dir }).then(
      () => ({ ok: true, out: "" }),
      (err) => ({ ok: false, out: `${err.stdout}${err.stderr}` }),
    );
    const out = result.out.replaceAll(dir + path.sep, "");
    assert.ok(result.ok, `tsc --strict failed:\n${out}\n(readme_N.ts is the N-th js snippet of pkg/README.md, from 0)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
