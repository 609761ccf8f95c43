// CommonJS entry of mxnet-web (`require("mxnet-web")`). The package is an ES module; Node.js
// versions that can require() ES modules (20.19+, 22.12+) get it as is. Elsewhere this fails
// with an Error that says how to load it instead of Node's generic ERR_REQUIRE_ESM.
"use strict";

try {
  module.exports = require("./index.js");
} catch (err) {
  if (err && (err.code === "ERR_REQUIRE_ESM" || err.code === "ERR_REQUIRE_ASYNC_MODULE")) {
    const e = new Error(
      "mxnet-web is an ES module, and this Node.js cannot require() ES modules. Use " +
        '`import { Model } from "mxnet-web"` (or `const { Model } = await import("mxnet-web")` from CommonJS), ' +
        "or Node.js 20.19+ / 22.12+, where require() loads it.",
      { cause: err },
    );
    e.code = "ERR_REQUIRE_ESM";
    throw e;
  }
  throw err;
}
