// Modal dialogs on the native <dialog>: focus moves in, Escape closes, focus returns where it was.

import { h } from './dom.js';

/**
 * Opens a modal titled `title`; `content(close)` returns its body. Resolves when it closes, with the value
 * given to `close(value)` (undefined for Escape or "Cancel").
 */
export function openDialog(title, content) {
  const opener = document.activeElement;
  return new Promise((resolve) => {
    let result;
    const headingId = `dialog-${Math.random().toString(36).slice(2)}`;
    const dialog = h('dialog', { 'aria-labelledby': headingId });
    const close = (value) => { result = value; dialog.close(); };
    dialog.append(h('h2', { id: headingId }, title), content(close));
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(result);
    });
    document.body.append(dialog);
    dialog.showModal();
    const first = dialog.querySelector('[autofocus]')
      || dialog.querySelector('input:not([type="hidden"]):not([disabled]), select, textarea, button');
    if (first) first.focus();
  });
}

/** Asks to confirm `action`; resolves true only for the confirming button. */
export function confirmDialog(title, text, action, { danger = true } = {}) {
  return openDialog(title, (close) => h('div', {},
    h('p', {}, text),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: danger ? 'primary danger-fill' : 'primary', onClick: () => close(true) }, action),
      h('button', { type: 'button', onClick: () => close(false) }, 'Cancel')))).then(Boolean);
}

/** A read-only copy of `text` with a "Copy" button, for links and keys shown once. */
export function copyable(label, text) {
  const id = `copy-${Math.random().toString(36).slice(2)}`;
  const input = h('input', { id, type: 'text', readonly: true, value: text, class: 'secret' });
  const status = h('span', { role: 'status', class: 'hint' });
  const button = h('button', {
    type: 'button',
    async onClick() {
      input.select();
      try {
        await navigator.clipboard.writeText(text);
        status.textContent = 'Copied.';
      } catch {
        status.textContent = 'Press Ctrl+C (or ⌘C) to copy the selected text.';
      }
    },
  }, 'Copy');
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, h('div', { class: 'actions' }, button, status));
}
