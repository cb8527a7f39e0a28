// Tiny DOM builders. Everything is made with createElement and textContent,
// never innerHTML: what users write is never parsed as markup, and the strict
// CSP (no inline scripts or style attributes) holds.

/** h builds an element: h('a', {href: '/x', class: 'btn'}, 'text', child). */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k === 'value' || k === 'checked' || k === 'selected') el[k] = v;
      else if (k === 'style') throw new Error('no style attributes: use classes');
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

/** append adds strings, nodes and (nested) arrays of them; null is skipped. */
export function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
  return el;
}

/** mount replaces el's children. */
export function mount(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let seq = 0;
/** uid returns a page-unique id for label/aria wiring. */
export function uid(prefix = 'id') {
  seq += 1;
  return `${prefix}-${seq}`;
}

/** $ is querySelector within root. */
export function $(sel, root = document) {
  return root.querySelector(sel);
}
