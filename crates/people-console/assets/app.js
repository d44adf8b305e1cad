// The console's entry point: reads who is signed in, picks the page for the path, and keeps links inside
// the single page. Pages are modules under pages/, loaded when first visited.

import { api, whenSignedOut } from './api.js';
import { h, replace } from './dom.js';

/** Who may open a route: anyone, only before setup, or a signed-in person. */
const ANYONE = 'anyone';
const SIGNED_IN = 'signed-in';

const ROUTES = [
  ['/setup', () => import('./pages/setup.js'), ANYONE],
  ['/auth/login', () => import('./pages/login.js'), ANYONE],
  ['/auth/forgot_password', () => import('./pages/forgot.js'), ANYONE],
  ['/auth/reset_password/:token', () => import('./pages/reset.js'), ANYONE],
  ['/admin/people', () => import('./pages/people.js'), SIGNED_IN],
  ['/admin/people/groups', () => import('./pages/groups.js'), SIGNED_IN],
  ['/admin/people/groups/:id', () => import('./pages/group.js'), SIGNED_IN],
  ['/admin/settings', () => import('./pages/settings.js'), SIGNED_IN],
  ['/admin/settings/authentication/api-keys', () => import('./pages/api-keys.js'), SIGNED_IN],
  ['/admin/settings/authentication/scim', () => import('./pages/scim.js'), SIGNED_IN],
  ['/admin/settings/authentication/ldap', () => import('./pages/ldap.js'), SIGNED_IN],
  ['/admin/settings/:section', () => import('./pages/settings.js'), SIGNED_IN],
  ['/account/profile', () => import('./pages/account.js'), SIGNED_IN],
  ['/account/password', () => import('./pages/account.js'), SIGNED_IN],
  ['/account/login-history', () => import('./pages/account.js'), SIGNED_IN],
];

const state = { props: null, me: null, first: true, pending: null };

function match(path) {
  const parts = path.replace(/\/+$/, '').split('/');
  for (const [pattern, load, access] of ROUTES) {
    const want = pattern.split('/');
    if (want.length !== parts.length) continue;
    const params = {};
    if (want.every((w, i) => (w.startsWith(':') ? (params[w.slice(1)] = decodeURIComponent(parts[i])) : w === parts[i]))) {
      return { pattern, load, access, params };
    }
  }
  return null;
}

/** Where `/` leads: setup on a new instance, sign-in, then the people list or one's own account. */
function home() {
  if (!state.props['has-user-setup']) return '/setup';
  if (!state.me) return '/auth/login';
  const manager = state.me.permissions && state.me.permissions.is_group_manager;
  return state.me.is_superuser || manager ? '/admin/people' : '/account/profile';
}

/** Goes to `path` inside the console. */
export function go(path, { replaceState = false } = {}) {
  if (replaceState) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  route();
}

async function loadMe() {
  try {
    state.me = await api('GET', '/api/user/current', undefined, { anonymous: true });
  } catch {
    state.me = null;
  }
  return state.me;
}

async function signOut() {
  try { await api('DELETE', '/api/session', undefined, { anonymous: true }); } catch { /* already out */ }
  state.me = null;
  go('/auth/login');
}

function navLink(href, text, active) {
  return h('li', {}, h('a', { href, 'aria-current': active ? 'page' : null }, text));
}

function frame(path, access) {
  const app = document.getElementById('app');
  const main = h('main', { id: 'main', tabindex: '-1', 'aria-busy': 'true' });
  const notice = h('div', { id: 'notice', class: 'notice', role: 'status', 'aria-live': 'polite' });
  const siteName = (state.props && state.props['site-name']) || 'people';
  if (access === SIGNED_IN && state.me) {
    const me = state.me;
    const manager = me.permissions && me.permissions.is_group_manager;
    const links = [];
    if (me.is_superuser || manager) {
      links.push(navLink('/admin/people', 'People', path === '/admin/people'));
      links.push(navLink('/admin/people/groups', 'Groups', path.startsWith('/admin/people/groups')));
    }
    if (me.is_superuser) links.push(navLink('/admin/settings', 'Settings', path.startsWith('/admin/settings')));
    links.push(navLink('/account/profile', 'Account', path.startsWith('/account')));
    replace(app,
      h('header', { class: 'top' },
        h('a', { class: 'brand', href: '/' }, siteName),
        h('nav', { 'aria-label': 'Main' }, h('ul', {}, links)),
        h('div', { class: 'who' },
          h('span', { class: 'me' }, me.common_name || me.email),
          h('button', { type: 'button', class: 'link', onClick: signOut }, 'Sign out'))),
      main, notice);
    document.body.className = 'signed-in';
  } else {
    replace(app, h('div', { class: 'card-page' }, h('header', {}, h('p', { class: 'brand' }, siteName)), main), notice);
    document.body.className = 'public';
  }
  return { main, notice, siteName };
}

let noticeTimer = null;

async function route() {
  const path = location.pathname.replace(/\/+$/, '') || '/';
  if (!state.props) {
    state.props = await api('GET', '/api/session/properties', undefined, { anonymous: true });
    await loadMe();
  }
  if (path === '/' || path === '/admin' || path === '/account') {
    go(path === '/account' ? '/account/profile' : (path === '/admin' ? '/admin/people' : home()), { replaceState: true });
    return;
  }
  if (path === '/auth/logout') { await signOut(); return; }
  if (!state.props['has-user-setup'] && path !== '/setup') { go('/setup', { replaceState: true }); return; }
  if (state.props['has-user-setup'] && path === '/setup') { go('/', { replaceState: true }); return; }
  const found = match(path);
  if (found && found.access === SIGNED_IN && !state.me) {
    go(`/auth/login?redirect=${encodeURIComponent(location.pathname + location.search)}`, { replaceState: true });
    return;
  }
  if (found && found.pattern === '/auth/login' && state.me) { go('/', { replaceState: true }); return; }
  const { main, notice, siteName } = frame(path, found ? found.access : ANYONE);
  const ctx = {
    props: state.props,
    me: state.me,
    params: found ? found.params : {},
    path,
    query: new URLSearchParams(location.search),
    main,
    go,
    restart,
    /** Sets the page title (and the document's). */
    title(text) { document.title = `${text} · ${siteName}`; },
    /** Shows a short status message that screen readers announce. */
    notify(text) {
      notice.textContent = text;
      notice.classList.add('shown');
      clearTimeout(noticeTimer);
      noticeTimer = setTimeout(() => notice.classList.remove('shown'), 6000);
    },
    /** Draws the page again with fresh properties and caller (after a change to oneself or to the site's
     * name, which the header shows), keeping `message` as its notice. */
    reload(message) {
      state.pending = message || null;
      restart(location.pathname + location.search);
    },
    /** Reloads the signed-in person (after a sign-in or a change to oneself). */
    async refreshMe() { await loadMe(); ctx.me = state.me; return state.me; },
  };
  try {
    if (!found) {
      ctx.title('Not found');
      replace(main, h('h1', { tabindex: '-1' }, 'Not found'), h('p', {}, 'There is no page here. ', h('a', { href: '/' }, 'Go home')));
    } else {
      const page = await found.load();
      await page.default(ctx);
    }
  } catch (err) {
    replace(main, h('h1', { tabindex: '-1' }, 'Something went wrong'), h('p', { role: 'alert' }, err.message || String(err)));
  }
  main.removeAttribute('aria-busy');
  main.dataset.ready = 'true';
  if (state.pending) {
    ctx.notify(state.pending);
    state.pending = null;
  }
  if (!state.first) {
    const heading = main.querySelector('h1');
    if (heading) { heading.setAttribute('tabindex', '-1'); heading.focus(); }
  }
  state.first = false;
}

whenSignedOut(() => {
  state.me = null;
  go(`/auth/login?redirect=${encodeURIComponent(location.pathname + location.search)}`, { replaceState: true });
});

document.addEventListener('click', (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const a = event.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download')) return;
  if (a.classList.contains('skip-link')) {
    event.preventDefault();
    const main = document.getElementById('main');
    if (main) main.focus();
    return;
  }
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api') || url.pathname.startsWith('/console/')) return;
  if (url.pathname === location.pathname && url.hash && url.search === location.search) return;
  event.preventDefault();
  go(url.pathname + url.search + url.hash);
});

window.addEventListener('popstate', () => route());

/** Forgets what it knew of the instance and the caller and opens `path` (after setup or a sign-in). */
function restart(path) {
  state.props = null;
  state.me = null;
  go(path, { replaceState: true });
}

route();
