// First run: the first administrator and the site's name, with the setup token the instance publishes
// until its first user exists (POST /api/setup).

import { ApiError, api } from '../api.js';
import { h, replace } from '../dom.js';
import { field, form, passwordHint } from '../forms.js';

export default function setup(ctx) {
  ctx.title('Set up');
  const token = ctx.props['setup-token'];
  replace(ctx.main,
    h('h1', {}, 'Welcome to people'),
    h('p', {}, 'Create the first administrator. They can invite everyone else.'),
    form({
      label: 'Create the first administrator',
      submit: 'Create administrator',
      children: [
        h('div', { class: 'pair' },
          field({ name: 'first_name', label: 'First name', autocomplete: 'given-name', autofocus: true }),
          field({ name: 'last_name', label: 'Last name', autocomplete: 'family-name' })),
        field({ name: 'email', label: 'Email address', type: 'email', autocomplete: 'username', required: true }),
        field({ name: 'password', label: 'Password', type: 'password', autocomplete: 'new-password', required: true, hint: passwordHint(ctx.props['password-complexity']) }),
        field({ name: 'password_confirm', label: 'Confirm password', type: 'password', autocomplete: 'new-password', required: true }),
        field({ name: 'site_name', label: 'Name of this site', value: ctx.props['site-name'] || '', required: true, hint: 'Shown in emails and at the top of every page.' }),
      ],
      async onSubmit(v) {
        if (v.password !== v.password_confirm) {
          throw new ApiError(400, { errors: { password_confirm: 'Passwords do not match.' } });
        }
        await api('POST', '/api/setup', {
          token,
          user: { first_name: v.first_name || null, last_name: v.last_name || null, email: v.email, password: v.password },
          prefs: { site_name: v.site_name },
        }, { anonymous: true });
        ctx.restart('/admin/people');
      },
    }));
}
