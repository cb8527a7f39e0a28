// My streets, the street directory, creating a street and joining one
// (with a message for the admins, or an invite link: signed out, the link
// shows the street's card and asks to sign up first), inviting neighbours
// (the admins, and every member where they allow it) and the skills of the
// Portinaio desks a street is linked with.
import { h, mount, uid } from './dom.js';
import { t, tn, when } from './i18n.js';
import * as api from './api.js';
import * as session from './session.js';
import { navigate } from './router.js';
import { shareButton } from './share.js';
import { ask, badge, busy, empty, failure, field, heading, loading, more, submitting, toast, values } from './ui.js';

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

// members is "12 neighbours", or nothing when the count is unknown.
function members(s) {
  return typeof s.member_count === 'number' ? tn('streets.members', s.member_count) : '';
}

// signedOutInvite is an invite link opened by someone with no session
// here: the street's public card (name, city, how many neighbours) and
// "sign up to join", which comes back to the link once signed up or in.
async function signedOutInvite(ctx, sid) {
  const back = encodeURIComponent(location.pathname + location.search);
  let street;
  try {
    street = await api.get(`/streets/${encodeURIComponent(sid)}/public`, undefined, { signal: ctx.signal, auth: false });
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.current()) return;
    mount(ctx.main, heading(t('join.heading')), failure(err, () => join(ctx)));
    return;
  }
  if (!ctx.current()) return;
  mount(ctx.main,
    h('article', { class: 'card stack', id: 'invite-card' },
      h('p', { class: 'lead' }, t('join.invited.out')),
      h('h1', { tabindex: '-1', id: 'invite-street' }, street.name),
      h('p', { class: 'lead', id: 'invite-city' }, street.city || ''),
      street.description ? h('p', null, street.description) : null,
      h('p', { class: 'meta', id: 'invite-members' }, members(street)),
      h('p', null, h('a', { href: `/signup?next=${back}`, class: 'btn primary wide', id: 'invite-signup' }, t('join.signup'))),
      h('p', { class: 'center' }, t('join.have.account'), ' ', h('a', { href: `/signin?next=${back}`, id: 'invite-signin' }, t('join.signin')))));
}

/** join is where an invite link lands, and where one asks to join a street. */
export async function join(ctx) {
  const sid = ctx.params.sid || ctx.query.get('street') || '';
  const code = ctx.query.get('code') || '';
  if (!session.signedIn()) {
    // An invite link shows whom it invites to; asking to join needs an account first.
    if (code && sid) return signedOutInvite(ctx, sid);
    return navigate(`/signin?next=${encodeURIComponent(location.pathname + location.search)}`, { replace: true });
  }
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
    h('p', { class: 'meta', id: 'join-members' }, members(street)),
    mine && mine.status === 'pending' ? h('p', { class: 'state' }, t('street.pending.text')) : form);
}

// inviteCard is one open invite: until when and how often it works, its
// link, "share" (the share sheet, or copied) and "revoke".
function inviteCard(ctx, street, inv, admin, gone) {
  const titleId = uid('invite');
  const byOther = admin && inv.created_by && inv.created_by !== session.state.user.id;
  const revoke = h('button', { type: 'button', class: 'btn ghost danger revoke-invite', 'aria-describedby': titleId }, t('grow.invite.revoke'));
  const li = h('li', { class: 'card stack invite', 'data-code': inv.code },
    h('h3', { id: titleId }, t('admin.invite.until', { when: when(inv.expires_at) })),
    h('p', { class: 'meta' }, tn('admin.invite.uses', inv.uses || 0, { max: inv.max_uses }), byOther ? ` · ${t('grow.invite.bymember')}` : ''),
    h('input', { type: 'text', readonly: true, value: inv.url, class: 'invite-link', 'aria-label': t('admin.invite.link') }),
    h('div', { class: 'actions' },
      shareButton({ url: inv.url, title: street.name, text: t('grow.share.text', { name: street.name }), cls: 'primary', describedBy: titleId }),
      revoke));
  revoke.addEventListener('click', async () => {
    const ok = await ask({ title: t('grow.invite.revoke.title'), text: t('grow.invite.revoke.text'), confirm: t('grow.invite.revoke'), danger: true });
    if (!ok) return;
    await busy(revoke, async () => {
      await api.del(`/streets/${street.id}/invites/${encodeURIComponent(inv.code)}`);
      li.remove();
      toast(t('grow.invite.revoked'));
      gone();
    });
  });
  return li;
}

// membersSwitch is the admins' choice to let every member share invite
// links; it saves at once, and a refused save puts it back.
function membersSwitch(street, changed) {
  const id = uid('members-invite');
  const hintId = `${id}-hint`;
  const box = h('input', { type: 'checkbox', role: 'switch', id, name: 'members_invite', checked: !!street.members_invite, 'aria-describedby': hintId });
  box.addEventListener('change', async () => {
    const on = box.checked;
    box.disabled = true;
    try {
      const s = await api.patch(`/streets/${street.id}`, { members_invite: on });
      street.members_invite = !!s.members_invite;
      toast(t(on ? 'grow.members.on.ok' : 'grow.members.off.ok'));
      changed();
    } catch (err) {
      box.checked = !on;
      toast(api.message(err), 'error');
    } finally {
      box.disabled = false;
    }
  });
  return h('section', { class: 'card stack', id: 'members-invite-section', 'aria-labelledby': 'members-invite-heading' },
    h('h2', { id: 'members-invite-heading' }, t('grow.members.title')),
    h('p', { id: hintId }, t('grow.members.text')),
    h('div', { class: 'check switch' }, box, h('label', { for: id }, t('grow.members.label'))));
}

/**
 * invite is where neighbours are invited: an admin always (and chooses
 * whether every member may), a member where the admins allow it. Each link
 * is shared through the phone's share sheet, or copied.
 */
export async function invite(ctx) {
  const sid = ctx.params.sid;
  mount(ctx.main, heading(t('grow.invite.title')), loading());
  let street;
  try {
    street = await api.get(`/streets/${sid}`, undefined, { signal: ctx.signal });
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.current()) return;
    mount(ctx.main, heading(t('grow.invite.title')), failure(err, () => invite(ctx)));
    return;
  }
  if (!ctx.current()) return;
  const m = street.membership;
  if (!m || m.status !== 'active') {
    mount(ctx.main, heading(t('grow.invite.title'), h('p', { class: 'lead' }, street.name)),
      h('div', { class: 'state error', role: 'alert' }, h('p', null, t('feed.notmember')),
        h('a', { href: `/streets/${sid}/join`, class: 'btn primary' }, t('streets.join'))));
    return;
  }
  const admin = m.role === 'admin';
  const box = h('div', { class: 'stack', id: 'invite-box' });
  const ul = h('ul', { class: 'list cards', id: 'street-invites' });
  const list = h('div', { id: 'invite-list' });
  const make = h('button', { type: 'button', class: 'btn primary', id: 'make-street-invite' }, t('admin.invite.make'));
  const gone = () => {
    if (!ul.children.length) mount(list, empty(t('admin.invite.none')));
    make.focus();
  };
  make.addEventListener('click', () => busy(make, async () => {
    const inv = await api.post(`/streets/${sid}/invites`, {});
    const li = inviteCard(ctx, street, inv, admin, gone);
    ul.prepend(li);
    mount(list, ul);
    toast(t('grow.invite.ready'));
    li.querySelector('button.share').focus();
  }));
  let loaded = false;
  const draw = async () => {
    if (!admin && !street.members_invite) {
      mount(box, h('p', { class: 'state', id: 'invite-admins-only' }, t('grow.invite.adminsonly')));
      return;
    }
    mount(box, admin ? null : h('p', { class: 'hint', id: 'invite-limits' }, t('grow.invite.limits')), make, list);
    if (loaded) return;
    mount(list, loading());
    const res = await api.get(`/streets/${sid}/invites`, undefined, { signal: ctx.signal });
    if (!ctx.current()) return;
    loaded = true;
    for (const inv of res.items || []) {
      // One made while the list loaded is already there.
      if (!ul.querySelector(`[data-code="${CSS.escape(inv.code)}"]`)) ul.append(inviteCard(ctx, street, inv, admin, gone));
    }
    mount(list, ul.children.length ? ul : empty(t('admin.invite.none')));
  };
  mount(ctx.main,
    heading(t('grow.invite.title'), h('p', { class: 'lead' }, street.name),
      h('p', null, h('a', { href: `/streets/${sid}`, class: 'back' }, t('post.back')))),
    h('p', null, t('admin.invite.text')),
    admin ? membersSwitch(street, () => draw().catch(() => {})) : null,
    box,
    admin ? h('p', null, h('a', { href: `/streets/${sid}/admin/invites`, id: 'invite-paper' }, t('grow.invite.paper'))) : null);
  try {
    await draw();
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.current()) return;
    mount(list, failure(err, () => draw()));
  }
}

// deskLines are how to reach a desk: the residents go through it.
function deskLines(d) {
  if (!d) return null;
  const parts = [];
  if (d.address) parts.push(h('p', null, h('strong', null, t('grow.desk.address')), ' ', d.address));
  if (d.hours) parts.push(h('p', null, h('strong', null, t('grow.desk.hours')), ' ', d.hours));
  if (d.phone) parts.push(h('p', null, h('strong', null, t('grow.desk.phone')), ' ', h('a', { href: `tel:${d.phone.replace(/[^+\d]/g, '')}` }, d.phone)));
  if (d.email) parts.push(h('p', null, h('strong', null, t('grow.desk.email')), ' ', h('a', { href: `mailto:${d.email}` }, d.email)));
  return parts.length ? h('div', { class: 'desk-contact' }, parts) : null;
}

// deskSkills is one linked desk's skills directory: first names and what
// each offers, a page at a time.
function deskSkills(ctx, link) {
  const titleId = uid('desk');
  const ul = h('ul', { class: 'list cards skills' });
  const pager = h('div', { class: 'pager' });
  const contact = h('div');
  const body = h('div', null, loading());
  const el = h('section', { class: 'stack desk-skills', 'data-association-id': link.association_id, 'aria-labelledby': titleId },
    h('h2', { id: titleId }, link.association_name), contact, body);
  const page = async (cursor) => {
    const res = await api.get(`/associations/${link.association_id}/skills`, { cursor, limit: 30 }, { signal: ctx.signal });
    if (!ctx.current()) return;
    if (!cursor) mount(contact, deskLines(res.association && res.association.desk));
    for (const it of res.items || []) {
      ul.append(h('li', { class: 'card skill' }, h('h3', null, it.first_name), h('p', null, (it.skills || []).join(', '))));
    }
    mount(pager, more(res.next_cursor, page));
    mount(body, ul.children.length ? ul : empty(t('grow.skills.empty')), pager);
  };
  const load = () => page('').catch((err) => {
    if (err.name === 'AbortError' || !ctx.current()) return;
    mount(body, failure(err, load));
  });
  return { el, load };
}

/** skills shows the skills directories of the Portinaio desks the street is linked with, for its members. */
export async function skills(ctx) {
  const sid = ctx.params.sid;
  const mine = session.street(sid);
  const top = () => heading(t('grow.skills.title'), mine ? h('p', { class: 'lead' }, mine.name) : null,
    h('p', null, h('a', { href: `/streets/${sid}`, class: 'back' }, t('post.back'))));
  mount(ctx.main, top(), loading());
  let links;
  try {
    const res = await api.get(`/streets/${sid}/links`, undefined, { signal: ctx.signal });
    links = (res.items || []).filter((l) => l.status === 'active');
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.current()) return;
    mount(ctx.main, top(), failure(err, () => skills(ctx)));
    return;
  }
  if (!ctx.current()) return;
  if (!links.length) {
    mount(ctx.main, top(), empty(t('grow.skills.none'),
      session.isAdmin(sid) ? h('a', { href: `/streets/${sid}/admin/desks`, class: 'btn' }, t('grow.skills.link')) : null));
    return;
  }
  const desks = links.map((l) => deskSkills(ctx, l));
  mount(ctx.main, top(), h('p', null, t('grow.skills.lead')), desks.map((d) => d.el));
  await Promise.all(desks.map((d) => d.load()));
}
