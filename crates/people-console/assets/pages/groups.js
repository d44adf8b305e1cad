// The groups page (/admin/people/groups): every group the API lists for the caller (GET /api/permissions/group)
// with its member count and a link to its members; create, rename and delete a group. The API decides who may
// do what: a group manager gets only their own groups, and a refusal is shown as the API's message.

import { api } from '../api.js';
import { openDialog } from '../dialog.js';
import { h, replace } from '../dom.js';
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
  const listed = await refresh(page);
  // When the API refuses the list itself, its message is the whole page.
  replace(ctx.main, h('h1', {}, 'Groups'), listed ? createForm(page) : null, list);
}

/**
 * Fetches the groups again and redraws the table (after every change: the API is the truth); false when
 * the API refused, whose message then takes the table's place.
 */
async function refresh(page) {
  let groupsList;
  try {
    groupsList = await api('GET', '/api/permissions/group');
  } catch (err) {
    replace(page.list, h('p', { class: 'form-error', role: 'alert' }, err.message));
    return false;
  }
  replace(page.list, groupTable(groupsList, page));
  return true;
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
  openDialog(`Rename ${group.name}`, (close) => form({
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
  }));
}

/** Confirms, then deletes the group and its memberships (DELETE /api/permissions/group/:id). */
function deleteDialog(page, group) {
  let confirm;
  openDialog(`Delete ${group.name}?`, (close) => {
    confirm = form({
      label: `Delete ${group.name}`,
      submit: 'Delete group',
      children: [h('p', {}, `${membersLine(group.member_count)} This cannot be undone.`)],
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
    });
    confirm.querySelector('button[type="submit"]').className = 'primary danger-fill';
    return confirm;
  });
  // The safe choice first: Enter or Space on the focused button cancels.
  confirm.querySelector('button[data-cancel]').focus();
}

/** What deleting does to a group's members, by their count (when the API gave it). */
function membersLine(count) {
  if (count === 0) return 'It has no members.';
  if (count === 1) return 'Its 1 member will leave the group; their account is not changed.';
  if (typeof count === 'number') return `Its ${count} members will leave the group; their accounts are not changed.`;
  return 'Its members will leave the group; their accounts are not changed.';
}

/** Moves focus to the first `selector` in the row of group `id`, if it is still listed. */
function focusRow(page, id, selector) {
  const target = page.list.querySelector(`tr[data-id="${CSS.escape(String(id))}"] ${selector}`);
  if (target) target.focus();
}
