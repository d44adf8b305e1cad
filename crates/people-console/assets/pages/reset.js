// The link of a reset email and of an invite email (`#new`): check the token, choose a password
// (POST /api/session/reset_password), and arrive signed in.

import { ApiError, api, query } from '../api.js';
import { h, replace } from '../dom.js';
import { field, form, passwordHint } from '../forms.js';


export default async function reset(ctx) {
  const invite = location.hash === '#new';
  const token = ctx.params.token;
  ctx.title(invite ? 'Welcome' : 'Reset password');
  const check = await api('GET', `/api/session/password_reset_token_valid${query({ token })}`, undefined, { anonymous: true });
  if (!check || !check.valid) {
    replace(ctx.main,
      h('h1', {}, invite ? 'This invitation has expired' : 'This link has expired'),
      h('p', {}, invite
        ? 'Ask an administrator to send you a new invitation.'
        : 'Reset links work once and expire after a while. Ask for a new one.'),
      h('p', { class: 'aside' }, h('a', { href: '/auth/forgot_password' }, 'Request a new reset email')));
    return;
  }
  const hint = passwordHint(ctx.props['password-complexity']);
  replace(ctx.main,
    h('h1', {}, invite ? `Welcome to ${ctx.props['site-name'] || 'people'}` : 'New password'),
    h('p', {}, invite ? 'Choose a password to finish setting up your account.' : 'Choose a new password for your account.'),
    form({
      label: invite ? 'Set your password' : 'Reset password',
      submit: invite ? 'Save password and sign in' : 'Save new password',
      children: [
        field({ name: 'password', label: 'New password', type: 'password', autocomplete: 'new-password', required: true, autofocus: true, hint }),
        field({ name: 'password_confirm', label: 'Confirm new password', type: 'password', autocomplete: 'new-password', required: true }),
      ],
      async onSubmit(v, formEl) {
        if (v.password !== v.password_confirm) {
          throw new ApiError(400, { errors: { password_confirm: 'Passwords do not match.' } });
        }
        await api('POST', '/api/session/reset_password', { token, password: v.password }, { anonymous: true });
        formEl.reset();
        ctx.restart('/');
      },
    }));
}
