// LDAP sign-in (/admin/settings/authentication/ldap): the ldap-* settings GET /api/setting lists, as one form laid
// out like Metabase's: the on/off switch and user provisioning, the server, the user schema, the group schema with
// the mappings from directory groups to people groups, and the timeout. "Save changes" sends the whole form to
// PUT /api/ldap/settings, which checks the values and tests the connection with them before storing any: its
// field errors ("Wrong host or port") are shown by their fields, anything else above the button. A setting given
// by its environment variable is shown read-only, naming the variable, and is never sent.

import { ApiError, api } from '../api.js';
import { h, replace, uid } from '../dom.js';
import { form } from '../forms.js';
import { subnav } from './settings.js';

// All Users (people-domain's ALL_USERS_ID): group sync never adds or removes that membership, so a mapping to it
// would do nothing and it is not offered. Administrators is an ordinary group to sync and is offered.
const ALL_USERS_ID = 1;

/** Labels, Metabase's wording where it has one. */
const LABELS = {
  'ldap-enabled': 'LDAP authentication',
  'ldap-user-provisioning-enabled?': 'User provisioning',
  'ldap-host': 'LDAP host',
  'ldap-port': 'LDAP port',
  'ldap-security': 'LDAP security',
  'ldap-bind-dn': 'Username or DN',
  'ldap-password': 'Password',
  'ldap-user-base': 'User search base',
  'ldap-user-filter': 'User filter',
  'ldap-attribute-email': 'Email attribute',
  'ldap-attribute-firstname': 'First name attribute',
  'ldap-attribute-lastname': 'Last name attribute',
  'ldap-sync-user-attributes': 'Synchronize user attributes',
  'ldap-sync-user-attributes-blacklist': 'Attributes never synchronized',
  'ldap-group-sync': 'Synchronize group memberships',
  'ldap-group-base': 'Group search base',
  'ldap-group-membership-filter': 'Group membership filter',
  'ldap-group-mappings': 'Group mappings',
  'ldap-timeout-seconds': 'Timeout (seconds)',
};

/** What each field is for, read out with it. */
const HINTS = {
  'ldap-enabled': 'People sign in with their directory username or email address and password. '
    + 'Someone the directory does not know keeps signing in with the password stored here.',
  'ldap-user-provisioning-enabled?': 'Creates the account of someone the directory knows on their first sign-in. '
    + 'Off: only people who already have an account here can sign in through LDAP.',
  'ldap-host': 'The directory server’s host name or IP address, without ldap:// or ldaps://.',
  'ldap-port': 'Usually 389 (none or StartTLS) or 636 (SSL).',
  'ldap-bind-dn': 'The account people looks people up with, such as cn=admin,dc=example,dc=com. Empty: an anonymous bind.',
  'ldap-password': 'That account’s password. The stored one is shown masked: leave it as it is to keep it.',
  'ldap-user-base': 'Where to search for people, such as ou=People,dc=example,dc=com (the whole subtree).',
  'ldap-user-filter': 'Finds the person signing in; {login} stands for what they typed.',
  'ldap-attribute-email': 'The attribute with the person’s email address.',
  'ldap-attribute-firstname': 'The attribute with the person’s first name.',
  'ldap-attribute-lastname': 'The attribute with the person’s last name.',
  'ldap-sync-user-attributes': 'Copies the person’s directory attributes to their login attributes on every sign-in.',
  'ldap-sync-user-attributes-blacklist': 'Attributes never copied, separated by commas.',
  'ldap-group-sync': 'On every sign-in, adds and removes the person’s memberships of the mapped groups to match '
    + 'the directory groups they are in. Groups no mapping names are left alone.',
  'ldap-group-base': 'Where to look for the groups a person is a member of. Not needed when the directory gives '
    + 'memberOf.',
  'ldap-group-membership-filter': 'Finds a person’s groups under the group search base; {dn} stands for their DN '
    + 'and {uid} for their uid.',
  'ldap-timeout-seconds': 'The longest one call to the directory may take. When it takes longer, people signs the '
    + 'person in with the password stored here, if any.',
};

const SWITCHES = new Set(['ldap-enabled', 'ldap-user-provisioning-enabled?', 'ldap-group-sync', 'ldap-sync-user-attributes']);
const SECURITY = [['none', 'None'], ['ssl', 'SSL'], ['starttls', 'StartTLS']];
const MAPPINGS = 'ldap-group-mappings';

export default async function ldap(ctx) {
  ctx.title('LDAP');
  const body = h('div', { class: 'ldap-page' });
  replace(ctx.main,
    h('h1', {}, 'LDAP'),
    subnav('ldap'),
    h('p', { class: 'hint intro' },
      'Lets people sign in with their account in a directory such as OpenLDAP or Active Directory. ',
      '“Save changes” first connects to the directory with the new settings and reads the search bases: ',
      'nothing is saved unless that works.'),
    body);
  let all;
  let groups;
  try {
    [all, groups] = await Promise.all([api('GET', '/api/setting'), api('GET', '/api/permissions/group')]);
  } catch (err) {
    replace(body, h('p', { class: 'form-error', role: 'alert' }, err.message));
    return;
  }
  const byKey = new Map(all.filter((s) => s.key in LABELS).map((s) => [s.key, s]));
  if (!byKey.has('ldap-host')) {
    replace(body, h('p', { class: 'empty' }, 'This server has no LDAP settings.'));
    return;
  }
  const page = { ctx, byKey, groups: groups.filter((g) => g.id !== ALL_USERS_ID), mappings: [] };
  replace(body, ldapForm(page));
}

/** The environment variable that fixes `setting`, or null when it may be changed here. */
function lockedBy(setting) {
  return setting && setting.is_env_setting && setting.env_name ? setting.env_name : null;
}

/** The value that applies: the stored one, else the default (the environment's or the built-in one). */
function effective(setting) {
  return setting.value === null || setting.value === undefined ? setting.default : setting.value;
}

function hasValue(v) {
  return v !== null && v !== undefined && v !== '';
}

/** A field's description: what it is for, the default an empty field falls back to, and a fixing variable. */
function hintOf(setting, { showDefault = true } = {}) {
  const env = lockedBy(setting);
  return [
    HINTS[setting.key] || setting.description,
    !env && showDefault && hasValue(setting.default) && typeof setting.default !== 'boolean'
      ? [' Empty: ', h('code', {}, String(setting.default)), '.'] : null,
    env ? [' Set by the environment variable ', h('code', {}, env), ': it cannot be changed here.'] : null,
  ];
}

function ldapForm(page) {
  const el = form({
    label: 'LDAP settings',
    submit: 'Save changes',
    children: [
      h('section', { class: 'panel', 'aria-labelledby': 'ldap-status-heading' },
        h('h2', { id: 'ldap-status-heading' }, 'Sign-in'),
        switchField(page, 'ldap-enabled'),
        switchField(page, 'ldap-user-provisioning-enabled?')),
      h('section', { class: 'panel', 'aria-labelledby': 'ldap-server-heading' },
        h('h2', { id: 'ldap-server-heading' }, 'Server'),
        textField(page, 'ldap-host', { placeholder: 'ldap.example.com' }),
        textField(page, 'ldap-port', { type: 'number', min: '1', max: '65535', step: '1', inputmode: 'numeric' }),
        securityField(page),
        textField(page, 'ldap-bind-dn'),
        textField(page, 'ldap-password', { type: 'password', autocomplete: 'new-password' })),
      h('section', { class: 'panel', 'aria-labelledby': 'ldap-users-heading' },
        h('h2', { id: 'ldap-users-heading' }, 'User schema'),
        textField(page, 'ldap-user-base'),
        textField(page, 'ldap-user-filter'),
        textField(page, 'ldap-attribute-email'),
        textField(page, 'ldap-attribute-firstname'),
        textField(page, 'ldap-attribute-lastname'),
        switchField(page, 'ldap-sync-user-attributes'),
        textField(page, 'ldap-sync-user-attributes-blacklist')),
      h('section', { class: 'panel', 'aria-labelledby': 'ldap-groups-heading' },
        h('h2', { id: 'ldap-groups-heading' }, 'Group schema'),
        switchField(page, 'ldap-group-sync'),
        mappingEditor(page),
        textField(page, 'ldap-group-base'),
        textField(page, 'ldap-group-membership-filter')),
      h('section', { class: 'panel', 'aria-labelledby': 'ldap-timeout-heading' },
        h('h2', { id: 'ldap-timeout-heading' }, 'Timeout'),
        textField(page, 'ldap-timeout-seconds', { type: 'number', min: '0', step: 'any', inputmode: 'decimal' })),
    ],
    onSubmit: (_values, formEl) => save(page, formEl),
  });
  return el;
}

/** An on/off switch (a checkbox with the switch role) and its On/Off state. */
function switchField(page, key) {
  const setting = page.byKey.get(key);
  if (!setting) return null;
  const id = uid(key);
  const hintId = `${id}-hint`;
  const state = h('span', { class: 'switch-state', 'aria-hidden': 'true' });
  const input = h('input', {
    id, name: key, type: 'checkbox', role: 'switch', checked: effective(setting) === true,
    disabled: Boolean(lockedBy(setting)), 'aria-describedby': hintId,
    onChange: () => { state.textContent = input.checked ? 'On' : 'Off'; },
  });
  state.textContent = input.checked ? 'On' : 'Off';
  return h('div', { class: 'field check switch' },
    input, h('label', { for: id }, LABELS[key]), state,
    h('p', { class: 'hint', id: hintId }, hintOf(setting)));
}

/** A labelled text, number or password input; empty means the default. */
function textField(page, key, attrs = {}) {
  const setting = page.byKey.get(key);
  if (!setting) return null;
  const id = uid(key);
  const hintId = `${id}-hint`;
  const env = lockedBy(setting);
  const shown = env ? effective(setting) : setting.value;
  const input = h('input', {
    id, name: key, type: 'text', value: hasValue(shown) ? String(shown) : '',
    autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none', disabled: Boolean(env),
    'aria-describedby': hintId, ...attrs,
  });
  return h('div', { class: 'field' },
    h('label', { for: id }, LABELS[key]),
    h('p', { class: 'hint', id: hintId }, hintOf(setting, { showDefault: key !== 'ldap-password' })),
    input);
}

/** None, SSL or StartTLS, as radio buttons. */
function securityField(page) {
  const setting = page.byKey.get('ldap-security');
  if (!setting) return null;
  const id = uid('ldap-security');
  const env = lockedBy(setting);
  const current = effective(setting) || 'none';
  return h('div', { class: 'field' },
    h('fieldset', { class: 'radios', 'aria-describedby': env ? `${id}-hint` : null },
      h('legend', {}, LABELS['ldap-security']),
      SECURITY.map(([value, text]) => h('span', { class: 'radio' },
        h('input', { id: `${id}-${value}`, name: 'ldap-security', type: 'radio', value, checked: value === current, disabled: Boolean(env) }),
        h('label', { for: `${id}-${value}` }, text)))),
    env ? h('p', { class: 'hint', id: `${id}-hint` }, hintOf(setting)) : null);
}

/**
 * The group mappings: each a directory group's DN and the people groups its members get, with buttons to add
 * and remove mappings and their groups. The list is drawn again after each change; what is typed lives in
 * `page.mappings`.
 */
function mappingEditor(page) {
  const setting = page.byKey.get(MAPPINGS);
  if (!setting) return null;
  page.mappingsLocked = lockedBy(setting);
  const current = effective(setting);
  page.mappings = Object.entries(current && typeof current === 'object' ? current : {})
    .map(([dn, ids]) => ({ id: uid('mapping'), dn, ids: Array.isArray(ids) ? [...ids] : [] }));
  page.mappingList = h('ol', { class: 'mapping-list', 'aria-labelledby': 'ldap-mappings-heading' });
  drawMappings(page);
  const add = () => {
    const m = { id: uid('mapping'), dn: '', ids: [] };
    page.mappings.push(m);
    drawMappings(page);
    const input = page.mappingList.querySelector(`[data-mapping="${m.id}"] input.mapping-dn`);
    if (input) input.focus();
  };
  page.addMapping = h('button', { type: 'button', class: 'add-mapping', onClick: add }, 'Add a mapping');
  return h('div', { class: 'mappings' },
    h('h3', { id: 'ldap-mappings-heading' }, LABELS[MAPPINGS]),
    h('p', { class: 'hint' },
      'Members of a directory group get the people groups mapped from it when group sync is on. ',
      'All Users is never changed, so it is not offered.',
      page.mappingsLocked ? [' Set by the environment variable ', h('code', {}, page.mappingsLocked), ': they cannot be changed here.'] : null),
    page.mappingList,
    page.mappingsLocked ? null : h('div', { class: 'actions' }, page.addMapping));
}

function groupName(page, id) {
  const group = page.groups.find((g) => g.id === id);
  return group ? group.name : `Group ${id}`;
}

function drawMappings(page) {
  if (!page.mappings.length) {
    replace(page.mappingList, h('li', { class: 'hint empty-mappings' }, 'There are no mappings.'));
    return;
  }
  replace(page.mappingList, page.mappings.map((m, i) => mappingItem(page, m, i)));
}

function mappingItem(page, m, index) {
  const locked = Boolean(page.mappingsLocked);
  const n = index + 1;
  const dnId = `${m.id}-dn`;
  const groupsId = `${m.id}-groups`;
  const redraw = (focus) => {
    drawMappings(page);
    if (!focus) return;
    const item = page.mappingList.querySelector(`[data-mapping="${m.id}"]`);
    const target = item && (item.querySelector(focus) || item.querySelector('input.mapping-dn'));
    if (target) target.focus();
  };
  const dn = h('input', {
    id: dnId, name: `mapping-dn-${index}`, type: 'text', class: 'mapping-dn', value: m.dn,
    autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none', disabled: locked,
    placeholder: 'cn=Accounting,ou=Groups,dc=example,dc=com',
    onInput: () => { m.dn = dn.value; },
  });
  const chosen = m.ids.map((gid) => {
    const name = groupName(page, gid);
    return h('li', {},
      h('span', {}, name),
      locked ? null : h('button', {
        type: 'button', class: 'small', 'aria-label': `Remove ${name} from mapping ${n}`,
        onClick: () => { m.ids = m.ids.filter((x) => x !== gid); redraw('select.mapping-add'); },
      }, 'Remove'));
  });
  const available = page.groups.filter((g) => !m.ids.includes(g.id));
  let adder = null;
  if (!locked && available.length) {
    const selectId = `${m.id}-add`;
    const picker = h('select', { id: selectId, class: 'mapping-add' },
      h('option', { value: '' }, 'Choose a group'),
      available.map((g) => h('option', { value: String(g.id) }, g.name)));
    const addGroup = () => {
      if (!picker.value) { picker.focus(); return; }
      m.ids.push(Number(picker.value));
      redraw('select.mapping-add');
    };
    adder = h('div', { class: 'field add-group' },
      h('label', { for: selectId }, 'Add a group'),
      h('div', { class: 'actions' }, picker,
        h('button', { type: 'button', class: 'small', 'aria-label': `Add the chosen group to mapping ${n}`, onClick: addGroup }, 'Add')));
  }
  return h('li', { class: 'mapping', dataset: { mapping: m.id } },
    h('fieldset', {},
      h('legend', {}, `Mapping ${n}`),
      h('div', { class: 'field' }, h('label', { for: dnId }, 'Directory group DN'), dn),
      h('p', { class: 'mapped-label', id: groupsId }, 'People groups'),
      chosen.length ? h('ul', { class: 'mapped-groups', 'aria-labelledby': groupsId }, chosen)
        : h('p', { class: 'hint' }, 'No group yet.'),
      adder,
      locked ? null : h('div', { class: 'actions' },
        h('button', {
          type: 'button', class: 'danger small', 'aria-label': `Remove mapping ${n}`,
          onClick: () => { page.mappings = page.mappings.filter((x) => x !== m); redraw(null); page.addMapping.focus(); },
        }, 'Remove mapping'))));
}

/** The body of PUT /api/ldap/settings: every setting of the form that is not fixed by its environment. */
function collect(page, formEl) {
  const body = {};
  for (const [key, setting] of page.byKey) {
    if (lockedBy(setting)) continue;
    if (key === MAPPINGS) {
      body[key] = collectMappings(page);
      continue;
    }
    if (key === 'ldap-security') {
      const checked = formEl.querySelector('input[name="ldap-security"]:checked');
      body[key] = checked ? checked.value : 'none';
      continue;
    }
    const control = formEl.querySelector(`[name="${CSS.escape(key)}"]`);
    if (!control) continue;
    if (SWITCHES.has(key)) {
      body[key] = control.checked;
    } else if (control.type === 'number') {
      // The browser keeps what was typed in a number field to itself when it is not a number.
      if (control.validity.badInput) throw new ApiError(400, { errors: { [key]: 'Enter a number.' } });
      body[key] = control.value.trim() === '' ? null : Number(control.value);
    } else if (control.type === 'password') {
      // The masked value goes back as it came: the API keeps the stored password for it.
      body[key] = control.value === '' ? null : control.value;
    } else {
      body[key] = control.value.trim() === '' ? null : control.value.trim();
    }
  }
  return body;
}

/** The mappings as the API takes them, DN to group ids; a mapping with neither a DN nor a group is left out. */
function collectMappings(page) {
  const out = {};
  page.mappings.forEach((m, i) => {
    const dn = m.dn.trim();
    if (!dn && !m.ids.length) return;
    if (!dn) throw new ApiError(400, { errors: { [`mapping-dn-${i}`]: 'Enter the directory group’s DN.' } });
    out[dn] = [...new Set([...(out[dn] || []), ...m.ids])];
  });
  return out;
}

/** Sends the form; on success the page is drawn again from the API, whose properties the sign-in page reads. */
async function save(page, formEl) {
  const body = collect(page, formEl);
  try {
    await api('PUT', '/api/ldap/settings', body);
  } catch (err) {
    throw placeMappingError(page, err);
  }
  page.ctx.reload('Saved the LDAP settings.');
}

/** A refused mapping is shown by the DN the API's message names, when it names one. */
function placeMappingError(page, err) {
  if (!(err instanceof ApiError) || !err.fields || !(MAPPINGS in err.fields)) return err;
  const message = String(err.fields[MAPPINGS]);
  const index = page.mappings.findIndex((m) => m.dn.trim() && message.includes(m.dn.trim()));
  if (index < 0) return err;
  const errors = { ...err.fields };
  delete errors[MAPPINGS];
  errors[`mapping-dn-${index}`] = message;
  return new ApiError(err.status, { errors });
}
