// DOM helpers. Text only ever enters the page as text nodes (textContent), and
// styles only through the CSSOM, so the strict Content-Security-Policy holds and
// span data can never become markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * el('div', { class: 'row', 'data-index': '3' }, 'text', childNode, null)
 * Attributes are set with setAttribute (never `style` or `on*`: those are
 * rejected so a typo cannot smuggle in something the CSP forbids). Strings and
 * numbers become text nodes; null, undefined and false are skipped; arrays are
 * flattened.
 */
export function el(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/** Like el(), in the SVG namespace. */
export function svg(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

function fill(node, attrs, children) {
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === 'style' || name.startsWith('on')) {
        throw new Error(`el(): attribute ${name} is not allowed; use the CSSOM or addEventListener`);
      }
      node.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces all children of `node`. */
export function setChildren(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** Sets text safely. */
export function setText(node, text) {
  node.textContent = text;
  return node;
}

/** A small message block for empty and error states. */
export function notice(kind, title, ...body) {
  return el('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    el('h2', { class: 'notice-title' }, title),
    ...body);
}
