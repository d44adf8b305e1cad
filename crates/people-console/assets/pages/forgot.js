// Asking for a reset link (POST /api/session/forgot_password). The answer is the same whether or not the
// address has an account, so the page says the same too.

import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { field, form } from '../forms.js';

export default function forgot(ctx) {
  ctx.title('Forgot password');
  const body = h('div', {},
    form({
      label: 'Forgot password',
      submit: 'Send password reset email',
      children: [
        h('p', {}, 'Enter the email address of your account and we will send you a link to choose a new password.'),
        field({ name: 'email', label: 'Email address', type: 'email', autocomplete: 'username', required: true, autofocus: true }),
      ],
      async onSubmit(v) {
        await api('POST', '/api/session/forgot_password', { email: v.email }, { anonymous: true });
        replace(body,
          h('p', { role: 'status', class: 'success' },
            'Check your email for instructions on how to reset your password.'));
      },
    }));
  replace(ctx.main,
    h('h1', {}, 'Forgot your password?'),
    body,
    h('p', { class: 'aside' }, h('a', { href: '/auth/login' }, 'Back to sign in')));
}
