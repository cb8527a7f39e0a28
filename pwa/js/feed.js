// A street's feed: filters and search, pinned posts on top, live updates
// over the street's websocket, the posts still waiting in the outbox, and
// the last copy saved by the service worker when offline.
import { h, mount } from './dom.js';
import { t, when } from './i18n.js';
import * as api from './api.js';
import * as session from './session.js';
import * as realtime from './realtime.js';
import * as outbox from './outbox.js';
import { navigate } from './router.js';
import { categories, kinds, statuses, norm, order, card } from './posts.js';
import { empty, failure, field, heading, loading, more } from './ui.js';
import { upcoming } from './events.js';
import { boardLinks, emptyBoard } from './grow.js';

function filtersFrom(query) {
  return {
    kind: query.get('kind') || '',
    category: query.get('category') || '',
    status: query.get('status') || '',
    q: query.get('q') || '',
  };
}

function matches(p, f) {
  if (p.status === 'removed') return false;
  if (f.kind && p.kind !== f.kind) return false;
  if (f.category && p.category !== f.category) return false;
  if (f.status && p.status !== f.status) return false;
  if (f.q) {
    const q = f.q.toLowerCase();
    if (!`${p.title} ${p.body || ''}`.toLowerCase().includes(q)) return false;
  }
  return true;
}

/** render shows street ctx.params.sid's feed. */
export async function render(ctx) {
  const sid = ctx.params.sid;
  const f = filtersFrom(ctx.query);
  const mine = session.street(sid);
  const title = h('h1', { tabindex: '-1' }, mine ? mine.name : t('feed.title'));
  // Its space is kept before the street's city and description arrive, so
  // the board below does not jump when they do.
  const lead = h('p', { class: 'lead feed-lead' });
  const items = new Map(); // id → post
  const nodes = new Map(); // id → card
  let pending = [];
  let cursor = '';
  let loaded = false;
  let stale = false; // showing the copy saved for offline reading
  const buffer = [];

  const filterForm = h('form', { class: 'filters', role: 'search', id: 'feed-filters', 'aria-label': t('feed.filters') },
    field({ label: t('feed.search'), name: 'q', type: 'search', value: f.q, maxlength: 100 }),
    field({ label: t('post.kind'), name: 'kind', type: 'select', value: f.kind, options: [['', t('feed.all')], ...kinds.map((k) => [k, t(`kind.${k}.plural`)])] }),
    field({ label: t('post.category'), name: 'category', type: 'select', value: f.category, options: [['', t('feed.allcategories')], ...categories.map((c) => [c, t(`category.${c}`)])] }),
    field({ label: t('post.status'), name: 'status', type: 'select', value: f.status, options: [['', t('feed.anystatus')], ...statuses.map((s) => [s, t(`status.${s}`)])] }),
    h('button', { type: 'submit', class: 'btn' }, t('action.search')));
  const apply = () => {
    const p = new URLSearchParams();
    for (const el of filterForm.elements) if (el.name && el.value.trim()) p.set(el.name, el.value.trim());
    navigate(`/streets/${sid}${p.toString() ? `?${p}` : ''}`, { replace: true });
  };
  filterForm.addEventListener('submit', (e) => {
    e.preventDefault();
    apply();
  });
  for (const sel of filterForm.querySelectorAll('select')) sel.addEventListener('change', apply);
  // A disclosure button (with its chevron) opens the filters: it looks like
  // something to tap, and says whether they are open.
  const filtering = !!(f.q || f.kind || f.category || f.status);
  filterForm.hidden = !filtering;
  const filterToggle = h('button', { type: 'button', class: 'btn ghost disclosure', id: 'filters-toggle',
    'aria-expanded': String(filtering), 'aria-controls': 'feed-filters' },
  h('span', null, t('feed.filters')), h('span', { class: 'chevron', 'aria-hidden': 'true' }));
  filterToggle.addEventListener('click', () => {
    const open = filterToggle.getAttribute('aria-expanded') !== 'true';
    filterToggle.setAttribute('aria-expanded', String(open));
    filterForm.hidden = !open;
  });

  const list = h('ul', { class: 'list cards feed', id: 'feed', 'aria-busy': 'true' });
  const status = h('div', { class: 'feed-status' });
  // The board below the events strip shows once both are in: appearing
  // whole, nothing in it moves (see reveal).
  const waiting = h('div', { class: 'feed-status' }, loading());
  const saved = h('p', { class: 'saved', role: 'status', hidden: true });
  const live = h('p', { class: 'sr-only', 'aria-live': 'polite', id: 'feed-live' });
  const pager = h('div', { class: 'pager' });
  const admin = session.isAdmin(sid) ? h('a', { href: `/streets/${sid}/admin`, class: 'btn ghost', id: 'admin-link' }, t('admin.title')) : null;
  // The next few events, above the posts.
  const soon = upcoming(sid, ctx.signal);
  // Inviting neighbours and the linked desks' skills (grow.js).
  const grow = boardLinks(sid, ctx.signal);

  const body = h('div', { class: 'feed-body', hidden: true },
    h('div', { class: 'filters-box' }, filterToggle, filterForm), saved, live, status, list, pager);
  const reveal = () => {
    waiting.remove();
    body.hidden = false;
  };

  mount(ctx.main,
    h('div', { class: 'heading' }, title, lead),
    h('div', { class: 'actions compose' },
      h('a', { href: `/streets/${sid}/new?kind=request`, class: 'btn primary', id: 'new-request' }, t('post.new.request')),
      h('a', { href: `/streets/${sid}/new?kind=offer`, class: 'btn', id: 'new-offer' }, t('post.new.offer')),
      h('a', { href: `/streets/${sid}/events`, class: 'btn ghost', id: 'events-link' }, t('events.title')),
      h('a', { href: `/streets/${sid}/neighbours`, class: 'btn ghost', id: 'neighbours-link' }, t('profile.directory.title')),
      grow.els, admin),
    soon.el, waiting, body);

  const draw = () => {
    const wanted = [];
    for (const item of pending) wanted.push(card(item, { pending: true }));
    const sorted = [...items.values()].filter((p) => matches(p, f)).sort(order);
    for (const p of sorted) {
      let node = nodes.get(p.id);
      if (!node || node.dataset.rev !== p.rev) {
        node = card(p);
        node.dataset.rev = p.rev;
        nodes.set(p.id, node);
      }
      wanted.push(node);
    }
    // Keep nodes that did not change, so focus and scroll stay put.
    const current = [...list.children];
    if (current.length !== wanted.length || current.some((n, i) => n !== wanted[i])) list.replaceChildren(...wanted);
    list.setAttribute('aria-busy', 'false');
    if (!loaded) return;
    if (wanted.length === 0) {
      const filtered = f.q || f.kind || f.category || f.status;
      mount(status, !filtered && session.isAdmin(sid) ? emptyBoard(sid) : empty(filtered ? t('feed.nomatch') : t('feed.empty'),
        filtered ? h('a', { href: `/streets/${sid}`, class: 'btn ghost' }, t('feed.clear')) : null));
    } else mount(status);
  };

  let revs = 0;
  const upsert = (raw) => {
    const prev = items.get(raw.id) || {};
    const p = norm({ ...prev, ...raw });
    if (prev.reply_count !== undefined && raw.reply_count === undefined) p.reply_count = prev.reply_count;
    revs += 1;
    p.rev = String(revs);
    items.set(p.id, p);
  };

  const onEvent = (frame) => {
    if (!loaded) {
      buffer.push(frame);
      return;
    }
    const d = frame.data || {};
    if (String(frame.type).startsWith('event.')) {
      soon.reload();
      return;
    }
    switch (frame.type) {
      case 'post.created':
        if (!items.has(d.id)) {
          upsert({ reply_count: 0, ...d });
          if (matches(items.get(d.id), f)) live.textContent = t('feed.live.new', { title: d.title });
        }
        break;
      case 'post.updated':
        upsert(d);
        break;
      case 'post.removed':
        items.delete(d.id);
        nodes.delete(d.id);
        break;
      case 'reply.created': {
        const p = items.get(d.post_id);
        if (p) upsert({ id: p.id, reply_count: (p.reply_count || 0) + 1 });
        break;
      }
      default:
        return;
    }
    draw();
  };

  const loadPending = async () => {
    try {
      pending = (await outbox.list((i) => i.kind === 'post' && i.street === sid)).map((i) => ({ ...i.body, key: i.key, created_at: new Date(i.created).toISOString() }));
    } catch {
      pending = [];
    }
  };

  const fetchPage = async (from) => {
    const res = await api.get(`/streets/${sid}/posts`, { ...f, cursor: from, limit: 20 }, { signal: ctx.signal, meta: true });
    if (!ctx.current()) return;
    if (!from) {
      items.clear();
      nodes.clear();
    }
    for (const p of res.data.items || []) upsert(p);
    cursor = res.data.next_cursor || '';
    stale = !!res.saved;
    if (res.saved) {
      saved.textContent = t('feed.saved', { when: when(res.saved) });
      saved.hidden = false;
    } else saved.hidden = true;
    mount(pager, more(cursor, fetchPage));
    // The events strip above comes from its own request: the first posts
    // wait for it (both were asked at once), or they would jump down.
    if (!loaded) await soon.ready;
    if (!ctx.current()) return;
    loaded = true;
    reveal();
    draw();
  };

  const refetch = async () => {
    try {
      if (loaded) soon.reload();
      await loadPending();
      await fetchPage('');
      for (const fr of buffer.splice(0)) onEvent(fr);
    } catch (err) {
      if (err.name === 'AbortError' || !ctx.current()) return;
      reveal();
      list.setAttribute('aria-busy', 'false');
      if (err instanceof api.ApiError && (err.status === 404 || err.status === 403)) {
        mount(status, h('div', { class: 'state error', role: 'alert' }, h('p', null, t('feed.notmember')),
          h('a', { href: `/streets/${sid}/join`, class: 'btn primary' }, t('streets.join'))));
        return;
      }
      mount(status, failure(err, refetch));
    }
  };

  // Follow first, fetch second: events that happen while the page loads are
  // buffered and applied after it, so none falls in between.
  // Back online after reading the saved copy: the channel cannot replay
  // what happened before it opened, so fetch the board again.
  const onLive = () => {
    if (stale && loaded) refetch();
  };
  ctx.cleanup(realtime.follow(sid, { onEvent, onReset: refetch, onLive }));
  const onSent = (e) => {
    const { item, result } = e.detail;
    if (item.street !== sid || item.kind !== 'post') return;
    pending = pending.filter((p) => p.key !== item.key);
    if (result && result.id) upsert(result);
    draw();
  };
  const onQueue = async () => {
    await loadPending();
    draw();
  };
  outbox.events.addEventListener('sent', onSent);
  outbox.events.addEventListener('change', onQueue);
  ctx.cleanup(() => {
    outbox.events.removeEventListener('sent', onSent);
    outbox.events.removeEventListener('change', onQueue);
  });

  api.get(`/streets/${sid}`, undefined, { signal: ctx.signal }).then((s) => {
    if (!ctx.current()) return;
    title.textContent = s.name;
    document.title = `${s.name} · Civico`;
    lead.textContent = [s.city, s.description].filter(Boolean).join(' · ');
    grow.street(s);
  }).catch(() => {});

  await refetch();
}
