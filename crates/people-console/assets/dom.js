// Building DOM without HTML strings: nothing the API returns is ever parsed as markup.

const PROPS = new Set(['value', 'checked', 'indeterminate', 'selected']);

/** An element: `h('button', {type: 'button', onClick: f}, 'Save')`. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'class') {
      el.className = value;
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (PROPS.has(key)) {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

/** Appends strings, nodes and (nested) arrays of them; skips null, undefined and false. */
export function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replaces the contents of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let ids = 0;
/** A fresh element id, for label/description links. */
export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

/** A person's display name, as Metabase shows it. */
export function fullName(user) {
  const name = [user.first_name, user.last_name].filter(Boolean).join(' ');
  return name || user.email;
}

/** A date and time in the reader's locale. */
export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/**
 * A masked key as the API gives it: the stored part (`mb_` and 4 characters) and, hidden from screen readers
 * and cut short on screen, the stars that stand for the rest.
 */
export function maskedKey(masked) {
  const shown = masked.replace(/\*+$/, '');
  return h('code', { class: 'masked-key' }, shown, h('span', { 'aria-hidden': 'true' }, masked.slice(shown.length)));
}
