// Sign-in with an email address and password (POST /api/session), and the way to a reset link. With LDAP on
// (the ldap-enabled property), the first field also takes a directory username, as Metabase's does.

import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { checkbox, field, form } from '../forms.js';

/** Only a path of this console may be a redirect target: never another origin. */
function safeRedirect(value) {
  return value && value.startsWith('/') && !value.startsWith('//') && !value.startsWith('/\\') ? value : '/';
}

export default function login(ctx) {
  ctx.title('Sign in');
  const target = safeRedirect(ctx.query.get('redirect'));
  const ldap = ctx.props['ldap-enabled'] === true;
  const username = ldap
    ? { label: 'Username or email address', type: 'text', autocapitalize: 'none', spellcheck: 'false' }
    : { label: 'Email address', type: 'email' };
  replace(ctx.main,
    h('h1', {}, `Sign in to ${ctx.props['site-name'] || 'people'}`),
    form({
      label: 'Sign in',
      submit: 'Sign in',
      children: [
        field({ name: 'username', ...username, autocomplete: 'username', required: true, autofocus: true }),
        field({ name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password', required: true }),
        checkbox({ name: 'remember', label: 'Remember me', checked: true }),
      ],
      async onSubmit(v) {
        await api('POST', '/api/session', { username: v.username, password: v.password, remember: v.remember }, { anonymous: true });
        ctx.restart(target);
      },
    }),
    h('p', { class: 'aside' }, h('a', { href: '/auth/forgot_password' }, 'I seem to have forgotten my password')));
}
