// The groups page (/admin/people/groups): every group the API lists for the caller (GET /api/permissions/group)
// with its member count and a link to its members; create, rename and delete a group. The API decides who may
// do what: a group manager gets only their own groups, and a refusal is shown as the API's message.

import { api } from '../api.js';
import { h, replace, uid } from '../dom.js';
import { field, form } from '../forms.js';

// The two groups every instance has (people-domain's ALL_USERS_ID and ADMINISTRATORS_ID). The API always
// refuses to rename or delete them ("You cannot edit or delete the 'All Users' permissions group!"), so their
// Rename and Delete buttons are left out: a button that can only ever fail is noise. This is not a permission
// decision of the console's: everything else is offered and the API answers.
const MAGIC_GROUP_IDS = new Set([1, 2]);

export default async function groups(ctx) {
  ctx.title('Groups');
  const list = h('div', { class: 'groups-list' });
  const page = { ctx, list, refresh: () => refresh(page) };
  replace(ctx.main,
    h('h1', {}, 'Groups'),
    createForm(page),
    list);
  await refresh(page);
}

/** Fetches the groups again and redraws the table: after every change, the API is the truth. */
async function refresh(page) {
  let groupsList;
  try {
    groupsList = await api('GET', '/api/permissions/group');
  } catch (err) {
    replace(page.list, h('p', { class: 'form-error', role: 'alert' }, err.message));
    return;
  }
  replace(page.list, groupTable(groupsList, page));
}

/** The inline form that creates a group (POST /api/permissions/group). */
function createForm(page) {
  const el = form({
    label: 'Create a group',
    submit: 'Create group',
    children: [field({ name: 'name', label: 'New group name', autocomplete: 'off' })],
    async onSubmit(v, formEl) {
      const created = await api('POST', '/api/permissions/group', { name: v.name });
      formEl.reset();
      page.ctx.notify(`Created the group ${created.name}.`);
      await page.refresh();
      focusRow(page, created.id, 'a');
    },
  });
  el.classList.add('inline-form');
  return h('section', { 'aria-label': 'Create a group', class: 'create-group' }, el);
}

function groupTable(groupsList, page) {
  if (!groupsList.length) return h('p', { class: 'empty' }, 'There are no groups to show.');
  return h('div', { class: 'table-wrap' },
    h('table', {},
      h('caption', { class: 'visually-hidden' }, 'Groups'),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Name'),
        h('th', { scope: 'col', class: 'numeric' }, 'Members'),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
      h('tbody', {}, groupsList.map((group) => groupRow(group, page)))));
}

function groupRow(group, page) {
  const magic = MAGIC_GROUP_IDS.has(group.id);
  const count = group.member_count;
  return h('tr', { dataset: { id: String(group.id) } },
    h('td', {}, h('a', { href: `/admin/people/groups/${group.id}` }, group.name)),
    h('td', { class: 'numeric' }, count === undefined || count === null ? '—' : String(count)),
    h('td', { class: 'row-actions' }, magic ? null : [
      h('button', { type: 'button', class: 'small', 'aria-label': `Rename ${group.name}`, onClick: () => renameDialog(page, group) }, 'Rename'),
      h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${group.name}`, onClick: () => deleteDialog(page, group) }, 'Delete'),
    ]));
}

/** Asks for a new name in a dialog and sends it (PUT /api/permissions/group/:id). */
function renameDialog(page, group) {
  openDialog(page.ctx, {
    heading: `Rename ${group.name}`,
    content: (close) => form({
      label: `Rename ${group.name}`,
      submit: 'Rename group',
      children: [field({ name: 'name', label: 'Group name', value: group.name, autocomplete: 'off', required: true })],
      secondary: h('button', { type: 'button', onClick: close }, 'Cancel'),
      async onSubmit(v) {
        const renamed = await api('PUT', `/api/permissions/group/${group.id}`, { name: v.name });
        close();
        page.ctx.notify(`Renamed ${group.name} to ${renamed.name}.`);
        await page.refresh();
        focusRow(page, group.id, 'button');
      },
    }),
  });
}

/** Confirms, then deletes the group and its memberships (DELETE /api/permissions/group/:id). */
function deleteDialog(page, group) {
  const count = group.member_count;
  const members = count === 1 ? '1 member' : `${count} members`;
  openDialog(page.ctx, {
    heading: `Delete ${group.name}?`,
    focus: 'button[data-cancel]',
    content: (close) => form({
      label: `Delete ${group.name}`,
      submit: 'Delete group',
      children: [h('p', {}, typeof count === 'number'
        ? `Its ${members} will leave the group; their accounts are not changed. This cannot be undone.`
        : 'Its members will leave the group; their accounts are not changed. This cannot be undone.')],
      secondary: h('button', { type: 'button', 'data-cancel': true, onClick: close }, 'Cancel'),
      async onSubmit() {
        await api('DELETE', `/api/permissions/group/${group.id}`);
        close();
        page.ctx.notify(`Deleted the group ${group.name}.`);
        await page.refresh();
        const heading = page.ctx.main.querySelector('h1');
        heading.setAttribute('tabindex', '-1');
        heading.focus();
      },
    }),
    danger: true,
  });
}

/** Moves focus to the first `selector` in the row of group `id`, if it is still listed. */
function focusRow(page, id, selector) {
  const target = page.list.querySelector(`tr[data-id="${CSS.escape(String(id))}"] ${selector}`);
  if (target) target.focus();
}

/**
 * A modal dialog titled `heading` holding `content(close)`; Escape or Cancel closes it, and focus goes to
 * `focus` (default: the first field) and back to the opener afterwards.
 */
function openDialog(ctx, { heading, content, focus = 'input, select, textarea', danger = false }) {
  const headingId = uid('dialog-title');
  const opener = document.activeElement;
  const dialog = h('dialog', { 'aria-labelledby': headingId });
  const close = () => dialog.close();
  replace(dialog, h('h2', { id: headingId }, heading), content(close));
  if (danger) dialog.querySelector('button[type="submit"]').className = 'danger';
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (opener && opener.isConnected) opener.focus();
  });
  ctx.main.append(dialog);
  dialog.showModal();
  const first = dialog.querySelector(focus);
  if (first) first.focus();
}
