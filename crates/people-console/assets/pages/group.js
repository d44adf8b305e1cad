// One group's page (/admin/people/groups/:id): its members (GET /api/permissions/group/:id), each with a
// group-manager switch (PUT /api/permissions/membership/:id) and a Remove button (DELETE …/membership/:id),
// and a search for people to add (GET /api/user?query=…, then POST /api/permissions/membership). The API
// decides who may do what; its refusals are shown next to the action that caused them.

import { api, query } from '../api.js';
import { fullName, h, replace, uid } from '../dom.js';
import { checkbox, field, form } from '../forms.js';

// Everyone belongs to All Users (people-domain's ALL_USERS_ID) and the API always refuses to add or remove its
// members ("You cannot add or remove users to/from the 'All Users' group."), so for that group the page leaves
// out the Add search and the Remove buttons. Not a permission decision: the API would refuse every time.
const ALL_USERS_ID = 1;

const SEARCH_DELAY_MS = 250;

export default async function group(ctx) {
  ctx.title('Group');
  const page = {
    ctx,
    id: ctx.params.id,
    group: null,
    members: h('div', { class: 'group-members' }),
    results: h('div', { class: 'search-results' }),
    addError: h('p', { class: 'form-error add-error', role: 'alert', hidden: true }),
    search: null,
    lastQuery: null,
  };
  const loaded = await load(page);
  if (!loaded.ok) {
    replace(ctx.main,
      heading(loaded.status === 404 ? 'Group not found' : 'Group'),
      h('p', { class: 'form-error', role: 'alert' }, loaded.message));
    return;
  }
  render(page);
}

/** Fetches the group with its members; on a refusal, says why instead. */
async function load(page) {
  try {
    page.group = await api('GET', `/api/permissions/group/${encodeURIComponent(page.id)}`);
    return { ok: true };
  } catch (err) {
    return { ok: false, status: err.status, message: err.message };
  }
}

/** The page's h1 with the way back to the list beside it. */
function heading(text) {
  return h('div', { class: 'head' }, h('h1', {}, text), h('a', { href: '/admin/people/groups' }, 'All groups'));
}

function render(page) {
  const { ctx, group } = page;
  ctx.title(group.name);
  replace(ctx.main,
    heading(group.name),
    group.id === ALL_USERS_ID
      ? h('p', { class: 'hint' }, 'Everyone with an account is a member of All Users; members cannot be added or removed here.')
      : addSection(page),
    h('section', { 'aria-labelledby': 'members-heading' },
      h('h2', { id: 'members-heading' }, 'Members'),
      page.members));
  drawMembers(page);
}

/** Re-fetches the group and redraws its members (after every change: the API is the truth). */
async function refresh(page) {
  const loaded = await load(page);
  if (!loaded.ok) {
    replace(page.members, h('p', { class: 'form-error', role: 'alert' }, loaded.message));
    return;
  }
  drawMembers(page);
}

function drawMembers(page) {
  const members = page.group.members || [];
  if (!members.length) {
    replace(page.members, h('p', { class: 'empty' }, 'This group has no members yet.'));
    return;
  }
  replace(page.members, h('div', { class: 'table-wrap' },
    h('table', {},
      h('caption', { class: 'visually-hidden' }, `Members of ${page.group.name}`),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Name'),
        h('th', { scope: 'col' }, 'Group manager'),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
      h('tbody', {}, members.map((m) => memberRow(page, m))))));
}

function memberRow(page, member) {
  const name = fullName(member);
  const error = h('p', { class: 'field-error', role: 'alert', hidden: true });
  const toggle = managerSwitch(page, member, name, error);
  return h('tr', { dataset: { id: String(member.membership_id), userId: String(member.user_id) } },
    h('td', {}, name, h('span', { class: 'sub' }, member.email)),
    h('td', {}, toggle, error),
    h('td', { class: 'row-actions' }, page.group.id === ALL_USERS_ID ? null
      : h('button', { type: 'button', class: 'small danger', 'aria-label': `Remove ${name}`, onClick: (e) => remove(page, member, name, e.currentTarget, error) }, 'Remove')));
}

/** The labelled checkbox that makes a member a group manager or not. */
function managerSwitch(page, member, name, error) {
  const box = checkbox({ name: 'is_group_manager', label: 'Manager', checked: Boolean(member.is_group_manager) });
  box.classList.add('manager-switch');
  // The visible label says "Manager"; screen readers also hear whose.
  box.querySelector('label').append(h('span', { class: 'visually-hidden' }, `, ${name}`));
  const input = box.querySelector('input');
  input.setAttribute('aria-describedby', error.id = uid('manager-error'));
  input.addEventListener('change', () => setManager(page, member, name, input, error));
  return box;
}

async function setManager(page, member, name, input, error) {
  const want = input.checked;
  hideError(error);
  input.disabled = true;
  try {
    await api('PUT', `/api/permissions/membership/${member.membership_id}`, { is_group_manager: want });
  } catch (err) {
    input.checked = !want;
    input.disabled = false;
    showError(error, err.message);
    input.focus();
    return;
  }
  page.ctx.notify(want ? `${name} is now a manager of ${page.group.name}.` : `${name} is no longer a manager of ${page.group.name}.`);
  await refresh(page);
  focusMember(page, member.membership_id, 'input[name="is_group_manager"]');
}

async function remove(page, member, name, button, error) {
  hideError(error);
  button.disabled = true;
  try {
    await api('DELETE', `/api/permissions/membership/${member.membership_id}`);
  } catch (err) {
    button.disabled = false;
    showError(error, err.message);
    button.focus();
    return;
  }
  page.ctx.notify(`Removed ${name} from ${page.group.name}.`);
  await refresh(page);
  await rerunSearch(page);
  const heading = page.ctx.main.querySelector('#members-heading');
  heading.setAttribute('tabindex', '-1');
  heading.focus();
}

/** The search for people to add, its results and the add errors. */
function addSection(page) {
  let timer = null;
  const searchForm = form({
    label: 'Find people to add',
    submit: 'Search',
    children: [
      field({ name: 'query', type: 'search', label: 'Name or email', autocomplete: 'off', hint: 'Type part of a name or an email address.' }),
      checkbox({ name: 'is_group_manager', label: 'Add as group manager' }),
    ],
    async onSubmit(v) {
      clearTimeout(timer);
      await search(page, v.query);
    },
  });
  searchForm.classList.add('member-search');
  const input = searchForm.querySelector('input[name="query"]');
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => search(page, input.value).catch((err) => showResultsError(page, err)), SEARCH_DELAY_MS);
  });
  page.search = searchForm;
  return h('section', { 'aria-labelledby': 'add-heading' },
    h('h2', { id: 'add-heading' }, 'Add a member'),
    searchForm,
    page.addError,
    page.results);
}

/** Lists up to ten people matching `text` (GET /api/user?query=…&limit=10). */
async function search(page, text) {
  const q = text.trim();
  page.lastQuery = q;
  hideError(page.addError);
  if (!q) { replace(page.results); return; }
  const found = await api('GET', `/api/user${query({ query: q, limit: 10 })}`);
  if (page.lastQuery !== q) return; // a newer search is under way
  drawResults(page, found.data || [], found.total);
}

async function rerunSearch(page) {
  if (!page.lastQuery) return;
  try { await search(page, page.lastQuery); } catch (err) { showResultsError(page, err); }
}

function showResultsError(page, err) {
  replace(page.results, h('p', { class: 'form-error', role: 'alert' }, err.message));
}

function drawResults(page, users, total) {
  if (!users.length) {
    replace(page.results, h('p', { class: 'empty', role: 'status' }, 'No one matches.'));
    return;
  }
  const memberIds = new Set((page.group.members || []).map((m) => m.user_id));
  const more = typeof total === 'number' && total > users.length
    ? h('p', { class: 'hint' }, `Showing ${users.length} of ${total}; type more to narrow it down.`) : null;
  replace(page.results,
    h('ul', { class: 'result-list', 'aria-label': 'People found' }, users.map((user) => {
      const name = fullName(user);
      return h('li', { dataset: { userId: String(user.id) } },
        h('span', { class: 'who-found' }, name, h('span', { class: 'sub' }, user.email)),
        memberIds.has(user.id)
          ? h('span', { class: 'badge' }, 'Member')
          : h('button', { type: 'button', class: 'small', 'aria-label': `Add ${name}`, onClick: (e) => add(page, user, name, e.currentTarget) }, 'Add'));
    })),
    more);
}

/** Adds `user` to the group (POST /api/permissions/membership), as a manager if that box is ticked. */
async function add(page, user, name, button) {
  hideError(page.addError);
  const asManager = page.search.querySelector('input[name="is_group_manager"]').checked;
  button.disabled = true;
  try {
    await api('POST', '/api/permissions/membership', { group_id: page.group.id, user_id: user.id, is_group_manager: asManager });
  } catch (err) {
    button.disabled = false;
    showError(page.addError, `${name}: ${err.message}`);
    button.focus();
    return;
  }
  page.ctx.notify(`Added ${name} to ${page.group.name}${asManager ? ' as a manager' : ''}.`);
  await refresh(page);
  await rerunSearch(page);
  page.search.querySelector('input[name="query"]').focus();
}

function focusMember(page, membershipId, selector) {
  const target = page.members.querySelector(`tr[data-id="${CSS.escape(String(membershipId))}"] ${selector}`);
  if (target) target.focus();
}

function showError(el, message) {
  el.textContent = message;
  el.hidden = false;
}

function hideError(el) {
  el.hidden = true;
  el.textContent = '';
}
