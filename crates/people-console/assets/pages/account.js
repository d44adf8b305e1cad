// The signed-in person's own account, three pages under one sub-navigation: the profile (PUT /api/user/:id
// with their own id), the password (PUT /api/user/:id/password, which answers with a fresh session cookie)
// and their sign-in history (GET /api/login-history/current). The API decides what may change (an SSO
// account's names are locked, for instance); the page shows its answer.

import { ApiError, api } from '../api.js';
import { fullName, h, replace, when } from '../dom.js';
import { field, form, passwordHint } from '../forms.js';

const SECTIONS = [
  { path: '/account/profile', label: 'Profile', render: profile },
  { path: '/account/password', label: 'Password', render: password },
  { path: '/account/login-history', label: 'Login history', render: loginHistory },
];

export default async function account(ctx) {
  const section = SECTIONS.find((s) => s.path === ctx.path) || SECTIONS[0];
  ctx.title(section.label);
  const body = h('div', { class: 'account-section' });
  replace(ctx.main, h('h1', {}, section.label), subnav(section), body);
  await section.render(ctx, body);
}

function subnav(current) {
  return h('nav', { 'aria-label': 'Account' },
    h('ul', { class: 'subnav' }, SECTIONS.map((s) =>
      h('li', {}, h('a', { href: s.path, 'aria-current': s === current ? 'page' : null }, s.label)))));
}

/** An optional text: empty means none (the API refuses blank names and locales, and takes null). */
function orNull(text) {
  const t = (text || '').trim();
  return t ? t : null;
}

/** Name, email and language (PUT /api/user/:id with the caller's own id). */
async function profile(ctx, body) {
  const me = await ctx.refreshMe();
  if (!me) return;
  const siteLocale = ctx.props['site-locale'];
  const status = h('p', { class: 'success' });
  replace(body, h('div', { class: 'panel' },
    me.sso_source ? h('p', { class: 'hint' }, `Your account signs in through ${me.sso_source}.`) : null,
    form({
      label: 'Profile',
      submit: 'Save',
      children: [
        h('div', { class: 'pair' },
          field({ name: 'first_name', label: 'First name', value: me.first_name || '', autocomplete: 'given-name' }),
          field({ name: 'last_name', label: 'Last name', value: me.last_name || '', autocomplete: 'family-name' })),
        field({ name: 'email', label: 'Email address', type: 'email', value: me.email || '', autocomplete: 'email', required: true }),
        field({
          name: 'locale',
          label: 'Language',
          value: me.locale || '',
          autocomplete: 'off',
          hint: `A language code such as en, fr or pt_BR. Leave it empty to use the site's language${siteLocale ? ` (${siteLocale})` : ''}.`,
        }),
      ],
      async onSubmit(v) {
        status.textContent = '';
        await api('PUT', `/api/user/${me.id}`, {
          first_name: orNull(v.first_name),
          last_name: orNull(v.last_name),
          email: v.email.trim(),
          locale: orNull(v.locale),
        });
        // The header shows one's name: draw the whole page again.
        ctx.reload('Your profile was saved.');
      },
    }),
    status));
}

/** The current and a new password (PUT /api/user/:id/password); success signs this browser in again. */
async function password(ctx, body) {
  const me = ctx.me;
  const status = h('p', { class: 'success' });
  const el = form({
    label: 'Change password',
    submit: 'Change password',
    children: [
      field({ name: 'old_password', label: 'Current password', type: 'password', autocomplete: 'current-password', required: true }),
      field({ name: 'password', label: 'New password', type: 'password', autocomplete: 'new-password', required: true, hint: passwordHint(ctx.props['password-complexity']) }),
      field({ name: 'password_confirm', label: 'Confirm new password', type: 'password', autocomplete: 'new-password', required: true }),
    ],
    async onSubmit(v, formEl) {
      status.textContent = '';
      if (v.password !== v.password_confirm) {
        throw new ApiError(400, { errors: { password_confirm: 'The passwords do not match.' } });
      }
      await api('PUT', `/api/user/${me.id}/password`, { old_password: v.old_password, password: v.password });
      formEl.reset();
      // The notice is the announced one; this line stays in view.
      status.textContent = 'Your password was changed. This browser stays signed in; other sessions were signed out.';
      ctx.notify('Your password was changed.');
    },
  });
  replace(body, h('div', { class: 'panel' }, el, status));
}

/** Where and when the caller signed in, newest first (GET /api/login-history/current). */
async function loginHistory(ctx, body) {
  let rows;
  try {
    rows = await api('GET', '/api/login-history/current');
  } catch (err) {
    replace(body, h('p', { class: 'form-error', role: 'alert' }, err.message));
    return;
  }
  if (!rows.length) {
    replace(body, h('p', { class: 'empty' }, 'No sign-ins recorded yet.'));
    return;
  }
  replace(body, h('div', { class: 'table-wrap' },
    h('table', { class: 'login-history' },
      h('caption', { class: 'visually-hidden' }, `Sign-ins of ${fullName(ctx.me)}`),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Signed in'),
        h('th', { scope: 'col' }, 'Device'),
        h('th', { scope: 'col' }, 'IP address'),
        h('th', { scope: 'col' }, 'Session'))),
      h('tbody', {}, rows.map(historyRow)))));
}

/** One sign-in; on a narrow screen the cells stack, each led by its `data-label`. */
function historyRow(row) {
  return h('tr', { dataset: { deviceId: row.device_id || '', active: String(Boolean(row.active)) } },
    h('td', { 'data-label': 'Signed in' }, h('time', { datetime: row.timestamp }, when(row.timestamp))),
    h('td', { class: 'device', 'data-label': 'Device' }, row.device_description || 'Unknown device'),
    h('td', { 'data-label': 'IP address' }, row.ip_address || '—'),
    h('td', { 'data-label': 'Session' }, row.active ? h('span', { class: 'badge active' }, 'Active') : 'Ended'));
}
