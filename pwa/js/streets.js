// My streets, the street directory, creating a street and joining one
// (with a message for the admins, or an invite link).
import { h, mount } from './dom.js';
import { t, tn } from './i18n.js';
import * as api from './api.js';
import * as session from './session.js';
import { navigate } from './router.js';
import { ask, badge, empty, failure, field, heading, loading, more, submitting, toast, values } from './ui.js';

function statusBadge(m) {
  if (!m) return null;
  if (m.status === 'pending') return badge(t('street.pending'), 'warn');
  if (m.status === 'banned') return badge(t('street.banned'), 'danger');
  if (m.role === 'admin') return badge(t('street.admin'), 'info');
  return null;
}

/** home lists my streets, with the ways to find or create one. */
export async function home(ctx) {
  const actions = h('div', { class: 'actions' },
    h('a', { href: '/streets', class: 'btn primary' }, t('streets.find')),
    h('a', { href: '/streets/new', class: 'btn' }, t('streets.create')));
  const body = h('div', { id: 'my-streets' }, loading());
  mount(ctx.main, heading(t('streets.mine'), h('p', { class: 'lead' }, t('streets.mine.lead', { name: session.state.user.name }))), body, actions);
  try {
    await session.loadMe();
  } catch (err) {
    if (!(err instanceof api.ApiError && err.offline)) {
      if (!ctx.current()) return;
      mount(body, failure(err, () => home(ctx)));
      return;
    }
  }
  if (!ctx.current()) return;
  const mine = session.streets().filter((s) => s.status !== 'left');
  if (mine.length === 0) {
    mount(body, empty(t('streets.none')));
    return;
  }
  mount(body, h('ul', { class: 'list cards' }, mine.map((s) => h('li', { class: 'card street', 'data-street-id': s.id },
    h('h2', null, s.status === 'pending' ? s.name : h('a', { href: `/streets/${s.id}` }, s.name)),
    h('p', { class: 'meta' }, s.city || '', ' ', statusBadge(s)),
    s.status === 'pending' ? h('p', { class: 'hint' }, t('street.pending.text')) : null))));
}

async function requestJoin(street, button) {
  const text = await ask({
    title: t('join.title', { name: street.name }),
    text: t('join.text'),
    label: t('join.message'),
    hint: t('join.message.hint'),
    confirm: t('join.send'),
    maxlength: 500,
  });
  if (text === null) return;
  button.disabled = true;
  try {
    const res = await api.post(`/streets/${street.id}/join`, text ? { message: text } : {});
    await session.loadMe().catch(() => {});
    if (res && res.status === 'active') {
      toast(t('join.welcome', { name: street.name }));
      navigate(`/streets/${street.id}`);
      return;
    }
    toast(t('join.sent'));
    button.replaceWith(badge(t('street.pending'), 'warn'));
  } catch (err) {
    button.disabled = false;
    toast(api.message(err), 'error');
  }
}

function streetCard(s) {
  const mine = session.street(s.id);
  let action;
  if (mine && mine.status === 'active') action = h('a', { href: `/streets/${s.id}`, class: 'btn' }, t('streets.open'));
  else if (mine) action = statusBadge(mine);
  else {
    action = h('button', { type: 'button', class: 'btn primary' }, t('streets.join'));
    action.addEventListener('click', () => requestJoin(s, action));
  }
  return h('li', { class: 'card street', 'data-street-id': s.id },
    h('h2', null, s.name),
    h('p', { class: 'meta' }, [s.city, s.member_count !== undefined ? tn('streets.members', s.member_count) : null].filter(Boolean).join(' · ')),
    s.description ? h('p', null, s.description) : null,
    h('div', { class: 'actions' }, action));
}

/** directory searches the public street directory. */
export async function directory(ctx) {
  const q = ctx.query.get('q') || '';
  const city = ctx.query.get('city') || '';
  const form = h('form', { class: 'filters', role: 'search', id: 'directory-search' },
    field({ label: t('streets.search'), name: 'q', type: 'search', value: q, maxlength: 100 }),
    field({ label: t('streets.city'), name: 'city', value: city, maxlength: 80, autocomplete: 'address-level2' }),
    h('button', { type: 'submit', class: 'btn' }, t('action.search')));
  const list = h('ul', { class: 'list cards', id: 'directory' });
  const body = h('div', { 'aria-live': 'polite' }, loading());
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = values(form);
    const p = new URLSearchParams();
    if (v.q) p.set('q', v.q);
    if (v.city) p.set('city', v.city);
    navigate(`/streets${p.toString() ? `?${p}` : ''}`, { replace: true });
  });
  mount(ctx.main, heading(t('streets.directory'), h('p', { class: 'lead' }, t('streets.directory.lead'))), form, body,
    h('p', null, t('streets.notfound'), ' ', h('a', { href: '/streets/new' }, t('streets.create'))));
  const load = async (cursor) => {
    const res = await api.get('/streets', { q, city, cursor, limit: 20 }, { signal: ctx.signal });
    if (!ctx.current()) return;
    for (const s of res.items || []) list.append(streetCard(s));
    const m = more(res.next_cursor, load);
    mount(body, list.children.length ? list : empty(q || city ? t('streets.noresults') : t('streets.empty')), m);
  };
  try {
    await load('');
  } catch (err) {
    if (err.name === 'AbortError') return;
    mount(body, failure(err, () => directory(ctx)));
  }
}

/** create makes a new street; its creator is the admin. */
export function create(ctx) {
  const form = h('form', { class: 'stack card', id: 'street-form', novalidate: true },
    field({ label: t('street.name'), name: 'name', required: true, maxlength: 80, hint: t('street.name.hint') }),
    field({ label: t('streets.city'), name: 'city', required: true, maxlength: 80, autocomplete: 'address-level2' }),
    field({ label: t('street.description'), name: 'description', type: 'textarea', maxlength: 1000, hint: t('street.description.hint') }),
    h('button', { type: 'submit', class: 'btn primary wide' }, t('streets.create')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const s = await api.post('/streets', values(form));
      await session.loadMe().catch(() => {});
      toast(t('street.created'));
      await navigate(`/streets/${s.id}`);
    });
  });
  mount(ctx.main, heading(t('streets.create'), h('p', { class: 'lead' }, t('street.create.lead'))), form);
}

/** join is where an invite link lands, and where one asks to join a street. */
export async function join(ctx) {
  const sid = ctx.params.sid || ctx.query.get('street') || '';
  const code = ctx.query.get('code') || '';
  mount(ctx.main, heading(t('join.heading')), loading());
  let street;
  try {
    street = await api.get(`/streets/${sid}`, undefined, { signal: ctx.signal });
  } catch (err) {
    if (err.name === 'AbortError') return;
    mount(ctx.main, heading(t('join.heading')), failure(err, () => join(ctx)));
    return;
  }
  if (!ctx.current()) return;
  const mine = session.street(sid);
  if (mine && mine.status === 'active') {
    navigate(`/streets/${sid}`, { replace: true });
    return;
  }
  const form = h('form', { class: 'stack card', id: 'join-form', novalidate: true },
    code ? h('p', null, t('join.invited')) : field({ label: t('join.message'), name: 'message', type: 'textarea', maxlength: 500, hint: t('join.message.hint') }),
    h('button', { type: 'submit', class: 'btn primary wide' }, code ? t('join.accept') : t('join.send')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const v = values(form);
      const body = code ? { invite_code: code } : (v.message ? { message: v.message } : {});
      const res = await api.post(`/streets/${sid}/join`, body);
      await session.loadMe().catch(() => {});
      if (res && res.status === 'active') {
        toast(t('join.welcome', { name: street.name }));
        await navigate(`/streets/${sid}`, { replace: true });
      } else {
        toast(t('join.sent'));
        await navigate('/', { replace: true });
      }
    });
  });
  mount(ctx.main, heading(street.name, h('p', { class: 'lead' }, street.city || '')),
    street.description ? h('p', null, street.description) : null,
    mine && mine.status === 'pending' ? h('p', { class: 'state' }, t('street.pending.text')) : form);
}
