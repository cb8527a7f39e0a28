// One private conversation: the messages, oldest at the top with the
// earlier ones on request, the reply box (focus stays in it after
// sending), new messages arriving live from my own channel and marked read
// while I look at them, block and unblock, and reporting one message to
// the street's admins. A closed conversation (no street shared any more)
// or one with someone I blocked shows why instead of the reply box.
import { h, mount } from './dom.js';
import { t, lang } from './i18n.js';
import * as api from './api.js';
import * as mailbox from './mailbox.js';
import * as session from './session.js';
import { personName } from './conversations.js';
import { ask, badge, busy, failure, field, heading, loading, submitting, values } from './ui.js';

const PAGE = 30;

// stamp is a message's time: the hour today, the date and hour before.
function stamp(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const today = d.toDateString() === new Date().toDateString();
  const opts = today ? { hour: '2-digit', minute: '2-digit' } : { dateStyle: 'medium', timeStyle: 'short' };
  return new Intl.DateTimeFormat(lang(), opts).format(d);
}

function short(text, n = 120) {
  const s = String(text || '');
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}


/** render shows conversation ctx.params.cid. */
export async function render(ctx) {
  const cid = ctx.params.cid;
  const path = `/conversations/${encodeURIComponent(cid)}`;
  mount(ctx.main, heading(t('conv.title.loading')), loading());
  ctx.cleanup(mailbox.watch());
  let conv;
  let first;
  try {
    [conv, first] = await Promise.all([
      api.get(path, undefined, { signal: ctx.signal }),
      api.get(`${path}/messages`, { limit: PAGE }, { signal: ctx.signal }),
    ]);
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.current()) return;
    mount(ctx.main, heading(t('conv.title.loading')), failure(err, () => render(ctx)));
    return;
  }
  if (!ctx.current()) return;
  const me = session.state.user.id;
  // The messages by id, each with its rank in the server's order: a page
  // (newest first) ranks below what is known, a new message above it. The
  // time decides first; the rank settles messages of the same millisecond.
  const msgs = new Map();
  const rank = new Map();
  let low = 0;
  let high = 0;
  const older = (items) => {
    for (const m of items || []) {
      if (!rank.has(m.id)) rank.set(m.id, low--);
      msgs.set(m.id, m);
    }
  };
  const newer = (m) => {
    if (!rank.has(m.id)) rank.set(m.id, ++high);
    msgs.set(m.id, m);
  };
  const order = (a, b) => (Date.parse(a.at) || 0) - (Date.parse(b.at) || 0) || rank.get(a.id) - rank.get(b.id);
  older(first.items);
  let cursor = first.next_cursor || '';
  let idem = api.key();
  let unseen = false;

  const other = () => conv.with || {};
  const name = () => personName(other());
  const mine = (m) => (typeof m.mine === 'boolean' ? m.mine : m.author_id === me);

  const live = h('p', { class: 'sr-only', id: 'conv-live', role: 'status', 'aria-live': 'polite' });
  // A new node each time, so the same words said twice are said twice.
  const announce = (text) => live.replaceChildren(h('span', null, text));
  const top = h('div');
  const tools = h('div', { class: 'conv-tools' });
  const list = h('ol', { class: 'messages', id: 'messages', 'aria-labelledby': 'messages-heading' });
  const earlier = h('button', { type: 'button', class: 'btn ghost more', id: 'load-earlier' }, t('conv.earlier'));
  const bottom = h('div', { class: 'conv-bottom', id: 'conv-bottom' });
  const form = h('form', { class: 'stack message-form', id: 'message-form', novalidate: true },
    field({ label: t('conv.reply.label'), name: 'body', type: 'textarea', required: true, maxlength: 2000, rows: 3 }),
    h('button', { type: 'submit', class: 'btn primary' }, t('conv.send')));
  const box = form.querySelector('textarea');

  const atBottom = () => window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 80;
  const toBottom = () => window.scrollTo(0, document.documentElement.scrollHeight);

  const markRead = async () => {
    if (document.visibilityState !== 'visible' || !ctx.current()) {
      unseen = true;
      return;
    }
    unseen = false;
    try {
      await api.post(`${path}/read`);
    } catch {
      // Offline: the next visit marks them.
    }
    mailbox.recount();
  };

  const report = async (m, button) => {
    const reason = await ask({ title: t('report.title.message'), text: t('conv.report.text'), label: t('report.reason'), confirm: t('report.send'), required: true, maxlength: 500 });
    if (!reason) return;
    await busy(button, async () => {
      await api.post('/reports', { target: 'message', id: m.id, street_id: conv.street_id, reason });
      const done = badge(t('conv.reported'), 'ok');
      done.setAttribute('tabindex', '-1');
      button.replaceWith(done);
      done.focus();
      announce(t('report.sent'));
    });
  };

  const messageItem = (m) => {
    const own = mine(m);
    const li = h('li', { class: `message ${own ? 'mine' : 'theirs'}`, 'data-message-id': m.id },
      h('p', { class: 'meta' }, h('strong', null, own ? t('conv.you') : name()), ' · ', h('time', { datetime: m.at }, stamp(m.at))),
      h('p', { class: 'message-body' }, m.body));
    if (!own) {
      const rep = h('button', { type: 'button', class: 'btn ghost small report-message' }, t('conv.report'));
      rep.addEventListener('click', () => report(m, rep));
      li.append(h('div', { class: 'actions' }, rep));
    }
    return li;
  };

  const drawList = () => {
    const all = [...msgs.values()].sort(order);
    if (all.length === 0) list.replaceChildren(h('li', { class: 'state empty' }, t('conv.none')));
    else list.replaceChildren(...all.map(messageItem));
    earlier.hidden = !cursor;
  };

  const block = async (button) => {
    const ok = await ask({ title: t('conv.block.title', { name: name() }), text: t('conv.block.text', { name: name() }), confirm: t('conv.block'), danger: true });
    if (!ok) return;
    await busy(button, async () => {
      await api.put(`/me/blocks/${encodeURIComponent(other().id)}`);
      conv.blocked = true;
      drawTop();
      drawBottom();
      announce(t('conv.blocked.ok', { name: name() }));
      const n = document.getElementById('conv-notice');
      if (n) n.focus();
    });
  };
  const unblock = (button) => busy(button, async () => {
    await api.del(`/me/blocks/${encodeURIComponent(other().id)}`);
    conv.blocked = false;
    drawTop();
    drawBottom();
    announce(t('conv.unblocked.ok', { name: name() }));
    if (conv.open) box.focus();
  });

  const drawTop = () => {
    const acts = [];
    if (!conv.blocked && !other().deleted && other().id) {
      const b = h('button', { type: 'button', class: 'btn ghost danger', id: 'block' }, t('conv.block.who', { name: name() }));
      b.addEventListener('click', () => block(b));
      acts.push(b);
    }
    mount(top,
      h('p', null, h('a', { href: '/conversations', class: 'back' }, t('conv.back'))),
      h('h1', { tabindex: '-1', id: 'conv-title' }, t('conv.title', { name: name() })),
      conv.post_id ? h('p', { class: 'meta' }, h('a', { href: `/posts/${encodeURIComponent(conv.post_id)}`, class: 'conv-post' },
        t('conv.about', { title: conv.post_title || t('conv.post') }))) : null,
      h('p', { class: 'meta' }, t('conv.private', { name: name() })));
    // Blocking is there when needed, below the conversation, not above it.
    mount(tools, acts.length ? h('div', { class: 'actions' }, acts) : null);
  };

  const drawBottom = () => {
    if (conv.blocked) {
      const un = h('button', { type: 'button', class: 'btn', id: 'unblock' }, t('conv.unblock'));
      un.addEventListener('click', () => unblock(un));
      mount(bottom, h('div', { class: 'notice warn conv-notice', id: 'conv-notice', tabindex: '-1' },
        h('p', null, t('conv.blocked.notice', { name: name() })), un));
    } else if (!conv.open || other().deleted) {
      mount(bottom, h('div', { class: 'notice warn conv-notice', id: 'conv-notice', tabindex: '-1' },
        h('p', null, other().deleted ? t('conv.deleted.notice') : t('conv.closed.notice', { name: name() }))));
    } else {
      mount(bottom, form);
    }
  };

  earlier.addEventListener('click', () => busy(earlier, async () => {
    const res = await api.get(`${path}/messages`, { cursor, limit: PAGE }, { signal: ctx.signal });
    if (!ctx.current()) return;
    older(res.items);
    cursor = res.next_cursor || '';
    drawList();
  }).then(() => {
    if (!ctx.current()) return;
    // Keep the place: the button while there is more, else the oldest message.
    if (cursor) earlier.focus();
    else {
      const oldest = list.querySelector('li');
      if (oldest) {
        oldest.setAttribute('tabindex', '-1');
        oldest.focus();
      }
    }
  }));

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const v = values(form);
      if (!v.body) throw new api.ApiError(422, 'validation_failed', { body: 'required' });
      let m;
      try {
        m = await api.post(`${path}/messages`, { body: v.body }, { headers: { 'Idempotency-Key': idem } });
      } catch (err) {
        // The conversation changed under me: say why instead of the box.
        if (err instanceof api.ApiError && (err.code === 'conversation_closed' || err.code === 'you_blocked')) {
          if (err.code === 'conversation_closed') conv.open = false;
          else conv.blocked = true;
          drawTop();
          drawBottom();
          const n = document.getElementById('conv-notice');
          if (n) n.focus();
          announce(api.message(err));
          return;
        }
        throw err;
      }
      idem = api.key();
      if (m && m.id) newer(m);
      conv.last_at = (m && m.at) || conv.last_at;
      box.value = '';
      drawList();
      toBottom();
      box.focus();
      announce(t('conv.sent'));
    });
  });
  box.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      form.requestSubmit();
    }
  });

  // What arrives live, from my own channel.
  const refetch = async () => {
    try {
      const [c, page] = await Promise.all([
        api.get(path, undefined, { signal: ctx.signal }),
        api.get(`${path}/messages`, { limit: PAGE }, { signal: ctx.signal }),
      ]);
      if (!ctx.current()) return;
      conv = c;
      // Missed while the channel was down: newer than what is shown.
      for (const m of [...(page.items || [])].reverse()) newer(m);
      drawTop();
      drawBottom();
      drawList();
      if (conv.unread > 0) markRead();
    } catch {
      // The next frame or visit brings it.
    }
  };
  const on = (target, type, fn) => {
    target.addEventListener(type, fn);
    ctx.cleanup(() => target.removeEventListener(type, fn));
  };
  on(mailbox.events, 'frame', (e) => {
    const frame = e.detail || {};
    const d = frame.data || {};
    if (frame.type !== 'message.created' || d.conversation_id !== cid || !d.message) return;
    const m = d.message;
    if (msgs.has(m.id)) return;
    const follow = atBottom();
    newer(m);
    conv.last_at = m.at || conv.last_at;
    drawList();
    if (follow) toBottom();
    if (!mine(m)) {
      announce(t('conv.received', { name: name(), body: short(m.body) }));
      markRead();
    }
  });
  on(mailbox.events, 'reset', refetch);
  on(mailbox.events, 'live', (e) => {
    if (!(e.detail && e.detail.resumed)) refetch();
  });
  on(document, 'visibilitychange', () => {
    if (document.visibilityState === 'visible' && unseen) markRead();
  });
  mailbox.reading(cid);
  ctx.cleanup(() => mailbox.reading(''));

  drawTop();
  drawList();
  drawBottom();
  mount(ctx.main, top, live,
    h('section', { class: 'conv-thread', 'aria-labelledby': 'messages-heading' },
      h('h2', { id: 'messages-heading', class: 'sr-only' }, t('conv.messages')), earlier, list),
    bottom, tools);
  if (conv.unread > 0) markRead();
  // Once the router has settled the screen (focus on its title, at the
  // top): show the latest messages and the reply box, as chats do.
  setTimeout(() => {
    if (ctx.current() && msgs.size > 3) toBottom();
  });
}
