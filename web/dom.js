// Building the page's content: elements are made with their text set as
// text (never parsed as HTML), so nothing a caller or an operator typed can
// run as code.

export const $ = (id) => document.getElementById(id);

/** An element with attributes (`text` sets its text, `on…` a listener;
 * an attribute given `null`, `undefined` or `false` is left out, so
 * `disabled: cond ? '' : null` works) and children. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v != null && v !== false) node.setAttribute(k, v);
  }
  for (const c of children) if (c != null) node.append(c);
  return node;
}

/** `on(target, type, handler)` adding listeners that all go when `abort`
 * is aborted (a view's own, removed when it stops). */
export const listeners = (abort) => (target, type, handler) => target.addEventListener(type, handler, { signal: abort.signal });
