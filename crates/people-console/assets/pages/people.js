// The people list (GET /api/user): search, active and deactivated tabs, a group filter and server-side
// paging; inviting, editing, deactivating and reactivating people, and reset or invite links. Filters live
// in the address (?query=&status=&group_id=&page=) so that Back and a shared link show the same list.

import { api, query } from '../api.js';
import { fullName, h, replace, when } from '../dom.js';
import { confirmDialog, copyable, openDialog } from '../dialog.js';
import { checkbox, field, form } from '../forms.js';

const PAGE_SIZE = 50;
const ALL_USERS = 'All Users';
const ADMINISTRATORS = 'Administrators';

/** The filters of the list, read from and written to the address. */
function readFilters(params) {
  const page = Number.parseInt(params.get('page') || '1', 10);
  return {
    query: params.get('query') || '',
    status: params.get('status') === 'deactivated' ? 'deactivated' : 'active',
    group_id: params.get('group_id') || '',
    page: Number.isFinite(page) && page > 0 ? page : 1,
  };
}

function writeFilters(f) {
  const q = query({
    query: f.query,
    status: f.status === 'deactivated' ? 'deactivated' : '',
    group_id: f.group_id,
    page: f.page > 1 ? f.page : '',
  });
  history.replaceState(null, '', `/admin/people${q}`);
}

export default async function people(ctx) {
  ctx.title('People');
  const me = ctx.me;
  const admin = me.is_superuser;
  const emailConfigured = Boolean(ctx.props['email-configured?']);
  const filters = readFilters(ctx.query);
  let groups = [];
  try {
    groups = await api('GET', '/api/permissions/group');
  } catch { /* a caller who may not list groups still sees the people the API shows them */ }
  const groupName = new Map(groups.map((g) => [g.id, g.name]));
  const allUsersId = (groups.find((g) => g.name === ALL_USERS) || { id: 1 }).id;

  const listRegion = h('div', { id: 'people-list', 'aria-live': 'polite' });
  const search = h('input', {
    id: 'people-query', name: 'query', type: 'search', value: filters.query, autocomplete: 'off',
    placeholder: 'Name or email',
  });
  const groupSelect = h('select', { id: 'people-group', name: 'group_id' },
    h('option', { value: '' }, 'All groups'),
    groups.map((g) => h('option', { value: g.id, selected: String(g.id) === filters.group_id }, g.name)));
  const tabs = ['active', 'deactivated'].map((status) => h('button', {
    type: 'button', role: 'tab', id: `tab-${status}`, 'aria-controls': 'people-list',
    'aria-selected': String(filters.status === status), tabindex: filters.status === status ? '0' : '-1',
    onClick: () => { filters.status = status; filters.page = 1; refreshTabs(); load(); },
  }, status === 'active' ? 'Active' : 'Deactivated'));
  function refreshTabs() {
    for (const tab of tabs) {
      const on = tab.id === `tab-${filters.status}`;
      tab.setAttribute('aria-selected', String(on));
      tab.tabIndex = on ? 0 : -1;
    }
    listRegion.setAttribute('aria-labelledby', `tab-${filters.status}`);
  }
  const tablist = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Status' }, tabs);
  tablist.addEventListener('keydown', (event) => {
    if (event.key !== 'ArrowLeft' && event.key !== 'ArrowRight') return;
    const next = tabs[(tabs.findIndex((t) => t.getAttribute('aria-selected') === 'true') + 1) % tabs.length];
    next.focus();
    next.click();
  });

  let timer = null;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => { filters.query = search.value.trim(); filters.page = 1; load(); }, 250);
  });
  groupSelect.addEventListener('change', () => { filters.group_id = groupSelect.value; filters.page = 1; load(); });

  replace(ctx.main,
    h('div', { class: 'head' },
      h('h1', {}, 'People'),
      admin ? h('button', { type: 'button', class: 'primary', onClick: invite }, 'Invite someone') : null),
    h('div', { class: 'toolbar', role: 'search' },
      h('div', { class: 'field grow' }, h('label', { for: 'people-query' }, 'Search people'), search),
      h('div', { class: 'field' }, h('label', { for: 'people-group' }, 'Group'), groupSelect)),
    tablist,
    listRegion);
  refreshTabs();

  let loading = 0;
  async function load() {
    writeFilters(filters);
    const ticket = ++loading;
    listRegion.setAttribute('aria-busy', 'true');
    let page;
    try {
      page = await api('GET', `/api/user${query({
        status: filters.status === 'deactivated' ? 'deactivated' : '',
        query: filters.query,
        group_id: filters.group_id,
        limit: PAGE_SIZE,
        offset: (filters.page - 1) * PAGE_SIZE,
      })}`);
    } catch (err) {
      if (ticket !== loading) return;
      replace(listRegion, h('p', { role: 'alert', class: 'form-error' }, err.message));
      listRegion.removeAttribute('aria-busy');
      return;
    }
    if (ticket !== loading) return;
    performance.mark('people-list:answered');
    renderList(page);
    performance.mark('people-list:rendered');
    performance.measure('people-list:render', 'people-list:answered', 'people-list:rendered');
    listRegion.removeAttribute('aria-busy');
  }

  function renderList(page) {
    const rows = page.data || [];
    if (!rows.length) {
      replace(listRegion, h('p', { class: 'empty' },
        filters.query ? `No one matches “${filters.query}”.` : 'No one here yet.'));
      return;
    }
    const first = (page.offset || 0) + 1;
    const last = (page.offset || 0) + rows.length;
    const total = page.total ?? last;
    const body = h('tbody', {}, rows.map(row));
    replace(listRegion,
      h('div', { class: 'table-wrap' },
        h('table', {},
          h('caption', { class: 'visually-hidden' }, `${filters.status === 'deactivated' ? 'Deactivated' : 'Active'} people`),
          h('thead', {}, h('tr', {},
            h('th', { scope: 'col' }, 'Name'),
            h('th', { scope: 'col' }, 'Groups'),
            h('th', { scope: 'col', class: 'optional' }, filters.status === 'deactivated' ? 'Deactivated' : 'Last sign-in'),
            admin ? h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')) : null)),
          body)),
      h('nav', { class: 'pager', 'aria-label': 'Pages' },
        h('span', {}, `${first.toLocaleString()}–${last.toLocaleString()} of ${total.toLocaleString()}`),
        h('button', { type: 'button', class: 'previous', disabled: filters.page <= 1, onClick: () => { filters.page -= 1; load(); } }, 'Previous'),
        h('button', { type: 'button', class: 'next', disabled: last >= total, onClick: () => { filters.page += 1; load(); } }, 'Next')));
  }

  function row(user) {
    const name = fullName(user);
    const badges = (user.group_ids || [])
      .filter((id) => id !== allUsersId && groupName.has(id))
      .map((id) => h('span', { class: 'badge' }, groupName.get(id)));
    return h('tr', { dataset: { userId: user.id } },
      h('td', {},
        h('span', { class: 'name' }, name),
        user.is_superuser ? h('span', { class: 'badge manager' }, 'Admin') : null,
        ssoBadge(user.sso_source),
        h('span', { class: 'sub' }, user.email)),
      h('td', {}, badges.length ? badges : h('span', { class: 'sub' }, '—')),
      h('td', { class: 'optional' }, filters.status === 'deactivated' ? when(user.updated_at) : (user.last_login ? when(user.last_login) : 'Never')),
      admin ? h('td', { class: 'row-actions' }, actions(user, name)) : null);
  }

  /** Where the person comes from when not from this console: SCIM (an identity provider), LDAP (a directory they
   * sign in with) or another sign-in. */
  function ssoBadge(source) {
    if (!source) return null;
    if (source === 'scim') {
      return h('span', { class: 'badge scim', title: 'Managed by SCIM' },
        h('span', { 'aria-hidden': 'true' }, 'SCIM'),
        h('span', { class: 'visually-hidden' }, 'Managed by SCIM'));
    }
    if (source === 'ldap') {
      return h('span', { class: 'badge ldap', title: 'Signs in through LDAP' },
        h('span', { 'aria-hidden': 'true' }, 'LDAP'),
        h('span', { class: 'visually-hidden' }, 'Signs in through LDAP'));
    }
    return h('span', { class: 'badge' }, source);
  }

  function actions(user, name) {
    if (!user.is_active) {
      return h('button', { type: 'button', class: 'small', 'aria-label': `Reactivate ${name}`, onClick: () => reactivate(user, name) }, 'Reactivate');
    }
    return [
      h('button', { type: 'button', class: 'small', 'aria-label': `Edit ${name}`, onClick: () => edit(user.id) }, 'Edit'),
      h('button', { type: 'button', class: 'small', 'aria-label': `Reset password of ${name}`, onClick: () => resetLink(user, name) }, 'Reset password'),
      !emailConfigured && !user.last_login
        ? h('button', { type: 'button', class: 'small', 'aria-label': `Invite link for ${name}`, onClick: () => inviteLink(user, name) }, 'Invite link')
        : null,
      user.id !== me.id
        ? h('button', { type: 'button', class: 'small danger', 'aria-label': `Deactivate ${name}`, onClick: () => deactivate(user, name) }, 'Deactivate')
        : null,
    ];
  }

  /** The group checkboxes of the invite and edit forms: member of, and manager of, each group. */
  function groupChoices(memberships) {
    const current = new Map(memberships.map((m) => [m.id, m]));
    const choices = groups.filter((g) => g.id !== allUsersId).map((g) => {
      const m = current.get(g.id);
      const member = checkbox({ name: `group-${g.id}`, label: g.name, checked: Boolean(m) });
      const managerBox = g.name === ADMINISTRATORS ? h('span', {}) : checkbox({
        name: `manager-${g.id}`, label: 'Manager', checked: Boolean(m && m.is_group_manager),
        'aria-label': `Manager of ${g.name}`,
      });
      return h('div', { class: 'group-choice' }, member, managerBox);
    });
    return choices.length
      ? h('fieldset', {}, h('legend', {}, 'Groups'), h('div', { class: 'group-list' }, choices))
      : null;
  }

  function membershipsFrom(v) {
    const list = [{ id: allUsersId }];
    for (const g of groups) {
      if (g.id === allUsersId || !v[`group-${g.id}`]) continue;
      const entry = { id: g.id };
      if (g.name !== ADMINISTRATORS) entry.is_group_manager = Boolean(v[`manager-${g.id}`]);
      list.push(entry);
    }
    return list;
  }

  async function invite() {
    const created = await openDialog('Invite someone', (close) => form({
      label: 'Invite someone',
      submit: 'Invite',
      children: [
        h('div', { class: 'pair' },
          field({ name: 'first_name', label: 'First name', autocomplete: 'off', autofocus: true }),
          field({ name: 'last_name', label: 'Last name', autocomplete: 'off' })),
        field({ name: 'email', label: 'Email address', type: 'email', autocomplete: 'off', required: true }),
        groupChoices([]),
      ],
      secondary: h('button', { type: 'button', onClick: () => close() }, 'Cancel'),
      async onSubmit(v) {
        const user = await api('POST', '/api/user', {
          first_name: v.first_name || null,
          last_name: v.last_name || null,
          email: v.email,
          user_group_memberships: membershipsFrom(v),
        });
        close(user);
      },
    }));
    if (!created) return;
    await load();
    if (emailConfigured) {
      ctx.notify(`${fullName(created)} was invited; the invite is on its way to ${created.email}.`);
    } else {
      await inviteLink(created, fullName(created), true);
    }
  }

  async function edit(id) {
    let user;
    try {
      user = await api('GET', `/api/user/${id}`);
    } catch (err) {
      ctx.notify(err.message);
      return;
    }
    const saved = await openDialog(`Edit ${fullName(user)}`, (close) => form({
      label: `Edit ${fullName(user)}`,
      submit: 'Save',
      children: [
        h('div', { class: 'pair' },
          field({ name: 'first_name', label: 'First name', value: user.first_name || '', autocomplete: 'off', autofocus: true }),
          field({ name: 'last_name', label: 'Last name', value: user.last_name || '', autocomplete: 'off' })),
        field({ name: 'email', label: 'Email address', type: 'email', value: user.email, autocomplete: 'off', required: true }),
        groupChoices(user.user_group_memberships || []),
      ],
      secondary: h('button', { type: 'button', onClick: () => close() }, 'Cancel'),
      async onSubmit(v) {
        const body = {
          first_name: v.first_name || null,
          last_name: v.last_name || null,
          user_group_memberships: membershipsFrom(v),
        };
        if (v.email !== user.email) body.email = v.email;
        close(await api('PUT', `/api/user/${id}`, body));
      },
    }));
    if (!saved) return;
    await load();
    ctx.notify(`${fullName(saved)} was saved.`);
  }

  async function deactivate(user, name) {
    const ok = await confirmDialog(`Deactivate ${name}?`,
      `${name} will not be able to sign in, and their sessions end now. You can reactivate them later.`, 'Deactivate');
    if (!ok) return;
    try {
      await api('DELETE', `/api/user/${user.id}`);
      ctx.notify(`${name} was deactivated.`);
    } catch (err) {
      ctx.notify(err.message);
    }
    await load();
  }

  async function reactivate(user, name) {
    try {
      await api('PUT', `/api/user/${user.id}/reactivate`);
      ctx.notify(`${name} was reactivated.`);
    } catch (err) {
      ctx.notify(err.message);
    }
    await load();
  }

  async function resetLink(user, name) {
    if (emailConfigured) {
      const ok = await confirmDialog(`Reset the password of ${name}?`,
        `An email with a link to choose a new password will be sent to ${user.email}.`, 'Send reset email', { danger: false });
      if (!ok) return;
      try {
        await api('POST', '/api/session/forgot_password', { email: user.email });
        ctx.notify(`A reset link is on its way to ${user.email}.`);
      } catch (err) {
        ctx.notify(err.message);
      }
      return;
    }
    await showLink(user, name, false);
  }

  function inviteLink(user, name, justInvited = false) {
    return showLink(user, name, true, justInvited);
  }

  /** Email is not configured: a fresh link for the administrator to hand over (it replaces older ones). */
  async function showLink(user, name, invitation, justInvited = false) {
    let url;
    try {
      url = (await api('POST', `/api/user/${user.id}/invite_link`, {})).invite_url;
    } catch (err) {
      ctx.notify(err.message);
      return;
    }
    if (!invitation) url = url.replace(/#new$/, '');
    await openDialog(invitation ? `Invite link for ${name}` : `Reset link for ${name}`, (close) => h('div', {},
      h('p', {}, justInvited ? `${name} was added. ` : '',
        'Email is not configured, so send this link to ', h('strong', {}, user.email),
        ' yourself. It works once; making a new one replaces it.'),
      copyable(invitation ? 'Invite link' : 'Reset link', url),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', onClick: () => close() }, 'Done'))));
  }

  await load();
}
