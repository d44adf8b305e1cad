// SCIM provisioning (/admin/settings/authentication/scim): the scim-enabled switch (PUT /api/setting/scim-enabled),
// the endpoint URL an identity provider is given (the read-only scim-base-url setting), and the SCIM token's
// record (GET /api/ee/scim/api_key): generate or regenerate it (POST /api/ee/scim/api_key), the token shown once.
// Only administrators manage SCIM: for anyone else the API's refusal is the page. See docs/scim.md.

import { api } from '../api.js';
import { confirmDialog, copyable, openDialog } from '../dialog.js';
import { h, maskedKey, replace, when } from '../dom.js';
import { subnav } from './settings.js';

export default async function scim(ctx) {
  ctx.title('SCIM provisioning');
  const body = h('div', { class: 'scim-page' });
  replace(ctx.main,
    h('h1', {}, 'SCIM provisioning'),
    subnav('scim'),
    h('p', { class: 'hint intro' },
      'An identity provider such as Okta or Microsoft Entra ID can create, update and deactivate people here ',
      'through SCIM 2.0. Give it the endpoint URL and the token below; it sends the token in the ',
      h('code', {}, 'Authorization: Bearer'), ' header. People it creates are marked SCIM in the people list.'),
    body);
  const page = { ctx, body };
  let enabled;
  let baseUrl;
  try {
    [enabled, baseUrl] = await Promise.all([
      api('GET', '/api/setting/scim-enabled'),
      api('GET', '/api/setting/scim-base-url'),
    ]);
  } catch (err) {
    replace(body, h('p', { class: 'form-error', role: 'alert' }, err.message));
    return;
  }
  page.token = h('section', { class: 'panel scim-token', 'aria-labelledby': 'scim-token-heading' });
  replace(body,
    statusPanel(page, enabled === true),
    h('section', { class: 'panel', 'aria-labelledby': 'scim-endpoint-heading' },
      h('h2', { id: 'scim-endpoint-heading' }, 'Endpoint URL'),
      h('p', { class: 'hint' }, 'Where the identity provider sends its requests. It follows the site URL (Settings → General).'),
      copyable('SCIM endpoint URL', baseUrl)),
    page.token);
  await refreshToken(page);
}

/** The on/off switch; a change is saved at once, and a refusal puts the switch back and says why. */
function statusPanel(page, enabled) {
  const alert = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const state = h('span', { class: 'switch-state', 'aria-hidden': 'true' });
  const toggle = h('input', {
    id: 'scim-enabled', name: 'scim-enabled', type: 'checkbox', role: 'switch', checked: enabled,
    'aria-describedby': 'scim-enabled-hint',
  });
  const show = (on) => {
    toggle.checked = on;
    state.textContent = on ? 'On' : 'Off';
  };
  show(enabled);
  toggle.addEventListener('change', async () => {
    const on = toggle.checked;
    alert.hidden = true;
    toggle.disabled = true;
    try {
      await api('PUT', '/api/setting/scim-enabled', { value: on });
      show(on);
      page.ctx.notify(on ? 'SCIM provisioning is on.' : 'SCIM provisioning is off.');
    } catch (err) {
      show(!on);
      alert.textContent = err.message;
      alert.hidden = false;
    } finally {
      toggle.disabled = false;
      toggle.focus();
    }
  });
  return h('section', { class: 'panel', 'aria-labelledby': 'scim-status-heading' },
    h('h2', { id: 'scim-status-heading' }, 'Status'),
    h('div', { class: 'field check switch' }, toggle, h('label', { for: 'scim-enabled' }, 'SCIM provisioning'), state),
    h('p', { class: 'hint', id: 'scim-enabled-hint' },
      'While it is off, the identity provider is refused (401) whatever token it sends.'),
    alert);
}

/** Fetches the token's record again and redraws its panel (a 404 means there is none yet). */
async function refreshToken(page) {
  let token = null;
  let refusal = null;
  try {
    token = await api('GET', '/api/ee/scim/api_key');
  } catch (err) {
    if (err.status !== 404) refusal = err.message;
  }
  const alert = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const action = token ? 'Regenerate token' : 'Generate token';
  replace(page.token,
    h('h2', { id: 'scim-token-heading' }, 'Token'),
    refusal ? h('p', { class: 'form-error', role: 'alert' }, refusal) : tokenRecord(token),
    refusal ? null : h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'primary', onClick: () => generate(page, token, alert) }, action)),
    alert);
}

function tokenRecord(token) {
  if (!token) return h('p', { class: 'empty-token' }, 'There is no SCIM token yet.');
  return h('dl', { class: 'record' },
    h('div', {}, h('dt', {}, 'Token'), h('dd', {}, maskedKey(token.masked_key))),
    h('div', {}, h('dt', {}, 'Created'), h('dd', {}, when(token.created_at))));
}

/** Makes a token (POST /api/ee/scim/api_key), confirming first when it replaces one, and shows it once. */
async function generate(page, current, alert) {
  if (current) {
    const ok = await confirmDialog('Regenerate the SCIM token?',
      'A new token replaces this one, which stops working at once: the identity provider needs the new token.',
      'Regenerate');
    if (!ok) return;
  }
  let made;
  try {
    made = await api('POST', '/api/ee/scim/api_key');
  } catch (err) {
    alert.textContent = err.message;
    alert.hidden = false;
    return;
  }
  await refreshToken(page);
  await showToken(made);
  page.ctx.notify(current ? 'Regenerated the SCIM token.' : 'Generated the SCIM token.');
  const button = page.token.querySelector('button');
  if (button) button.focus();
}

/** The token just made, shown this once with a Copy button. */
function showToken(token) {
  return openDialog('New SCIM token', (close) => h('div', { class: 'new-key' },
    h('p', { class: 'warning', role: 'note' },
      h('strong', {}, 'This is the only time the token is shown. '),
      'Copy it into the identity provider now: people stores only a fingerprint of it.'),
    copyable('SCIM token', token.unmasked_key),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', onClick: () => close() }, 'Done'))));
}
