// Notification settings (push on this device, and what to be told about in
// each street, with quiet hours) and the account (name, language, data
// export, closing the account, signing out).
import { h, mount } from './dom.js';
import { t, lang, languages, choose } from './i18n.js';
import * as api from './api.js';
import * as session from './session.js';
import * as push from './push.js';
import { navigate, reload } from './router.js';
import { categories } from './posts.js';
import { ask, busy, check, failure, field, heading, loading, submitting, toast, values } from './ui.js';

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

/** notifications is the notification settings screen. */
export async function notifications(ctx) {
  const body = h('div', null, loading());
  mount(ctx.main, heading(t('prefs.title'), h('p', { class: 'lead' }, t('prefs.lead'))), pushBox(), h('h2', null, t('prefs.what')), body);
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
  const form = h('form', { class: 'stack', id: 'prefs-form', novalidate: true },
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
      await api.put('/me/notifications', {
        quiet_hours: v.quiet ? { start: v['quiet_hours.start'], end: v['quiet_hours.end'] } : null,
        streets: mine.map((s) => ({
          street_id: s.id,
          requests: v[`${s.id}.requests`],
          offers: v[`${s.id}.offers`],
          replies: v[`${s.id}.replies`],
          categories: categories.filter((c) => v[`${s.id}.cat.${c}`]),
        })),
      });
      toast(t('action.saved'));
    });
  });
  mount(body, form);
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
  mount(ctx.main, heading(t('account.title'), h('p', { class: 'lead' }, u.email || '')), form,
    h('section', { class: 'stack', 'aria-labelledby': 'data-heading' }, h('h2', { id: 'data-heading' }, t('account.data')),
      h('p', null, t('account.data.text')), h('div', { class: 'actions' }, exp, out, del)));
}
