// A street's administration: join requests, reports, members (roles, ban
// with a reason), banned members, invite links (each also as a flyer to
// print and a QR code), the links with Portinaio desks and the audit log,
// with the way to the street's impact figures and its unanswered requests,
// and the street's board printed on paper. Every decision asks for its
// reason, which the audit log keeps.
import { h, mount, uid } from './dom.js';
import { t, tn, has, when, ago } from './i18n.js';
import * as api from './api.js';
import * as session from './session.js';
import * as links from './links.js';
import { boardButton, flyerButton, qrButton } from './paper.js';
import { writeLink } from './mailbox.js';
import { memberName } from './avatar.js';
import { ask, badge, busy, empty, failure, heading, loading, more, tabs, toast } from './ui.js';

const sections = ['requests', 'reports', 'members', 'banned', 'invites', 'desks', 'settings', 'audit'];

/** render is the admin screen of street ctx.params.sid, section ctx.params.tab. */
export async function render(ctx) {
  const sid = ctx.params.sid;
  const tab = sections.includes(ctx.params.tab) ? ctx.params.tab : 'requests';
  const s = session.street(sid);
  const base = `/streets/${sid}/admin`;
  const body = h('section', { id: `admin-${tab}`, 'aria-labelledby': 'admin-section' }, loading());
  mount(ctx.main,
    heading(t('admin.title'), h('p', { class: 'lead' }, s ? s.name : ''),
      h('p', null, h('a', { href: `/streets/${sid}`, class: 'back' }, t('admin.back'))),
      h('div', { class: 'actions' },
        h('a', { href: `/impact/streets/${sid}`, class: 'btn ghost', id: 'street-impact' }, t('admin.impact')),
        h('a', { href: `/impact/streets/${sid}?show=unanswered`, class: 'btn ghost', id: 'street-unanswered' }, t('admin.unanswered')),
        boardButton(sid, s ? s.name : '', { id: 'print-board' }))),
    tabs(t('admin.sections'), sections.map((x) => [x === 'requests' ? base : `${base}/${x}`, t(`admin.${x}`)]), tab === 'requests' ? base : `${base}/${tab}`),
    h('h2', { id: 'admin-section' }, t(`admin.${tab}`)),
    body);
  const show = { requests, reports, members, banned, invites, desks, settings, audit }[tab];
  try {
    await show(ctx, sid, body);
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.current()) return;
    mount(body, failure(err, () => render(ctx)));
  }
}

// list fetches a paginated list into a <ul>, row(item) makes each <li>.
async function list(ctx, body, path, query, row, emptyText) {
  const ul = h('ul', { class: 'list cards' });
  const pager = h('div', { class: 'pager' });
  const page = async (cursor) => {
    const res = await api.get(path, { ...query, cursor, limit: 30 }, { signal: ctx.signal });
    if (!ctx.current()) return;
    for (const item of res.items || []) ul.append(row(item, ul));
    mount(pager, more(res.next_cursor, page));
    mount(body, ul.children.length ? ul : empty(emptyText), pager);
  };
  await page('');
}

function gone(li, text) {
  li.replaceChildren(h('p', { class: 'meta' }, text));
  li.classList.add('done');
}

async function decide(button, li, sid, m, action, opts) {
  let reason = '';
  if (opts) {
    reason = await ask(opts);
    if (reason === null) return;
  }
  await busy(button, async () => {
    await api.post(`/streets/${sid}/members/${m.user_id}/${action}`, { reason: reason || '' });
    const text = t(`admin.${action}.ok`, { name: m.name });
    toast(text);
    gone(li, text);
  });
}

function requests(ctx, sid, body) {
  return list(ctx, body, `/streets/${sid}/members`, { status: 'pending' }, (m) => {
    const li = h('li', { class: 'card', 'data-user-id': m.user_id });
    const approve = h('button', { type: 'button', class: 'btn primary approve' }, t('admin.approve'));
    const reject = h('button', { type: 'button', class: 'btn ghost reject' }, t('admin.reject'));
    approve.addEventListener('click', () => decide(approve, li, sid, m, 'approve'));
    reject.addEventListener('click', () => decide(reject, li, sid, m, 'reject', {
      title: t('admin.reject.title', { name: m.name }), label: t('admin.reason'), hint: t('admin.reason.hint'), required: true, confirm: t('admin.reject'), danger: true,
    }));
    li.append(h('h3', null, m.name), h('p', { class: 'meta' }, ago(m.requested_at || m.updated_at)),
      m.message ? h('blockquote', { class: 'message' }, m.message) : h('p', { class: 'meta' }, t('admin.nomessage')),
      h('div', { class: 'actions' }, approve, reject));
    return li;
  }, t('admin.requests.none'));
}

function members(ctx, sid, body) {
  const me = session.state.user.id;
  return list(ctx, body, `/streets/${sid}/members`, { status: 'active' }, (m) => {
    const li = h('li', { class: 'card', 'data-user-id': m.user_id });
    const acts = [];
    if (m.user_id !== me) {
      const role = h('button', { type: 'button', class: 'btn ghost' }, m.role === 'admin' ? t('admin.role.member') : t('admin.role.admin'));
      role.addEventListener('click', () => busy(role, async () => {
        const next = m.role === 'admin' ? 'member' : 'admin';
        await api.put(`/streets/${sid}/members/${m.user_id}/role`, { role: next });
        m.role = next;
        toast(t(`admin.role.${next}.ok`, { name: m.name }));
        role.textContent = next === 'admin' ? t('admin.role.member') : t('admin.role.admin');
      }));
      const ban = h('button', { type: 'button', class: 'btn danger ban' }, t('admin.ban'));
      ban.addEventListener('click', () => decide(ban, li, sid, m, 'ban', {
        title: t('admin.ban.title', { name: m.name }), text: t('admin.ban.text'), label: t('admin.reason'), hint: t('admin.reason.hint'), required: true, confirm: t('admin.ban'), danger: true,
      }));
      const write = writeLink({ to: m.user_id, name: m.name, street: sid, small: true });
      if (write) acts.push(write);
      acts.push(role, ban);
    }
    li.append(h('h3', null, memberName(sid, m.user_id, m.name), ' ', m.role === 'admin' ? badge(t('street.admin'), 'info') : null),
      h('p', { class: 'meta' }, m.joined_at ? t('admin.joined', { when: ago(m.joined_at) }) : ''),
      acts.length ? h('div', { class: 'actions' }, acts) : null);
    return li;
  }, t('admin.members.none'));
}

function banned(ctx, sid, body) {
  return list(ctx, body, `/streets/${sid}/members`, { status: 'banned' }, (m) => {
    const li = h('li', { class: 'card', 'data-user-id': m.user_id });
    const unban = h('button', { type: 'button', class: 'btn ghost' }, t('admin.unban'));
    unban.addEventListener('click', () => decide(unban, li, sid, m, 'unban', {
      title: t('admin.unban.title', { name: m.name }), label: t('admin.reason'), required: true, confirm: t('admin.unban'),
    }));
    li.append(h('h3', null, m.name), m.reason ? h('p', null, t('admin.banned.reason', { reason: m.reason })) : null,
      h('div', { class: 'actions' }, unban));
    return li;
  }, t('admin.banned.none'));
}

function target(r) {
  const kind = t(`report.target.${r.target}`);
  const what = r.target_title || r.target_name || r.excerpt || '';
  return what ? `${kind}: ${what}` : kind;
}

function reports(ctx, sid, body) {
  return list(ctx, body, `/streets/${sid}/reports`, { status: 'open' }, (r) => {
    const li = h('li', { class: 'card', 'data-report-id': r.id });
    const resolve = h('button', { type: 'button', class: 'btn primary resolve' }, t('admin.resolve'));
    resolve.addEventListener('click', async () => {
      const choices = [['dismiss', t('admin.resolve.dismiss')], ['remove', t(`admin.resolve.remove.${r.target}`)]];
      choices.push(['ban', t('admin.resolve.ban')]);
      const res = await ask({ title: t('admin.resolve.title'), choices, choicesLegend: t('admin.resolve.what'), label: t('admin.reason'), hint: t('admin.reason.hint'), required: true, confirm: t('admin.resolve') });
      if (!res) return;
      await busy(resolve, async () => {
        await api.post(`/reports/${r.id}/resolve`, { action: res.choice, reason: res.text });
        const text = t('admin.resolve.ok');
        toast(text);
        gone(li, text);
      });
    });
    const open = r.target === 'post' ? h('a', { href: `/posts/${r.target_id}`, class: 'btn ghost' }, t('admin.report.open'))
      : (r.post_id ? h('a', { href: `/posts/${r.post_id}`, class: 'btn ghost' }, t('admin.report.open')) : null);
    li.append(h('h3', null, target(r)), h('p', null, t('admin.report.reason', { reason: r.reason })),
      h('p', { class: 'meta' }, [r.reporter_name, r.created_at ? ago(r.created_at) : ''].filter(Boolean).join(' · ')),
      h('div', { class: 'actions' }, resolve, open));
    return li;
  }, t('admin.reports.none'));
}

function inviteUrl(inv, sid) {
  if (inv.url) return inv.url;
  return `${location.origin}/streets/${sid}/join?code=${encodeURIComponent(inv.code)}`;
}

// inviteCard is one open invite: its link to copy or share, until when it
// works and how often it was used, and the same invitation on paper (a
// flyer for the street's doors) and as a QR code (for a chat).
function inviteCard(inv, sid, name) {
  const link = inviteUrl(inv, sid);
  const titleId = uid('invite');
  const input = h('input', { type: 'text', readonly: true, value: link, class: 'invite-link', 'aria-label': t('admin.invite.link') });
  const copy = h('button', { type: 'button', class: 'btn', 'aria-describedby': titleId }, t('admin.invite.copy'));
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(link);
      toast(t('admin.invite.copied'));
    } catch {
      input.select();
    }
  });
  const share = navigator.share ? h('button', { type: 'button', class: 'btn ghost', 'aria-describedby': titleId }, t('admin.invite.share')) : null;
  if (share) share.addEventListener('click', () => navigator.share({ title: 'Civico', url: link }).catch(() => {}));
  const paper = { 'aria-describedby': titleId };
  return h('li', { class: 'card stack invite', 'data-code': inv.code },
    h('h3', { id: titleId }, t('admin.invite.until', { when: when(inv.expires_at) })),
    inv.max_uses ? h('p', { class: 'meta' }, tn('admin.invite.uses', inv.uses || 0, { max: inv.max_uses })) : null,
    input,
    h('div', { class: 'actions' }, copy, share, flyerButton(sid, inv.code, name, paper), qrButton(sid, inv.code, link, name, paper)));
}

async function invites(ctx, sid, body) {
  const s = session.street(sid);
  const name = s ? s.name : '';
  const ul = h('ul', { class: 'list cards', id: 'invites' });
  // No live region: the list would be read whole; a new invite takes the focus.
  const out = h('div', { id: 'invite-out' }, loading());
  const make = h('button', { type: 'button', class: 'btn primary', id: 'make-invite' }, t('admin.invite.make'));
  make.addEventListener('click', () => busy(make, async () => {
    const inv = await api.post(`/streets/${sid}/invites`, {});
    const card = inviteCard(inv, sid, name);
    ul.prepend(card);
    mount(out, ul);
    card.querySelector('.invite-link').focus();
  }));
  mount(body, h('p', null, t('admin.invite.text')), h('p', null, t('admin.invite.paper')), make, out);
  const res = await api.get(`/streets/${sid}/invites`, undefined, { signal: ctx.signal });
  if (!ctx.current()) return;
  for (const inv of res.items || []) {
    // One made while the list loaded is already there.
    if (!ul.querySelector(`[data-code="${CSS.escape(inv.code)}"]`)) ul.append(inviteCard(inv, sid, name));
  }
  mount(out, ul.children.length ? ul : empty(t('admin.invite.none')));
}

// settings holds the street's own choices: whether it is listed in the
// public directory (and open to search engines) or reachable by link only.
// The switch saves at once; a refused save puts it back.
async function settings(ctx, sid, body) {
  const st = await api.get(`/streets/${sid}`, undefined, { signal: ctx.signal });
  if (!ctx.current()) return;
  const id = uid('listed');
  const hintId = `${id}-hint`;
  const box = h('input', { type: 'checkbox', role: 'switch', id, name: 'listed', checked: st.listed !== false, 'aria-describedby': hintId });
  const state = h('p', { class: 'meta', id: 'listed-state' });
  const say = () => {
    state.textContent = box.checked ? t('admin.listed.on') : t('admin.listed.off');
  };
  say();
  box.addEventListener('change', async () => {
    const listed = box.checked;
    box.disabled = true;
    try {
      await api.patch(`/streets/${sid}`, { listed });
      toast(listed ? t('admin.listed.on.ok') : t('admin.listed.off.ok'));
    } catch (err) {
      box.checked = !listed;
      toast(api.message(err), 'error');
    } finally {
      box.disabled = false;
      say();
    }
  });
  const page = st.slug ? `${location.origin}/s/${st.slug}` : '';
  mount(body,
    h('section', { class: 'stack', id: 'listed-section', 'aria-labelledby': 'listed-heading' },
      h('h3', { id: 'listed-heading' }, t('admin.listed.title')),
      h('p', { id: hintId }, t('admin.listed.text')),
      h('div', { class: 'check switch' }, box, h('label', { for: id }, t('admin.listed'))),
      state,
      page ? h('p', { class: 'link-line' }, t('admin.listed.page'), ' ', h('a', { href: page, target: '_blank', rel: 'noopener', id: 'public-page' }, page)) : null));
}

function desks(ctx, sid, body) {
  return links.render(ctx, body, { kind: 'street', id: sid, edit: true });
}

// auditWho is who did it: a deleted account's entries keep no name (its id
// became a pseudonym), and an entry with no actor is the system's.
function auditWho(e) {
  if (e.actor_name) return e.actor_name;
  return e.actor_id ? t('audit.actor.deleted') : t('audit.actor.system');
}

// auditWhat is the action in words, with whom or what it was about.
function auditWhat(e) {
  const parts = [has(`audit.${e.action}`) ? t(`audit.${e.action}`) : e.action];
  if (e.target_name) parts.push(e.target_name);
  else if (e.target_type === 'member' && e.target_id) parts.push(t('audit.actor.deleted'));
  if (e.action === 'member.role' && has(`audit.role.${e.detail}`)) parts.push(t(`audit.role.${e.detail}`));
  return parts.join(' · ');
}

// auditWhy is the reason an admin wrote, or the words for one the server
// gave as a code (a deleted account).
function auditWhy(e) {
  if (!e.reason) return '';
  return has(`audit.reason.${e.reason}`) ? t(`audit.reason.${e.reason}`) : e.reason;
}

async function audit(ctx, sid, body) {
  const table = h('tbody');
  const pager = h('div', { class: 'pager' });
  const page = async (cursor) => {
    const res = await api.get(`/streets/${sid}/audit`, { cursor, limit: 50 }, { signal: ctx.signal });
    if (!ctx.current()) return;
    for (const e of res.items || []) {
      table.append(h('tr', null,
        h('td', null, h('time', { datetime: e.at }, when(e.at))),
        h('td', null, auditWho(e)),
        h('td', null, auditWhat(e)),
        h('td', null, auditWhy(e))));
    }
    mount(pager, more(res.next_cursor, page));
    if (!table.children.length) {
      mount(body, empty(t('admin.audit.none')));
      return;
    }
    mount(body, h('div', { class: 'table-wrap' }, h('table', null,
      h('caption', { class: 'sr-only' }, t('admin.audit')),
      h('thead', null, h('tr', null, ['audit.when', 'audit.who', 'audit.what', 'audit.why'].map((k) => h('th', { scope: 'col' }, t(k))))),
      table)), pager);
  };
  await page('');
}

