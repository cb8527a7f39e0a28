// Private conversations between two neighbours: the inbox (most recent
// first, unread counts, updated live from my own channel) and the compose
// screen where the first message to someone is written. The conversation
// itself is conversation.js.
import { h, mount } from './dom.js';
import { t, tn, ago } from './i18n.js';
import * as api from './api.js';
import * as mailbox from './mailbox.js';
import * as session from './session.js';
import { navigate } from './router.js';
import { badge, empty, failure, field, heading, loading, more, submitting, values } from './ui.js';

/** name is how the other person is shown (a deleted account keeps its pseudonym). */
export function personName(w) {
  if (!w) return '';
  return w.name || (w.deleted ? t('conv.deleted') : '');
}

function preview(c) {
  const m = c.last_message;
  if (!m || !m.body) return null;
  return h('p', { class: 'conv-preview' }, m.mine ? h('span', { class: 'conv-you' }, `${t('conv.you')}: `) : null, m.body);
}

function item(c) {
  const name = personName(c.with);
  const notes = [];
  if (c.unread > 0) notes.push(badge(tn('conv.unread', c.unread), 'info unread-count'));
  if (c.blocked) notes.push(badge(t('conv.blocked.badge'), 'danger'));
  else if (!c.open) notes.push(badge(t('conv.closed.badge'), 'warn'));
  return h('li', { class: `card conversation${c.unread > 0 ? ' unread' : ''}`, 'data-conversation-id': c.id },
    h('h2', { class: 'conv-name' }, h('a', { href: `/conversations/${encodeURIComponent(c.id)}`, class: 'conv-link' }, name)),
    h('p', { class: 'meta' }, [c.post_title ? t('conv.about', { title: c.post_title }) : '', ago(c.last_at)].filter(Boolean).join(' · ')),
    preview(c),
    notes.length ? h('p', { class: 'tags' }, notes) : null);
}

/** inbox is the list of my conversations. */
export async function inbox(ctx) {
  mount(ctx.main, heading(t('conv.inbox.title')), loading());
  ctx.cleanup(mailbox.watch());
  const list = h('ul', { class: 'list cards conversations', id: 'conversations' });
  const pager = h('div', { class: 'pager' });
  const live = h('p', { class: 'sr-only', id: 'inbox-live', role: 'status', 'aria-live': 'polite' });
  const body = h('div');
  const byId = new Map();
  let cursor = '';
  let pages = 0;

  const draw = () => {
    // By time, not by text: the server's times have as many decimals as they need.
    const all = [...byId.values()].sort((a, b) => (Date.parse(b.last_at) || 0) - (Date.parse(a.last_at) || 0));
    list.replaceChildren(...all.map(item));
    if (all.length === 0) mount(body, empty(t('conv.inbox.empty')));
    else mount(body, list);
    mount(pager, more(cursor, page));
  };
  const page = async (from) => {
    const res = await api.get('/conversations', { cursor: from, limit: 30 }, { signal: ctx.signal });
    if (!ctx.current()) return;
    for (const c of res.items || []) byId.set(c.id, c);
    cursor = res.next_cursor || '';
    pages += 1;
    draw();
  };
  // The first page again: what changed comes first; the older pages
  // already loaded stay.
  const refresh = async () => {
    try {
      const res = await api.get('/conversations', { limit: 30 }, { signal: ctx.signal });
      if (!ctx.current()) return;
      for (const c of res.items || []) byId.set(c.id, c);
      if (pages <= 1) cursor = res.next_cursor || '';
      draw();
    } catch {
      // The next frame or visit brings it.
    }
  };

  try {
    await page('');
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.current()) return;
    mount(ctx.main, heading(t('conv.inbox.title')), failure(err, () => inbox(ctx)));
    return;
  }
  mount(ctx.main, heading(t('conv.inbox.title'), h('p', { class: 'lead' }, t('conv.inbox.lead'))), live, body, pager);

  const on = (type, fn) => {
    mailbox.events.addEventListener(type, fn);
    ctx.cleanup(() => mailbox.events.removeEventListener(type, fn));
  };
  on('frame', (e) => {
    const frame = e.detail || {};
    const d = frame.data || {};
    if (frame.type === 'message.created') {
      const m = d.message || {};
      const c = byId.get(d.conversation_id);
      if (c && !m.mine) live.textContent = t('conv.arrived', { name: personName(c.with) });
      refresh().then(() => {
        const fresh = byId.get(d.conversation_id);
        if (!c && fresh && !m.mine) live.textContent = t('conv.arrived', { name: personName(fresh.with) });
      });
    } else if (frame.type === 'conversation.read') {
      const c = byId.get(d.conversation_id);
      if (c && c.unread) {
        byId.set(c.id, { ...c, unread: 0 });
        draw();
      }
    }
  });
  on('reset', refresh);
  on('live', (e) => {
    if (!(e.detail && e.detail.resumed)) refresh();
  });
}

/**
 * compose writes the first message to someone: ?to (their id), ?street
 * (the street we share), ?post (what it is about), ?name. The server reuses
 * our conversation if we already have one; either way I land on it.
 */
export async function compose(ctx) {
  const to = ctx.query.get('to') || '';
  const street = ctx.query.get('street') || '';
  const pid = ctx.query.get('post') || '';
  const name = (ctx.query.get('name') || '').slice(0, 80);
  const title = name ? t('conv.new.title', { name }) : t('conv.new.title.anon');
  if (!to || !street || to === session.state.user.id) {
    mount(ctx.main, heading(title), h('div', { class: 'state error', role: 'alert' }, h('p', null, t(to && to === session.state.user.id ? 'conv.new.self' : 'conv.new.missing'))),
      h('p', null, h('a', { href: '/conversations', class: 'btn' }, t('conv.back'))));
    return;
  }
  const about = h('p', { class: 'meta', id: 'compose-about' });
  const form = h('form', { class: 'stack', id: 'conversation-form', novalidate: true },
    field({ label: t('conv.message.label'), name: 'body', type: 'textarea', required: true, maxlength: 2000, rows: 5, hint: t('conv.new.hint', { name: name || t('conv.someone') }) }),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'btn primary' }, t('conv.send')),
      h('a', { href: pid ? `/posts/${encodeURIComponent(pid)}` : '/conversations', class: 'btn ghost' }, t('action.cancel'))));
  let idem = api.key();
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const v = values(form);
      if (!v.body) throw new api.ApiError(422, 'validation_failed', { body: 'required' });
      const req = { user_id: to, street_id: street, body: v.body };
      if (pid) req.post_id = pid;
      const res = await api.post('/conversations', req, { headers: { 'Idempotency-Key': idem } });
      idem = api.key();
      const conv = (res && res.conversation) || res || {};
      mailbox.recount();
      // Replace: back from the conversation goes to where I came from.
      await navigate(`/conversations/${encodeURIComponent(conv.id)}`, { replace: true });
    });
  });
  mount(ctx.main, heading(title, h('p', { class: 'lead' }, t('conv.new.lead', { name: name || t('conv.someone') }))), about, form);
  if (pid) {
    // What it is about, for the writer's eyes: the post's title; and the
    // name as the post says it, not as the link did.
    api.get(`/posts/${encodeURIComponent(pid)}`, undefined, { signal: ctx.signal }).then((p) => {
      if (!ctx.current() || !p) return;
      if (p.title) about.textContent = t('conv.about', { title: p.title });
      const idOf = (x) => x.author_id || (x.author && x.author.id);
      const nameOf = (x) => (x.author_deleted ? '' : x.author_name || (x.author && x.author.name) || '');
      const who = [p, ...(p.replies || [])].find((x) => idOf(x) === to);
      const real = who && nameOf(who);
      const h1 = ctx.main.querySelector('h1');
      if (real && real !== name && h1) h1.textContent = t('conv.new.title', { name: real });
    }).catch(() => {});
  }
}
