// Small DOM helpers: elements are built with properties and children, never from HTML text,
// so nothing an event holds can become markup.

export const $ = (id) => document.getElementById(id);

// h('td', {className: 'x', onclick: f}, 'text', child) → an element.
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key in el && !key.includes('-')) el[key] = value;
    else el.setAttribute(key, value);
  }
  append(el, children);
  return el;
}

// An SVG element with attributes.
export function svg(tag, attrs = {}) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
  return el;
}

export function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

export function show(el, visible) {
  el.hidden = !visible;
}

// 1234567 → "1,234,567"
export const num = (n) => Number(n).toLocaleString('en-US');
