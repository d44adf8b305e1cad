// Instance settings (/admin/settings and /admin/settings/:section): every setting GET /api/setting lists, one
// labelled input each with its description, its default and the environment variable that sets the default,
// saved one at a time (PUT /api/setting/:key {value}); the API's message for a bad value is shown by the field.
// Sections are a sub-navigation, which the API keys, SCIM provisioning and LDAP pages share.

import { ApiError, api } from '../api.js';
import { h, replace } from '../dom.js';
import { checkbox, field, form, select } from '../forms.js';

/**
 * The sections, in sub-navigation order. `keys` lists the settings a section shows; the section with
 * `keys: null` shows every setting no other section claims (a section with `prefix` also claims every key that
 * starts with it). A later section may instead have its own
 * `render(ctx, body)`, or be a page of its own at `href` (which shows this sub-navigation through `subnav`).
 */
const SECTIONS = [
  { slug: 'general', label: 'General', heading: 'General settings', keys: null },
  { slug: 'api-keys', label: 'API keys', href: '/admin/settings/authentication/api-keys', keys: [] },
  {
    slug: 'scim',
    label: 'SCIM provisioning',
    href: '/admin/settings/authentication/scim',
    keys: ['scim-enabled', 'scim-base-url'],
  },
  // Every ldap-* setting, ldap-configured? included, is on the LDAP page (saved together, tested first).
  { slug: 'ldap', label: 'LDAP', href: '/admin/settings/authentication/ldap', keys: [], prefix: 'ldap-' },
];

/** Friendlier labels than the keys; a setting not listed here is labelled from its key. */
const LABELS = {
  'site-name': 'Site name',
  'site-url': 'Site URL',
  'site-locale': 'Site language',
  'admin-email': 'Administrator email',
  'user-visibility': 'User visibility',
  'reset-token-ttl-hours': 'Password reset link lifetime (hours)',
  'session-cookie-samesite': 'Session cookie SameSite',
  'enable-password-login': 'Password sign-in',
  'application-name': 'Application name',
  'scim-enabled': 'SCIM provisioning',
  'scim-base-url': 'SCIM endpoint URL',
};

// What GET /api/setting does not say (each entry's only fields are key, value, description, default and
// env_name): which settings take one of a few words, which take a number, and which cannot be changed (the API
// refuses any change to those with "Setting … is read-only.").
const CHOICES = {
  'user-visibility': [['all', 'All'], ['group', 'Group'], ['none', 'None']],
  'session-cookie-samesite': [['lax', 'Lax'], ['strict', 'Strict'], ['none', 'None']],
  'scim-enabled': [['true', 'On'], ['false', 'Off']],
};
const NUMBERS = new Set(['reset-token-ttl-hours']);
const READ_ONLY = new Set(['enable-password-login', 'scim-base-url']);

export default async function settings(ctx) {
  const slug = ctx.params.section || SECTIONS[0].slug;
  const section = SECTIONS.find((s) => s.slug === slug);
  if (section && section.href) { ctx.go(section.href, { replaceState: true }); return; }
  if (!section) {
    ctx.title('Settings');
    replace(ctx.main,
      h('h1', {}, 'Settings'),
      subnav(null),
      h('p', { class: 'form-error', role: 'alert' }, 'There is no such settings page.'));
    return;
  }
  ctx.title(section.heading);
  const body = h('div', { class: 'settings-list' });
  replace(ctx.main, h('h1', {}, section.heading), subnav(section), body);
  const page = { ctx, section, body };
  await (section.render ? section.render(ctx, body) : refresh(page));
}

/** The settings' sub-navigation, marking `current` (a section or its slug) as the page shown. */
export function subnav(current) {
  const slug = current && typeof current === 'object' ? current.slug : current;
  return h('nav', { 'aria-label': 'Settings' },
    h('ul', { class: 'subnav' }, SECTIONS.map((s) =>
      h('li', {}, h('a', { href: s.href || `/admin/settings/${s.slug}`, 'aria-current': s.slug === slug ? 'page' : null }, s.label)))));
}

/** Fetches the settings again and redraws this section's (after every save: the API is the truth). */
async function refresh(page) {
  let all;
  try {
    all = await api('GET', '/api/setting');
  } catch (err) {
    replace(page.body, h('p', { class: 'form-error', role: 'alert' }, err.message));
    return;
  }
  const mine = all.filter((s) => inSection(page.section, s.key));
  if (!mine.length) {
    replace(page.body, h('p', { class: 'empty' }, 'There are no settings here.'));
    return;
  }
  replace(page.body, mine.map((s) => (READ_ONLY.has(s.key) ? readOnlySetting(s) : settingForm(page, s))));
}

function inSection(section, key) {
  if (section.keys) return claims(section, key);
  return !SECTIONS.some((s) => s.keys && claims(s, key));
}

function claims(section, key) {
  return section.keys.includes(key) || Boolean(section.prefix && key.startsWith(section.prefix));
}

function labelOf(key) {
  if (LABELS[key]) return LABELS[key];
  const words = key.replace(/-/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A value as a person reads it. */
function shown(value) {
  if (value === true) return 'on';
  if (value === false) return 'off';
  return String(value);
}

/**
 * "Default: people (environment variable MB_SITE_NAME); used when the field is empty." The API's `default` is
 * the environment variable's value when it is set, else the built-in one; it does not say which.
 */
function defaultLine(setting, id, choice) {
  const hasDefault = setting.default !== null && setting.default !== undefined && setting.default !== '';
  return h('p', { class: 'setting-default', id },
    hasDefault ? ['Default: ', h('strong', {}, shown(setting.default))] : 'No default',
    setting.env_name ? [' (environment variable ', h('code', {}, setting.env_name), ')'] : null,
    hasDefault ? (choice ? '; used when “Default” is chosen.' : '; used when the field is empty.') : '.');
}

/** The input for one setting: a select for a few words, a number, or text. Empty means "use the default". */
function input(setting) {
  const name = setting.key;
  const label = labelOf(name);
  const value = setting.value === null || setting.value === undefined ? '' : String(setting.value);
  const hint = setting.description;
  if (CHOICES[name]) {
    const fallback = setting.default === null || setting.default === undefined ? '' : ` (${shown(setting.default)})`;
    const el = select({ name, label, value, options: [['', `Default${fallback}`], ...CHOICES[name]] });
    el.querySelector('label').after(h('p', { class: 'hint' }, hint));
    return el;
  }
  if (NUMBERS.has(name)) {
    return field({ name, label, type: 'number', min: '0', step: '1', inputmode: 'numeric', value, hint });
  }
  return field({ name, label, value, hint, autocomplete: 'off', spellcheck: 'false' });
}

/** One setting with its own Save button. */
function settingForm(page, setting) {
  const label = labelOf(setting.key);
  const defaultId = `setting-default-${setting.key}`;
  const el = form({
    label,
    submit: 'Save',
    children: [input(setting), defaultLine(setting, defaultId, Boolean(CHOICES[setting.key]))],
    onSubmit: () => save(page, setting, el),
  });
  el.classList.add('panel', 'setting');
  el.dataset.key = setting.key;
  const control = el.querySelector(`[name="${CSS.escape(setting.key)}"]`);
  const hint = control.closest('.field').querySelector('.hint');
  if (hint && !hint.id) hint.id = `${control.id}-hint`;
  control.setAttribute('aria-describedby', [hint && hint.id, defaultId].filter(Boolean).join(' '));
  el.querySelector('button[type="submit"]').setAttribute('aria-label', `Save ${label}`);
  return el;
}

/** Sends one setting (PUT /api/setting/:key); an empty field resets it to its default (value null). */
async function save(page, setting, formEl) {
  const control = formEl.querySelector(`[name="${CSS.escape(setting.key)}"]`);
  const label = labelOf(setting.key);
  if (control.validity && control.validity.badInput) {
    // The browser keeps what was typed in a number field to itself; there is nothing to send.
    throw new ApiError(400, { errors: { [setting.key]: 'Enter a whole number.' } });
  }
  const text = control.value.trim();
  try {
    await api('PUT', `/api/setting/${encodeURIComponent(setting.key)}`, { value: text === '' ? null : text });
  } catch (err) {
    // A bad value comes back as plain text naming the setting: show it by the field.
    if (err instanceof ApiError && err.status === 400 && !Object.keys(err.fields).length) {
      throw new ApiError(400, { errors: { [setting.key]: err.message } });
    }
    throw err;
  }
  const message = text === '' ? `${label} now uses its default.` : `Saved ${label}.`;
  if (setting.key === 'site-name') {
    // The header and the title show the site's name: draw the whole page again.
    page.ctx.reload(message);
    return;
  }
  page.ctx.notify(message);
  await refresh(page);
  const again = page.body.querySelector(`form[data-key="${CSS.escape(setting.key)}"] [name="${CSS.escape(setting.key)}"]`);
  if (again) again.focus();
}

/** A setting people does not let anyone change, shown for what it is. */
function readOnlySetting(setting) {
  const label = labelOf(setting.key);
  const value = setting.value === null || setting.value === undefined ? setting.default : setting.value;
  const hintId = `setting-hint-${setting.key}`;
  let control;
  if (typeof value === 'boolean') {
    control = checkbox({ name: setting.key, label, checked: value, disabled: true, 'aria-describedby': hintId });
  } else {
    control = field({ name: setting.key, label, value: value === null || value === undefined ? '' : String(value), disabled: true });
    control.querySelector('input').setAttribute('aria-describedby', hintId);
  }
  return h('div', { class: 'panel setting read-only', dataset: { key: setting.key } },
    control,
    h('p', { class: 'hint', id: hintId }, setting.description, ' This setting cannot be changed.'));
}
