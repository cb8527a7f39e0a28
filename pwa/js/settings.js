// Notification settings (push on this device, what to be told about in
// each street, with quiet hours, and what to be told by email) and the
// account (name, language, password, email address, my streets and leaving
// one, never appearing on the street's printed board, data export, closing
// the account, signing out).
import { h, mount, uid } from './dom.js';
import { t, lang, languages, choose } from './i18n.js';
import * as api from './api.js';
import * as session from './session.js';
import * as push from './push.js';
import { navigate, reload } from './router.js';
import { categories } from './posts.js';
import { ask, badge, busy, check, failure, field, heading, loading, radios, submitting, toast, values } from './ui.js';
import { profileSection } from './profile.js';

function pushBox() {
  const box = h('section', { class: 'explain stack', id: 'push-box', 'aria-labelledby': 'push-heading' });
  const draw = async () => {
    const perm = push.permission();
    const sub = perm === 'granted' ? await push.subscription().catch(() => null) : null;
    const parts = [h('h2', { id: 'push-heading' }, t('push.title')), h('p', null, t('push.why'))];
    if (perm === 'unsupported') parts.push(h('p', { id: 'push-state' }, t('push.unsupported')));
    else if (perm === 'denied') parts.push(h('p', { id: 'push-state' }, t('push.denied')));
    else if (sub) {
      const off = h('button', { type: 'button', class: 'btn ghost', id: 'push-off' }, t('push.disable'));
      off.addEventListener('click', () => busy(off, async () => {
        await push.disable();
        toast(t('push.disabled'));
        await draw();
      }));
      parts.push(h('p', { id: 'push-state' }, t('push.on')), off);
    } else {
      const on = h('button', { type: 'button', class: 'btn primary', id: 'push-on' }, t('push.enable'));
      // The permission prompt comes only from this button, after the why.
      on.addEventListener('click', () => busy(on, async () => {
        const res = await push.enable();
        toast(res === 'granted' ? t('push.enabled') : t('push.denied'));
        await draw();
      }));
      parts.push(h('p', { id: 'push-state' }, t('push.off')), on);
    }
    mount(box, ...parts);
  };
  draw();
  return box;
}

function streetPrefs(s, name) {
  const cats = new Set(Array.isArray(s.categories) ? s.categories : categories);
  const id = s.street_id;
  return h('fieldset', { class: 'card stack street-prefs', 'data-street-id': id },
    h('legend', null, name),
    check({ label: t('prefs.requests'), name: `${id}.requests`, checked: s.requests !== false }),
    check({ label: t('prefs.offers'), name: `${id}.offers`, checked: s.offers !== false }),
    check({ label: t('prefs.replies'), name: `${id}.replies`, checked: s.replies !== false, hint: t('prefs.replies.hint') }),
    h('details', null, h('summary', null, t('prefs.categories')),
      h('div', { class: 'stack' }, categories.map((c) => check({ label: t(`category.${c}`), name: `${id}.cat.${c}`, checked: cats.has(c) })))));
}

// calendarBox is "subscribe to my calendar": the private address of a feed
// with the events of all my streets, for Google, Apple or Thunderbird
// calendars. Anyone holding the address reads the feed (a calendar app
// cannot sign in), so it is shown only on request, and "new link" makes
// the old one stop working.
function calendarBox() {
  const box = h('section', { class: 'card stack', id: 'calendar-box', 'aria-labelledby': 'calendar-heading' });
  const out = h('div', { class: 'stack' });
  const show = (url) => {
    const input = h('input', { type: 'text', readonly: true, value: url, id: 'calendar-url', class: 'invite-link', 'aria-label': t('calendar.url') });
    const copy = h('button', { type: 'button', class: 'btn', id: 'calendar-copy' }, t('calendar.copy'));
    copy.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(url);
        toast(t('calendar.copied'));
      } catch {
        input.select();
      }
    });
    const rotate = h('button', { type: 'button', class: 'btn ghost', id: 'calendar-rotate' }, t('calendar.rotate'));
    rotate.addEventListener('click', async () => {
      const ok = await ask({ title: t('calendar.rotate.title'), text: t('calendar.rotate.text'), confirm: t('calendar.rotate'), danger: true });
      if (!ok) return;
      await busy(rotate, async () => {
        const res = await api.post('/me/calendar/rotate');
        show(res.url);
        toast(t('calendar.rotated'));
        document.getElementById('calendar-url')?.focus();
      });
    });
    const webcal = url.replace(/^https?:/, 'webcal:');
    mount(out, input, h('div', { class: 'actions' }, copy, h('a', { href: webcal, class: 'btn ghost', id: 'calendar-open' }, t('calendar.open')), rotate),
      h('p', { class: 'hint' }, t('calendar.private')));
  };
  const reveal = h('button', { type: 'button', class: 'btn primary', id: 'calendar-show' }, t('calendar.show'));
  reveal.addEventListener('click', () => busy(reveal, async () => {
    const res = await api.get('/me/calendar');
    reveal.hidden = true;
    show(res.url);
    document.getElementById('calendar-url')?.focus();
  }));
  mount(box, h('h2', { id: 'calendar-heading' }, t('calendar.title')), h('p', null, t('calendar.text')), reveal, out);
  return box;
}

// emailPrefs is the email part of the settings: replies to my posts (at
// once, in the digest, or not) and the street's digest. The server sends a
// reply by email only to whom no device of theirs notified, never both.
function emailPrefs(email) {
  const me = session.state.me || {};
  return h('fieldset', { class: 'card stack', id: 'email-prefs' },
    h('legend', null, t('prefs.email')),
    h('p', { class: 'hint' }, me.email ? t('prefs.email.lead', { email: me.email }) : t('prefs.email.lead.plain')),
    me.email_verified === false ? h('p', { class: 'notice warn', id: 'email-unverified' }, t('prefs.email.unverified')) : null,
    radios({ legend: t('prefs.email.replies'), stacked: true, hint: t('prefs.email.replies.hint'), name: 'email.replies', value: email.replies || 'immediately',
      options: ['immediately', 'digest', 'off'].map((v) => [v, t(`prefs.email.replies.${v}`)]) }),
    radios({ legend: t('prefs.email.digest'), stacked: true, hint: t('prefs.email.digest.hint'), name: 'email.digest', value: email.digest || 'weekly',
      options: ['weekly', 'daily', 'off'].map((v) => [v, t(`prefs.email.digest.${v}`)]) }));
}

/** notifications is the notification settings screen. */
export async function notifications(ctx) {
  const body = h('div', null, loading());
  mount(ctx.main, heading(t('prefs.title'), h('p', { class: 'lead' }, t('prefs.lead'))), pushBox(), calendarBox(), h('h2', null, t('prefs.what')), body);
  let prefs;
  try {
    prefs = await api.get('/me/notifications', undefined, { signal: ctx.signal });
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.current()) return;
    mount(body, failure(err, () => notifications(ctx)));
    return;
  }
  if (!ctx.current()) return;
  const mine = session.streets().filter((s) => (s.status || 'active') === 'active');
  const saved = new Map((prefs.streets || []).map((s) => [s.street_id, s]));
  const defaults = prefs.defaults || {};
  const quiet = prefs.quiet_hours;
  // A server without email says nothing of it; then nothing is shown or sent.
  const email = prefs.email && typeof prefs.email === 'object' ? prefs.email : null;
  const form = h('form', { class: 'stack', id: 'prefs-form', novalidate: true },
    email ? emailPrefs(email) : null,
    mine.length ? mine.map((s) => streetPrefs({ ...defaults, ...(saved.get(s.id) || {}), street_id: s.id }, s.name)) : h('p', { class: 'state' }, t('prefs.nostreets')),
    h('fieldset', { class: 'card stack' }, h('legend', null, t('prefs.quiet')),
      h('p', { class: 'hint' }, t('prefs.quiet.hint'), prefs.time_zone ? ` ${t('prefs.quiet.tz', { tz: prefs.time_zone })}` : ''),
      check({ label: t('prefs.quiet.on'), name: 'quiet', checked: !!quiet }),
      field({ label: t('prefs.quiet.from'), name: 'quiet_hours.start', type: 'time', value: (quiet && quiet.start) || '22:00' }),
      field({ label: t('prefs.quiet.to'), name: 'quiet_hours.end', type: 'time', value: (quiet && quiet.end) || '07:00' })),
    h('button', { type: 'submit', class: 'btn primary wide' }, t('action.save')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const v = values(form);
      const choices = {
        quiet_hours: v.quiet ? { start: v['quiet_hours.start'], end: v['quiet_hours.end'] } : null,
        streets: mine.map((s) => ({
          street_id: s.id,
          requests: v[`${s.id}.requests`],
          offers: v[`${s.id}.offers`],
          replies: v[`${s.id}.replies`],
          categories: categories.filter((c) => v[`${s.id}.cat.${c}`]),
        })),
      };
      if (email) choices.email = { replies: v['email.replies'], digest: v['email.digest'] };
      await api.put('/me/notifications', choices);
      toast(t('action.saved'));
    });
  });
  mount(body, form);
}

// emailSection shows the address and whether it is confirmed, and changes
// it: the new address counts only once its link is opened, so until then
// the old one stays and the new one is shown as waiting.
function emailSection(u) {
  const parts = [h('h2', { id: 'email-heading' }, t('account.email'))];
  const state = u.email_verified === true ? badge(t('account.email.verified'), 'ok')
    : u.email_verified === false ? badge(t('account.email.unverified'), 'warn') : null;
  parts.push(h('p', { id: 'email-current' }, t('account.email.current', { email: u.email || '' }), ' ', state));
  if (u.pending_email || u.email_verified === false) {
    const pending = u.pending_email || '';
    const again = h('button', { type: 'button', class: 'btn ghost', id: 'email-resend' }, t('verify.banner.again'));
    const said = h('p', { role: 'status', class: 'resent' });
    again.addEventListener('click', () => busy(again, async () => {
      await api.post('/me/email/verification');
      said.textContent = t('verify.banner.sent', { email: pending || u.email });
    }));
    parts.push(h('p', { class: 'notice warn', id: 'email-pending' },
      pending ? t('account.email.pending', { email: pending, old: u.email || '' }) : t('account.email.confirm')), again, said);
  }
  const form = h('form', { class: 'stack card', id: 'email-form', novalidate: true },
    h('p', { class: 'hint' }, t('account.email.change.hint')),
    field({ label: t('account.email.new'), name: 'email', type: 'email', autocomplete: 'email', required: true, inputmode: 'email' }),
    field({ label: t('account.email.password'), name: 'current_password', type: 'password', autocomplete: 'current-password', required: true }),
    h('button', { type: 'submit', class: 'btn primary' }, t('account.email.change')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const v = values(form);
      await api.post('/me/email', { email: v.email, current_password: v.current_password });
      await session.loadMe();
      toast(t('account.email.sent', { email: v.email }));
      await reload();
    });
  });
  parts.push(form);
  return h('section', { class: 'stack', id: 'email-section', 'aria-labelledby': 'email-heading' }, ...parts);
}

// passwordSection changes the password: the current one confirms it. The
// server then ends every session of the account (a stolen one too), so
// this device signs in again with the new password at once.
function passwordSection(u) {
  const form = h('form', { class: 'stack card', id: 'password-form', novalidate: true },
    field({ label: t('account.password.current'), name: 'current_password', type: 'password', autocomplete: 'current-password', required: true }),
    field({ label: t('account.password.new'), name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: 8, hint: t('auth.password.hint') }),
    field({ label: t('auth.reset.repeat'), name: 'repeat', type: 'password', autocomplete: 'new-password', required: true, minlength: 8 }),
    h('button', { type: 'submit', class: 'btn primary' }, t('account.password.change')));
  const said = h('p', { role: 'status', class: 'resent', id: 'password-said', tabindex: '-1' });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const v = values(form);
      const fields = {};
      if (!v.current_password) fields.current_password = 'required';
      if (!v.password) fields.password = 'required';
      else if (v.password.length < 8) fields.password = 'too_short';
      if (!fields.password && v.repeat !== v.password) fields.repeat = 'mismatch';
      if (Object.keys(fields).length) throw new api.ApiError(422, 'validation_failed', fields);
      await api.patch('/me', { password: v.password, current_password: v.current_password });
      await session.login(u.email, v.password);
      form.reset();
      said.textContent = t('account.password.changed');
      said.focus();
    });
  });
  return h('section', { class: 'stack', id: 'password-section', 'aria-labelledby': 'password-heading' },
    h('h2', { id: 'password-heading' }, t('account.password')), h('p', { class: 'hint' }, t('account.password.text')), form, said);
}

// streetsSection lists my streets, each with "leave": asked first; the
// last admin of a street is told to name another admin before leaving.
function streetsSection() {
  const mine = session.streets().filter((s) => s.status === 'active' || s.status === 'pending');
  const row = (s) => {
    const titleId = uid('my-street');
    const said = h('p', { class: 'field-error', role: 'alert', hidden: true });
    const leave = h('button', { type: 'button', class: 'btn ghost danger leave-street', 'aria-describedby': titleId },
      s.status === 'pending' ? t('account.streets.withdraw') : t('account.streets.leave'));
    const li = h('li', { class: 'card my-street', 'data-street-id': s.id },
      h('h3', { id: titleId }, s.name),
      h('p', { class: 'meta' }, [s.city, s.role === 'admin' ? t('street.admin') : '', s.status === 'pending' ? t('street.pending') : ''].filter(Boolean).join(' · ')),
      said, h('div', { class: 'actions' }, leave));
    leave.addEventListener('click', async () => {
      const ok = await ask({ title: t('account.streets.leave.title', { name: s.name }), text: t('account.streets.leave.text'), confirm: leave.textContent, danger: true });
      if (!ok) return;
      said.hidden = true;
      await busy(leave, async () => {
        try {
          await api.del(`/streets/${s.id}/members/me`);
        } catch (err) {
          if (!(err instanceof api.ApiError) || err.code !== 'last_admin') throw err;
          mount(said, t('account.streets.lastadmin'), ' ',
            h('a', { href: `/streets/${s.id}/admin/members` }, t('account.streets.lastadmin.action')));
          said.hidden = false;
          return;
        }
        const list = li.parentElement;
        li.remove();
        await session.loadMe().catch(() => {});
        toast(t('account.streets.left', { name: s.name }));
        const heading2 = document.getElementById('streets-heading');
        if (list && !list.children.length) list.replaceWith(h('p', { class: 'state' }, t('streets.none')));
        if (heading2) {
          heading2.setAttribute('tabindex', '-1');
          heading2.focus();
        }
      });
    });
    return li;
  };
  return h('section', { class: 'stack', id: 'streets-section', 'aria-labelledby': 'streets-heading' },
    h('h2', { id: 'streets-heading' }, t('account.streets')),
    mine.length ? h('ul', { class: 'list cards', id: 'account-streets' }, mine.map(row)) : h('p', { class: 'state' }, t('streets.none')));
}

// paperSection is the choice never to appear on paper: a street's admins
// and its desk's volunteers print the street's open requests and offers
// (title, category, first name and initial) for the neighbours who never
// open the app. The switch saves at once; a refused save puts it back.
function paperSection(u) {
  const id = uid('never-on-paper');
  const hintId = `${id}-hint`;
  const box = h('input', { type: 'checkbox', role: 'switch', id, name: 'never_on_paper', checked: u.on_paper === false, 'aria-describedby': hintId });
  box.addEventListener('change', async () => {
    const never = box.checked;
    box.disabled = true;
    try {
      await api.patch('/me', { on_paper: !never });
      await session.loadMe().catch(() => {});
      toast(t(never ? 'account.paper.never.ok' : 'account.paper.again.ok'));
    } catch (err) {
      box.checked = !never;
      toast(api.message(err), 'error');
    } finally {
      box.disabled = false;
    }
  });
  return h('section', { class: 'stack', id: 'paper-section', 'aria-labelledby': 'paper-heading' },
    h('h2', { id: 'paper-heading' }, t('account.paper')),
    h('p', { id: hintId }, t('account.paper.text')),
    h('div', { class: 'check switch' }, box, h('label', { for: id }, t('account.paper.never'))));
}

/** account is the account screen. */
export function account(ctx) {
  const u = session.state.user;
  const form = h('form', { class: 'stack card', id: 'account-form', novalidate: true },
    field({ label: t('auth.name'), name: 'name', required: true, maxlength: 80, value: u.name, autocomplete: 'name' }),
    field({ label: t('auth.language'), name: 'locale', type: 'select', value: lang(), options: languages.map((l) => [l, t(`lang.name.${l}`)]) }),
    h('button', { type: 'submit', class: 'btn primary' }, t('action.save')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const v = values(form);
      await api.patch('/me', { name: v.name, locale: v.locale });
      await session.loadMe();
      if (v.locale !== lang()) {
        await choose(v.locale);
        document.dispatchEvent(new Event('civico:language'));
      }
      toast(t('action.saved'));
      await reload();
    });
  });
  const exp = h('button', { type: 'button', class: 'btn ghost', id: 'export' }, t('account.export'));
  exp.addEventListener('click', () => busy(exp, () => api.download('/me/export', 'civico-export.json')));
  const out = h('button', { type: 'button', class: 'btn', id: 'signout' }, t('account.signout'));
  out.addEventListener('click', () => busy(out, async () => {
    await session.logout(await push.endpoint());
    await navigate('/signin', { replace: true });
  }));
  const del = h('button', { type: 'button', class: 'btn danger', id: 'delete-account' }, t('account.delete'));
  del.addEventListener('click', async () => {
    const pw = await ask({ title: t('account.delete.title'), text: t('account.delete.text'), label: t('auth.password'), type: 'password', required: true, danger: true, confirm: t('account.delete'), maxlength: 1024 });
    if (!pw) return;
    await busy(del, async () => {
      await api.del('/me', { password: pw });
      await session.clear();
      toast(t('account.deleted'));
      await navigate('/signin', { replace: true });
    });
  });
  mount(ctx.main, heading(t('account.title'), h('p', { class: 'lead' }, u.email || '')), form, profileSection(), paperSection(u), emailSection(u),
    passwordSection(u), streetsSection(),
    h('section', { class: 'stack', 'aria-labelledby': 'data-heading' }, h('h2', { id: 'data-heading' }, t('account.data')),
      h('p', null, t('account.data.text')), h('div', { class: 'actions' }, exp, out, del)));
}
