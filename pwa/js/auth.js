// Sign in and sign up, and the ways back into an account: asking for a
// password reset link, setting a new password from it, and confirming an
// email address from the link in the mail.
import { h, mount } from './dom.js';
import { t, lang, languages, choose } from './i18n.js';
import * as api from './api.js';
import * as session from './session.js';
import { navigate } from './router.js';
import { busy, field, heading, loading, submitting, values } from './ui.js';

// followAccountLanguage switches a device signing in to the language the
// account chose elsewhere (pushes and mails already speak it).
async function followAccountLanguage() {
  const locale = session.state.me && session.state.me.locale;
  if (!locale || locale === lang() || !languages.includes(locale)) return;
  await choose(locale);
  document.dispatchEvent(new Event('civico:language'));
}

function next(ctx) {
  const n = ctx.query.get('next') || '/';
  return n.startsWith('/') && !n.startsWith('//') ? n : '/';
}

function withNext(path, ctx) {
  const n = ctx.query.get('next');
  return n ? `${path}?next=${encodeURIComponent(n)}` : path;
}

// notice is a message that stays on the screen (a toast would be gone
// before a slow reader found it), announced once as the screen opens.
function notice(text, kind = 'ok') {
  return h('p', { class: `notice ${kind}`, role: 'status' }, text);
}

/** signin is the sign-in screen. */
export function signin(ctx) {
  const form = h('form', { class: 'stack card', id: 'signin-form', novalidate: true },
    field({ label: t('auth.email'), name: 'email', type: 'email', autocomplete: 'email', required: true, inputmode: 'email' }),
    field({ label: t('auth.password'), name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    h('button', { type: 'submit', class: 'btn primary wide' }, t('auth.signin')),
    h('p', { class: 'center link-line' }, h('a', { href: '/forgot', id: 'forgot-link' }, t('auth.forgot.link'))));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const v = values(form);
      await session.login(v.email, v.password);
      await followAccountLanguage();
      await navigate(next(ctx), { replace: true });
    });
  });
  mount(ctx.main,
    heading(t('auth.signin.title'), h('p', { class: 'lead' }, t('auth.tagline'))),
    ctx.query.get('reset') === 'done' ? notice(t('auth.reset.done')) : null,
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

/**
 * forgot asks for a password reset link. The answer is the same whether or
 * not an account has the address: the screen must not tell either.
 */
export function forgot(ctx) {
  const form = h('form', { class: 'stack card', id: 'forgot-form', novalidate: true },
    field({ label: t('auth.email'), name: 'email', type: 'email', autocomplete: 'email', required: true, inputmode: 'email' }),
    h('button', { type: 'submit', class: 'btn primary wide' }, t('auth.forgot.send')));
  const back = h('p', { class: 'center link-line' }, h('a', { href: '/signin' }, t('auth.forgot.back')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const v = values(form);
      if (!v.email) throw new api.ApiError(400, 'validation_failed', { email: 'required' });
      await api.post('/auth/password/forgot', { email: v.email }, { auth: false });
      if (!ctx.current()) return;
      form.replaceWith(h('div', { class: 'card stack', id: 'forgot-sent' },
        notice(t('auth.forgot.sent', { email: v.email })),
        h('p', null, t('auth.forgot.sent.more'))));
    });
  });
  mount(ctx.main, heading(t('auth.forgot.title'), h('p', { class: 'lead' }, t('auth.forgot.lead'))), form, back);
}

// linkFailed is what a reset or verification link that cannot be used
// says, with the way forward.
function linkFailed(err, ...ways) {
  return h('div', { class: 'state error', role: 'alert', id: 'link-failed' }, h('p', null, api.message(err)), ...ways);
}

const resetCodes = ['invalid_reset_token', 'reset_token_expired'];

/** reset sets a new password with the token of a reset link. */
export function reset(ctx) {
  const token = ctx.query.get('token') || '';
  const askAgain = () => h('a', { href: '/forgot', class: 'btn primary', id: 'ask-again' }, t('auth.reset.again'));
  const title = heading(t('auth.reset.title'), h('p', { class: 'lead' }, t('auth.reset.lead')));
  if (!token) {
    mount(ctx.main, title, linkFailed(new api.ApiError(400, 'invalid_reset_token'), askAgain()));
    return;
  }
  const form = h('form', { class: 'stack card', id: 'reset-form', novalidate: true },
    field({ label: t('auth.reset.password'), name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: 8, hint: t('auth.password.hint') }),
    field({ label: t('auth.reset.repeat'), name: 'repeat', type: 'password', autocomplete: 'new-password', required: true, minlength: 8 }),
    h('button', { type: 'submit', class: 'btn primary wide' }, t('auth.reset.save')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      // Trimmed, as the sign-in and sign-up screens send it.
      const v = values(form);
      const pw = v.password;
      const fields = {};
      if (!pw) fields.password = 'required';
      else if ([...pw].length < 8) fields.password = 'too_short';
      if (!fields.password && v.repeat !== pw) fields.repeat = 'mismatch';
      if (Object.keys(fields).length) throw new api.ApiError(400, 'validation_failed', fields);
      try {
        await api.post('/auth/password/reset', { token, password: pw }, { auth: false });
      } catch (err) {
        if (!(err instanceof api.ApiError) || !resetCodes.includes(err.code)) throw err;
        if (ctx.current()) form.replaceWith(linkFailed(err, askAgain()));
        return;
      }
      // Every session of the account has ended, this one too if it was
      // the same account; whoever was signed in here signs in again.
      if (session.signedIn()) await session.clear();
      await navigate('/signin?reset=done', { replace: true });
    });
  });
  mount(ctx.main, title, form);
}

// A verification link works once: a second render of the same screen (a
// language switch, the session coming back) shows the first answer again
// instead of asking with a token already used.
const verified = new Map();

function verifyOnce(token) {
  if (!verified.has(token)) verified.set(token, api.post('/auth/email/verify', { token }, { auth: false }));
  return verified.get(token);
}

/** verify confirms an email address with the token of a verification link. */
export async function verify(ctx) {
  const token = ctx.query.get('token') || '';
  const title = heading(t('verify.title'));
  mount(ctx.main, title, loading(t('verify.checking')));
  let res;
  try {
    if (!token) throw new api.ApiError(400, 'invalid_verification_token');
    res = await verifyOnce(token);
  } catch (err) {
    if (!ctx.current()) return;
    if (err instanceof api.ApiError && err.offline) verified.delete(token);
    mount(ctx.main, title, linkFailed(err, verifyWayOut(err)));
    return;
  }
  if (!ctx.current()) return;
  if (session.signedIn() && !session.state.offline) {
    // The banner asking to confirm goes away.
    await session.loadMe().catch(() => {});
    if (!ctx.current()) return;
  }
  const email = (res && res.email) || '';
  mount(ctx.main, title,
    h('div', { class: 'card stack', id: 'verify-done' },
      notice(email ? t('verify.done', { email }) : t('verify.done.plain')),
      h('p', null, t('verify.done.more')),
      session.signedIn()
        ? h('a', { href: '/', class: 'btn primary' }, t('verify.home'))
        : h('a', { href: '/signin', class: 'btn primary' }, t('auth.signin'))));
}

// verifyWayOut is what to do after a link that did not work: signed in, ask
// for a new link here; signed out, sign in (the banner then offers one).
function verifyWayOut(err) {
  if (err instanceof api.ApiError && err.offline) return null;
  if (!session.signedIn()) {
    return h('div', null, h('p', null, t('verify.signin')),
      h('a', { href: `/signin?next=${encodeURIComponent('/account')}`, class: 'btn primary' }, t('auth.signin')));
  }
  const again = h('button', { type: 'button', class: 'btn primary', id: 'verify-resend' }, t('verify.resend'));
  const said = h('p', { role: 'status', class: 'resent' });
  again.addEventListener('click', () => busy(again, async () => {
    await api.post('/me/email/verification');
    said.textContent = t('verify.resent');
  }));
  return h('div', null, again, said);
}
