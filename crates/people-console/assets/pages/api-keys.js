// API keys (/admin/settings/authentication/api-keys): every key GET /api/api-key lists, with its group, its
// masked key and who changed it last; create one (the key is shown once, to copy), rename or regroup it,
// regenerate it (the new key shown once, the old one stops at once) and delete it. Only administrators manage
// keys: for anyone else the API's refusal is the page. See docs/api-keys.md.

import { api } from '../api.js';
import { confirmDialog, copyable, openDialog } from '../dialog.js';
import { h, maskedKey, replace, when } from '../dom.js';
import { field, form, select } from '../forms.js';
import { subnav } from './settings.js';

// All Users (people-domain's ALL_USERS_ID): the group a new key starts in, the one that grants the least.
const ALL_USERS_ID = 1;

export default async function apiKeys(ctx) {
  ctx.title('API keys');
  const list = h('div', { id: 'api-keys-list', class: 'api-keys' });
  const page = { ctx, list, groups: [], refresh: () => refresh(page) };
  const listed = await refresh(page);
  if (listed) {
    try {
      page.groups = await api('GET', '/api/permissions/group');
    } catch (err) {
      ctx.notify(err.message);
    }
  }
  replace(ctx.main,
    h('div', { class: 'head' },
      h('h1', {}, 'API keys'),
      listed ? h('button', { type: 'button', class: 'primary', onClick: () => createDialog(page) }, 'Create API key') : null),
    subnav('api-keys'),
    h('p', { class: 'hint intro' },
      'An API key lets a script or another service use the API without signing in: it sends the key in the ',
      h('code', {}, 'X-Api-Key'), ' header and acts as a user of its own, a member of the group you choose. ',
      'A key in Administrators can do everything an administrator can, managing keys included.'),
    list);
}

/**
 * Fetches the keys again and redraws the table (after every change: the API is the truth); false when the
 * API refused, whose message then takes the table's place.
 */
async function refresh(page) {
  let keys;
  try {
    keys = await api('GET', '/api/api-key');
  } catch (err) {
    replace(page.list, h('p', { class: 'form-error', role: 'alert' }, err.message));
    return false;
  }
  replace(page.list, keyTable(keys, page));
  return true;
}

function keyTable(keys, page) {
  if (!keys.length) return h('p', { class: 'empty' }, 'There are no API keys yet.');
  const labels = ['Name', 'Group', 'Key', 'Updated by', 'Updated'];
  return h('div', { class: 'table-wrap' },
    h('table', {},
      h('caption', { class: 'visually-hidden' }, 'API keys'),
      h('thead', {}, h('tr', {},
        labels.map((text) => h('th', { scope: 'col' }, text)),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
      h('tbody', {}, keys.map((key) => keyRow(key, page, labels)))));
}

function keyRow(key, page, labels) {
  const cells = [
    h('span', { class: 'name' }, key.name),
    key.group ? key.group.name : '—',
    maskedKey(key.masked_key),
    key.updated_by ? key.updated_by.common_name : '—',
    when(key.updated_at),
  ];
  return h('tr', { dataset: { id: String(key.id) } },
    cells.map((cell, i) => h('td', { dataset: { label: labels[i] } }, cell)),
    h('td', { class: 'row-actions' },
      h('button', { type: 'button', class: 'small', 'aria-label': `Edit ${key.name}`, onClick: () => editDialog(page, key) }, 'Edit'),
      h('button', { type: 'button', class: 'small', 'aria-label': `Regenerate ${key.name}`, onClick: () => regenerate(page, key) }, 'Regenerate'),
      h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${key.name}`, onClick: () => remove(page, key) }, 'Delete')));
}

/** The name and group fields of the create and edit forms (named as the API names them, for its errors). */
function keyFields(page, key) {
  const groups = page.groups.length ? page.groups : [{ id: ALL_USERS_ID, name: 'All Users' }];
  return [
    field({ name: 'name', label: 'Key name', value: key ? key.name : '', autocomplete: 'off', required: true, autofocus: true }),
    select({
      name: 'group_id',
      label: 'Group',
      hint: 'The key can do what members of this group can. Administrators makes it an administrator.',
      options: groups.map((g) => [g.id, g.name]),
      value: key && key.group ? key.group.id : ALL_USERS_ID,
    }),
  ];
}

/** Asks for a name and a group, creates the key (POST /api/api-key) and shows it once. */
async function createDialog(page) {
  const created = await openDialog('Create API key', (close) => form({
    label: 'Create API key',
    submit: 'Create',
    children: keyFields(page, null),
    secondary: h('button', { type: 'button', onClick: () => close() }, 'Cancel'),
    async onSubmit(v) {
      close(await api('POST', '/api/api-key', { name: v.name, group_id: Number(v.group_id) }));
    },
  }));
  if (!created) return;
  await page.refresh();
  await showKey(created);
  page.ctx.notify(`Created the API key ${created.name}.`);
  focusRow(page, created.id);
}

/** Renames and/or regroups the key (PUT /api/api-key/:id). */
async function editDialog(page, key) {
  const saved = await openDialog(`Edit ${key.name}`, (close) => form({
    label: `Edit ${key.name}`,
    submit: 'Save',
    children: keyFields(page, key),
    secondary: h('button', { type: 'button', onClick: () => close() }, 'Cancel'),
    async onSubmit(v) {
      close(await api('PUT', `/api/api-key/${key.id}`, { name: v.name, group_id: Number(v.group_id) }));
    },
  }));
  if (!saved) return;
  await page.refresh();
  page.ctx.notify(`Saved the API key ${saved.name}.`);
  focusRow(page, key.id);
}

/** Confirms, then replaces the key with a new one (PUT /api/api-key/:id/regenerate) and shows it once. */
async function regenerate(page, key) {
  const ok = await confirmDialog(`Regenerate ${key.name}?`,
    'A new key replaces this one, which stops working at once: whatever uses it needs the new key.', 'Regenerate');
  if (!ok) return;
  let fresh;
  try {
    fresh = await api('PUT', `/api/api-key/${key.id}/regenerate`);
  } catch (err) {
    page.ctx.notify(err.message);
    return;
  }
  await page.refresh();
  await showKey(fresh);
  page.ctx.notify(`Regenerated the API key ${fresh.name}.`);
  focusRow(page, key.id);
}

/** Confirms, then deletes the key (DELETE /api/api-key/:id); it stops working at once. */
async function remove(page, key) {
  const ok = await confirmDialog(`Delete ${key.name}?`,
    'The key stops working at once. This cannot be undone.', 'Delete');
  if (!ok) return;
  try {
    await api('DELETE', `/api/api-key/${key.id}`);
    page.ctx.notify(`Deleted the API key ${key.name}.`);
  } catch (err) {
    page.ctx.notify(err.message);
  }
  await page.refresh();
  const heading = page.ctx.main.querySelector('h1');
  heading.setAttribute('tabindex', '-1');
  heading.focus();
}

/** The key just made, shown this once with a Copy button. */
function showKey(key) {
  return openDialog(`New API key: ${key.name}`, (close) => h('div', { class: 'new-key' },
    h('p', { class: 'warning', role: 'note' },
      h('strong', {}, 'This is the only time the key is shown. '),
      'Copy it now and keep it somewhere safe: people stores only a fingerprint of it.'),
    copyable('API key', key.unmasked_key),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', onClick: () => close() }, 'Done'))));
}

/** Moves focus to the Edit button of key `id`, if it is still listed. */
function focusRow(page, id) {
  const target = page.list.querySelector(`tr[data-id="${CSS.escape(String(id))}"] button`);
  if (target) target.focus();
}
