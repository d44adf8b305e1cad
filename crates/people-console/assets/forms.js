// Labelled fields, submit handling and the API's error messages shown where they belong.

import { h, uid } from './dom.js';
import { ApiError } from './api.js';

/** A labelled input; `hint` is read out with it. */
export function field({ name, label, type = 'text', value = '', hint, ...attrs }) {
  const id = uid(name);
  const hintId = hint ? `${id}-hint` : null;
  const input = h('input', { id, name, type, value, 'aria-describedby': hintId, ...attrs });
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    input);
}

/** A labelled checkbox. */
export function checkbox({ name, label, checked = false, ...attrs }) {
  const id = uid(name);
  return h('div', { class: 'field check' },
    h('input', { id, name, type: 'checkbox', checked, ...attrs }),
    h('label', { for: id }, label));
}

/** A labelled select of `options` ([value, text] pairs). */
export function select({ name, label, options, value = '', hint, ...attrs }) {
  const id = uid(name);
  const hintId = hint ? `${id}-hint` : null;
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    h('select', { id, name, 'aria-describedby': hintId, ...attrs },
      options.map(([v, text]) => h('option', { value: v, selected: String(v) === String(value) }, text))));
}

/** The form's named values: text as strings, checkboxes as booleans. */
export function values(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    out[el.name] = el.type === 'checkbox' ? el.checked : el.value;
  }
  return out;
}

/**
 * A form whose submit button is busy while `onSubmit(values, form)` runs; an ApiError it throws is shown
 * beside the fields it names, and the rest above the button.
 */
export function form({ onSubmit, submit, label, children = [], secondary = null }) {
  const alert = h('div', { class: 'form-error', role: 'alert', hidden: true });
  const button = h('button', { type: 'submit', class: 'primary' }, submit);
  const el = h('form', { 'aria-label': label, novalidate: true },
    children, alert, h('div', { class: 'actions' }, button, secondary));
  el.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (button.disabled) return;
    clearErrors(el);
    button.disabled = true;
    el.setAttribute('aria-busy', 'true');
    try {
      await onSubmit(values(el), el);
    } catch (err) {
      showErrors(el, err);
    } finally {
      button.disabled = false;
      el.removeAttribute('aria-busy');
    }
  });
  return el;
}

/** Removes every message `showErrors` put on the form. */
export function clearErrors(formEl) {
  for (const p of formEl.querySelectorAll('.field-error')) p.remove();
  for (const input of formEl.querySelectorAll('[aria-invalid]')) {
    input.removeAttribute('aria-invalid');
    const ids = (input.getAttribute('aria-describedby') || '').split(' ')
      .filter((d) => d && !d.endsWith('-error'));
    if (ids.length) input.setAttribute('aria-describedby', ids.join(' '));
    else input.removeAttribute('aria-describedby');
  }
  const alert = formEl.querySelector('.form-error');
  if (alert) { alert.hidden = true; alert.textContent = ''; }
}

/** Shows an error: field messages next to their inputs, everything else in the form's alert. */
export function showErrors(formEl, err) {
  const fields = err instanceof ApiError ? err.fields : {};
  const unplaced = [];
  let first = null;
  for (const [name, message] of Object.entries(fields)) {
    const input = formEl.querySelector(`[name="${CSS.escape(name)}"]`);
    const text = Array.isArray(message) ? message.join(' ') : String(message);
    if (!input) { unplaced.push(text); continue; }
    const id = `${input.id}-error`;
    const p = h('p', { class: 'field-error', id }, text);
    input.closest('.field').append(p);
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-describedby',
      [input.getAttribute('aria-describedby'), id].filter(Boolean).join(' '));
    first = first || input;
  }
  const alert = formEl.querySelector('.form-error');
  const message = unplaced.length ? unplaced.join(' ')
    : (Object.keys(fields).length ? '' : (err && err.message) || String(err));
  if (alert && message) { alert.textContent = message; alert.hidden = false; }
  if (first) first.focus();
}

/** What the password policy asks for, in words (from the `password-complexity` property). */
export function passwordHint(complexity) {
  if (!complexity || !complexity.total) return null;
  const parts = [`at least ${complexity.total} characters`];
  const kinds = { lower: 'lower-case letter', upper: 'upper-case letter', digit: 'digit', special: 'special character' };
  for (const [key, noun] of Object.entries(kinds)) {
    if (complexity[key]) parts.push(`${complexity[key]} ${noun}${complexity[key] > 1 ? 's' : ''}`);
  }
  return `Use ${parts.join(', ')}.`;
}
