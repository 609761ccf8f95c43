// Small helpers shared by the demo's sections: DOM, formatting, timing, error display.

/** `document.querySelector` that fails loudly: a missing element is a bug in index.html. */
export function $(selector, root = document) {
  const el = root.querySelector(selector);
  if (el === null) throw new Error(`demo: no element matches ${selector}`);
  return el;
}

/** Creates an element: `h("td", { class: "num" }, "3.1")`. Children are nodes or text. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "style") el.style.cssText = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function formatMs(ms) {
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(1)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

export function formatBytes(n) {
  if (n === undefined || n === null) return "?";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

export function formatCount(n) {
  if (n === null || n === undefined) return "?";
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

/** Runs `fn` and resolves to `[result, milliseconds]`. */
export async function timed(fn) {
  const start = performance.now();
  const result = await fn();
  return [result, performance.now() - start];
}

/** The message of anything thrown, for the page. */
export function messageOf(err) {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/**
 * Shows an error in a section's error box (an element with role="alert"), or clears it when
 * `err` is null. Also logs it, with its stack, to the console.
 */
export function showError(box, err, context = "") {
  if (err === null || err === undefined) {
    box.hidden = true;
    box.textContent = "";
    return;
  }
  console.error(context, err);
  box.hidden = false;
  box.textContent = context ? `${context}: ${messageOf(err)}` : messageOf(err);
}

/**
 * Why "auto" chose the CPU, shortened to a line (the full reason is the tooltip); null when it
 * did not fall back.
 */
export function fallbackNote(model) {
  const reason = model.fallbackReason;
  if (!reason) return null;
  const short = reason.length > 140 ? `${reason.slice(0, 140)}…` : reason;
  return h("span", { class: "fallback", title: reason }, ` auto fell back: ${short}`);
}

/** A status line element for a loaded model: name, backend (with fallback reason), load time. */
export function modelStatus(label, model, loadMs, extra = "") {
  return h(
    "li",
    { class: "model-status" },
    h("span", { class: "model-name" }, label),
    " ",
    h("span", { class: `backend backend-${model.backend}`, "data-backend": model.backend }, model.backend),
    fallbackNote(model),
    ` · loaded in ${formatMs(loadMs)}`,
    extra ? ` · ${extra}` : "",
  );
}

/** Resolves after the browser had a chance to paint (so "working…" messages show). */
export function nextFrame() {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}
