// Sign in and sign up.
import { h, mount } from './dom.js';
import { t, lang, languages } from './i18n.js';
import * as session from './session.js';
import { navigate } from './router.js';
import { field, heading, submitting, values } from './ui.js';

function next(ctx) {
  const n = ctx.query.get('next') || '/';
  return n.startsWith('/') && !n.startsWith('//') ? n : '/';
}

function withNext(path, ctx) {
  const n = ctx.query.get('next');
  return n ? `${path}?next=${encodeURIComponent(n)}` : path;
}

/** signin is the sign-in screen. */
export function signin(ctx) {
  const form = h('form', { class: 'stack card', id: 'signin-form', novalidate: true },
    field({ label: t('auth.email'), name: 'email', type: 'email', autocomplete: 'email', required: true, inputmode: 'email' }),
    field({ label: t('auth.password'), name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    h('button', { type: 'submit', class: 'btn primary wide' }, t('auth.signin')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const v = values(form);
      await session.login(v.email, v.password);
      await navigate(next(ctx), { replace: true });
    });
  });
  mount(ctx.main,
    heading(t('auth.signin.title'), h('p', { class: 'lead' }, t('auth.tagline'))),
    form,
    h('p', { class: 'center' }, t('auth.noaccount'), ' ', h('a', { href: withNext('/signup', ctx) }, t('auth.signup'))));
}

/** signup is the registration screen. */
export function signup(ctx) {
  const form = h('form', { class: 'stack card', id: 'signup-form', novalidate: true },
    field({ label: t('auth.name'), name: 'name', autocomplete: 'name', required: true, maxlength: 80, hint: t('auth.name.hint') }),
    field({ label: t('auth.email'), name: 'email', type: 'email', autocomplete: 'email', required: true, inputmode: 'email' }),
    field({ label: t('auth.password'), name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: 8, hint: t('auth.password.hint') }),
    field({ label: t('auth.language'), name: 'locale', type: 'select', value: lang(), options: languages.map((l) => [l, t(`lang.name.${l}`)]) }),
    h('button', { type: 'submit', class: 'btn primary wide' }, t('auth.signup')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const v = values(form);
      let tz = '';
      try {
        tz = Intl.DateTimeFormat().resolvedOptions().timeZone || '';
      } catch {
        tz = '';
      }
      const fields = { name: v.name, email: v.email, password: v.password, locale: v.locale, time_zone: tz };
      try {
        await session.register(fields);
      } catch (err) {
        // A time zone the server does not know must not block signing up.
        if (!(err.fields && err.fields.time_zone) || !tz) throw err;
        delete fields.time_zone;
        await session.register(fields);
      }
      await navigate(next(ctx), { replace: true });
    });
  });
  mount(ctx.main,
    heading(t('auth.signup.title'), h('p', { class: 'lead' }, t('auth.tagline'))),
    form,
    h('p', { class: 'center' }, t('auth.haveaccount'), ' ', h('a', { href: withNext('/signin', ctx) }, t('auth.signin'))));
}
