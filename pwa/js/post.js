// One post with its replies: reply (queued offline), accept a reply, mark
// done with thanks, report, and the admin's pin and remove. Replies to it
// arrive live. Its author also sees when a Portinaio desk took it on ("the
// desk is on it") and, once the warm hand-off asked how it went, the
// one-tap answers (done with thanks, still needed, no longer needed).
import { h, mount } from './dom.js';
import { t, when, ago, tn } from './i18n.js';
import * as api from './api.js';
import * as session from './session.js';
import * as realtime from './realtime.js';
import * as outbox from './outbox.js';
import { navigate } from './router.js';
import { norm, kindBadge, statusBadge, windowText } from './posts.js';
import { dotted, memberName } from './avatar.js';
import { deskNote, handoffBox } from './impact.js';
import { gallery, picker } from './photos.js';
import { shareButton } from './share.js';
import { writeLink } from './mailbox.js';
import { ask, badge, busy, failure, field, heading, loading, submitting, toast, values } from './ui.js';

function replyAuthor(r) {
  if (r.author_deleted) return t('post.author_deleted');
  return r.author_name || (r.author && r.author.name) || '';
}

async function report(target, id, streetId) {
  const reason = await ask({ title: t(`report.title.${target}`), text: t('report.text'), label: t('report.reason'), confirm: t('report.send'), required: true, maxlength: 500 });
  if (!reason) return;
  try {
    await api.post('/reports', { target, id, street_id: streetId, reason });
    toast(t('report.sent'));
  } catch (err) {
    toast(api.message(err), 'error');
  }
}

/** render shows post ctx.params.pid. */
export async function render(ctx) {
  const pid = ctx.params.pid;
  mount(ctx.main, heading(t('post.title.loading')), loading());
  let post;
  try {
    const res = await api.get(`/posts/${pid}`, undefined, { signal: ctx.signal, meta: true });
    post = norm(res.data);
    post.saved = res.saved;
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.current()) return;
    mount(ctx.main, heading(t('post.title.loading')), failure(err, () => render(ctx)));
    return;
  }
  if (!ctx.current()) return;
  const me = session.state.user.id;
  const replies = new Map();
  for (const r of post.replies || []) replies.set(r.id, r);
  let pending = [];

  const top = h('div');
  const replyList = h('ol', { class: 'list replies', id: 'replies', 'aria-live': 'polite' });
  const replyHeading = h('h2', { id: 'replies-heading' });
  // One photo per reply; its alt text starts as the post's title.
  const replyPhoto = picker({ sid: post.street_id, max: 1, name: 'photo', title: () => post.title || '' });
  const form = h('form', { class: 'stack reply-form', id: 'reply-form', novalidate: true },
    field({ label: t('reply.label'), name: 'body', type: 'textarea', required: true, maxlength: 2000, rows: 3, hint: t('reply.hint') }),
    replyPhoto.el,
    h('button', { type: 'submit', class: 'btn primary' }, t('reply.send')));
  let idem = api.key();

  const isAuthor = () => post.author_id === me;
  const admin = () => session.isAdmin(post.street_id);
  const closed = () => ['done', 'closed', 'removed'].includes(post.status);
  const live = () => post.kind === 'request' && (post.status === 'open' || post.status === 'matched');

  // The warm hand-off, for the author of a request still open or matched:
  // its question shows once a reminder asked it and until it is answered.
  let hand = null;
  const loadHandoff = async () => {
    if (!isAuthor() || !live()) {
      hand = null;
      return;
    }
    try {
      hand = await api.get(`/posts/${pid}/handoff`, undefined, { signal: ctx.signal });
    } catch {
      hand = null; // offline or gone: the post's own buttons remain
    }
  };
  const handoffSection = () => {
    if (!hand || !live() || hand.state !== post.status || !hand.reminded_at || hand.answer || !(hand.answers || []).length) return null;
    return h('section', { class: 'card handoff', id: 'handoff', 'aria-labelledby': 'handoff-title' },
      h('h2', { id: 'handoff-title' }, t('handoff.title')),
      handoffBox(pid, hand, async (p, answer) => {
        hand = { ...hand, answer };
        if (p && p.id) Object.assign(post, norm(p));
        drawAll();
        const line = document.getElementById('post-status');
        if (line) {
          line.setAttribute('tabindex', '-1');
          line.focus();
        }
      }));
  };

  const drawTop = () => {
    const actions = [];
    if (post.status === 'removed') {
      mount(top, heading(t('post.removed.title')), h('p', { class: 'state' }, t('post.removed.text')),
        post.removal_reason ? h('p', null, t('admin.banned.reason', { reason: post.removal_reason })) : null,
        post.street_id ? h('a', { href: `/streets/${post.street_id}`, class: 'btn' }, t('post.back')) : null);
      return;
    }
    if (isAuthor() && post.status === 'matched') {
      const done = h('button', { type: 'button', class: 'btn primary', id: 'mark-done' }, t('post.done'));
      done.addEventListener('click', async () => {
        const thanks = await ask({ title: t('post.done.title'), text: t('post.done.text'), label: t('post.thanks'), hint: t('post.thanks.hint'), confirm: t('post.done'), maxlength: 500 });
        if (thanks === null) return;
        await busy(done, async () => {
          const p = await api.post(`/posts/${pid}/done`, thanks ? { thanks } : {});
          Object.assign(post, norm(p && p.id ? p : { status: 'done', thanks }));
          toast(t('post.done.ok'));
          drawAll();
          focusOn('#post-status');
        });
      });
      actions.push(done);
    }
    if (isAuthor() && (post.status === 'open' || post.status === 'matched')) {
      const close = h('button', { type: 'button', class: 'btn ghost', id: 'close-post' }, t('post.close'));
      close.addEventListener('click', async () => {
        const ok = await ask({ title: t('post.close.title'), text: t('post.close.text'), confirm: t('post.close') });
        if (!ok) return;
        await busy(close, async () => {
          Object.assign(post, norm(await api.post(`/posts/${pid}/close`)));
          toast(t('post.closed.ok'));
          drawAll();
          focusOn('#post-status');
        });
      });
      actions.push(close);
    }
    if (isAuthor() && post.status === 'open' && post.expires_at && new Date(post.expires_at) - Date.now() < 7 * 86400000) {
      const renew = h('button', { type: 'button', class: 'btn ghost', id: 'renew-post' }, t('post.renew'));
      renew.addEventListener('click', () => busy(renew, async () => {
        Object.assign(post, norm(await api.post(`/posts/${pid}/renew`)));
        toast(t('post.renewed', { when: when(post.expires_at) }));
        drawAll();
      }));
      actions.push(renew);
    }
    if (isAuthor() && (post.status === 'open' || post.status === 'matched')) {
      actions.push(h('a', { href: `/posts/${pid}/edit`, class: 'btn ghost', id: 'edit-post' }, t('post.edit')));
    }
    // The post's own address: neighbours who follow it land on it (signed in).
    actions.push(shareButton({ url: `${location.origin}/posts/${pid}`, title: post.title, text: t('post.share.text'), cls: 'ghost', id: 'share-post' }));
    if (admin()) {
      const pin = h('button', { type: 'button', class: 'btn ghost', id: 'pin' }, post.pinned ? t('post.unpin') : t('post.pin'));
      pin.addEventListener('click', () => busy(pin, async () => {
        const p = await api.post(`/posts/${pid}/${post.pinned ? 'unpin' : 'pin'}`);
        Object.assign(post, norm(p && p.id ? p : { pinned: !post.pinned }));
        drawTop();
      }));
      actions.push(pin);
    }
    if (isAuthor() || admin()) {
      const remove = h('button', { type: 'button', class: 'btn danger', id: 'remove-post' }, t('post.remove'));
      remove.addEventListener('click', async () => {
        const reason = await ask({ title: t('post.remove.title'), text: isAuthor() ? t('post.remove.own') : t('post.remove.text'), label: t('post.remove.reason'), required: !isAuthor(), danger: true, confirm: t('post.remove'), maxlength: 500 });
        if (reason === null) return;
        await busy(remove, async () => {
          await api.del(`/posts/${pid}`, { reason: reason || '' });
          toast(t('post.removed.ok'));
          navigate(`/streets/${post.street_id}`);
        });
      });
      actions.push(remove);
    }
    if (!isAuthor() && !post.author_deleted) {
      const write = writeLink({ to: post.author_id, name: post.author_name, street: post.street_id, post: pid, id: 'write-author' });
      if (write) actions.push(write);
    }
    if (!isAuthor()) {
      const rep = h('button', { type: 'button', class: 'btn ghost', id: 'report-post' }, t('report.post'));
      rep.addEventListener('click', () => report('post', pid, post.street_id));
      actions.push(rep);
    }
    mount(top,
      h('p', null, h('a', { href: `/streets/${post.street_id}`, class: 'back' }, t('post.back'))),
      h('p', { class: 'tags' }, kindBadge(post.kind), post.pinned ? badge(t('post.pinned'), 'pin') : null, statusBadge(post.status)),
      h('h1', { tabindex: '-1', id: 'post-title' }, post.title),
      h('p', { class: 'meta' }, dotted([t(`category.${post.category}`), post.on_behalf_of ? t('post.onbehalf', { name: post.on_behalf_of })
        : post.author_deleted ? post.author_name : memberName(post.street_id, post.author_id, post.author_name), when(post.created_at)])),
      post.saved ? h('p', { class: 'saved', role: 'status' }, t('feed.saved', { when: when(post.saved) })) : null,
      h('div', { class: 'post-body' }, post.body),
      gallery(post.photos),
      post.when && post.when.from ? h('p', { class: 'when' }, h('strong', null, t('post.when')), ': ', windowText(post.when)) : null,
      post.status === 'done' && post.thanks ? h('blockquote', { class: 'thanks' }, h('p', null, post.thanks)) : null,
      h('p', { class: 'status-line', id: 'post-status', 'data-status': post.status }, t(`status.${post.status}.long`)),
      post.desk && live() ? deskNote(post.desk, 'desk-note') : null,
      handoffSection(),
      actions.length ? h('div', { class: 'actions' }, actions) : null);
  };

  const replyItem = (r, isPending) => {
    // A reply still in the outbox has no id yet: it is waiting, never accepted.
    const accepted = !isPending && !!r.id && (post.accepted_reply_id === r.id || !!r.accepted);
    const li = h('li', { class: `reply${accepted ? ' accepted' : ''}${isPending ? ' pending' : ''}`, 'data-reply-id': isPending ? null : r.id,
      'data-outbox-key': isPending ? r.key : null },
      h('p', { class: 'meta' }, isPending || r.author_deleted ? h('strong', null, replyAuthor(r))
        : memberName(post.street_id, r.author_id || (r.author && r.author.id), replyAuthor(r), { strong: true }), ' · ', isPending ? badge(t('outbox.waiting'), 'warn') : ago(r.created_at),
        accepted ? [' ', badge(t('reply.accepted'), 'ok')] : null),
      h('p', { class: 'reply-body' }, r.body),
      gallery(r.photo ? [r.photo] : r.photos));
    if (isPending) return li;
    const acts = [];
    if (isAuthor() && post.status === 'open' && (r.author_id || (r.author && r.author.id)) !== me) {
      const acc = h('button', { type: 'button', class: 'btn primary accept' }, t('reply.accept'));
      acc.addEventListener('click', () => busy(acc, async () => {
        const p = await api.post(`/posts/${pid}/accept`, { reply_id: r.id });
        Object.assign(post, norm(p && p.id ? p : { status: 'matched', accepted_reply_id: r.id }));
        if (!post.accepted_reply_id) post.accepted_reply_id = r.id;
        toast(t('reply.accepted.ok', { name: replyAuthor(r) }));
        drawAll();
        focusOn(`[data-reply-id="${CSS.escape(r.id)}"]`);
      }));
      acts.push(acc);
    }
    const writer = r.author_id || (r.author && r.author.id);
    if (writer !== me && !r.author_deleted) {
      const write = writeLink({ to: writer, name: replyAuthor(r), street: post.street_id, post: pid, small: true });
      if (write) acts.push(write);
    }
    if ((r.author_id || (r.author && r.author.id)) !== me) {
      const rep = h('button', { type: 'button', class: 'btn ghost small' }, t('report.reply'));
      rep.addEventListener('click', () => report('reply', r.id, post.street_id));
      acts.push(rep);
    }
    if (acts.length) li.append(h('div', { class: 'actions' }, acts));
    return li;
  };

  // focusOn moves the focus to what an action produced (the new reply, the
  // accepted one, the post's status line): the button pressed is gone.
  const focusOn = (sel) => {
    const el = sel && ctx.main.querySelector(sel);
    if (!el) return;
    if (!el.matches('a, button, input, textarea, select')) el.setAttribute('tabindex', '-1');
    el.focus();
  };
  // keepFocus redraws with fn and, when that took away the element that
  // had the focus, gives it to its new copy (a live event redraws the page).
  const keepFocus = (fn) => {
    const a = document.activeElement;
    let sel = '';
    if (a && a !== document.body && ctx.main.contains(a)) {
      const li = a.closest('[data-reply-id], [data-outbox-key]');
      if (a.id) sel = `#${CSS.escape(a.id)}`;
      else if (li && li.dataset.replyId) sel = `[data-reply-id="${CSS.escape(li.dataset.replyId)}"]`;
      else if (li) sel = `[data-outbox-key="${CSS.escape(li.dataset.outboxKey)}"]`;
    }
    fn();
    if (sel && !a.isConnected) focusOn(sel);
  };

  const drawReplies = () => keepFocus(() => {
    const all = [...replies.values()].sort((a, b) => String(a.created_at).localeCompare(String(b.created_at)));
    replyHeading.textContent = pending.length
      ? `${tn('post.replies', all.length + pending.length)} (${tn('reply.pending.count', pending.length)})`
      : tn('post.replies', all.length);
    const items = all.map((r) => replyItem(r, false));
    for (const p of pending) items.push(replyItem(p, true));
    if (items.length === 0) items.push(h('li', { class: 'state empty' }, isAuthor() ? t('reply.none.author') : t('reply.none')));
    replyList.replaceChildren(...items);
    form.hidden = closed();
  });
  // What the page shows; a live event that changes none of it redraws
  // nothing, so a button is not replaced under the finger about to tap it.
  let drawn = '';
  const shown = () => JSON.stringify([post, [...replies.values()], hand, pending.length]);
  const drawAll = () => keepFocus(() => {
    drawn = shown();
    drawTop();
    drawReplies();
  });
  const redraw = () => {
    if (shown() !== drawn) drawAll();
  };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const v = values(form);
      if (!v.body) throw new api.ApiError(422, 'validation_failed', { body: 'required' });
      replyPhoto.check();
      const body = { body: v.body };
      const [pic] = replyPhoto.value();
      if (pic) body.photo = pic;
      const key = idem;
      const queue = async () => {
        await outbox.add({ key, kind: 'reply', path: `/posts/${pid}/replies`, body, post: pid, street: post.street_id, user: me });
        toast(t('outbox.queued'));
      };
      let sent = false;
      let made = '';
      if (navigator.onLine) {
        try {
          const r = await api.post(`/posts/${pid}/replies`, body, { headers: { 'Idempotency-Key': key } });
          if (r && r.id) {
            replies.set(r.id, r);
            made = r.id;
          }
          sent = true;
        } catch (err) {
          if (!(err instanceof api.ApiError && err.offline)) throw err;
        }
      }
      if (!sent) await queue();
      idem = api.key();
      form.reset();
      replyPhoto.reset();
      await loadPending();
      drawReplies();
      if (sent) toast(t('reply.sent'));
      focusOn(made ? `[data-reply-id="${CSS.escape(made)}"]` : (sent ? '#replies-heading' : `[data-outbox-key="${CSS.escape(key)}"]`));
    });
  });

  const loadPending = async () => {
    try {
      pending = (await outbox.list((i) => i.kind === 'reply' && i.post === pid)).map((i) => ({ ...i.body, key: i.key, author_name: session.state.user.name }));
    } catch {
      pending = [];
    }
  };
  const onSent = async (e) => {
    const { item, result } = e.detail;
    if (item.post !== pid) return;
    if (result && result.id) replies.set(result.id, result);
    const wasFocused = document.activeElement && document.activeElement.closest && document.activeElement.closest(`[data-outbox-key="${CSS.escape(item.key)}"]`);
    await loadPending();
    drawReplies();
    if (wasFocused && result && result.id) focusOn(`[data-reply-id="${CSS.escape(result.id)}"]`);
  };
  outbox.events.addEventListener('sent', onSent);
  ctx.cleanup(() => outbox.events.removeEventListener('sent', onSent));

  const refetch = async () => {
    try {
      const p = norm(await api.get(`/posts/${pid}`, undefined, { signal: ctx.signal }));
      if (!ctx.current()) return;
      Object.assign(post, p);
      for (const r of p.replies || []) replies.set(r.id, r);
      await loadHandoff();
      if (!ctx.current()) return;
      redraw();
    } catch {
      // The next event or visit brings it.
    }
  };

  if (post.street_id) {
    ctx.cleanup(realtime.follow(post.street_id, {
      onEvent: (frame) => {
        const d = frame.data || {};
        if (frame.type === 'reply.created' && d.post_id === pid) {
          if (!replies.has(d.id)) {
            replies.set(d.id, d);
            drawReplies();
          }
        } else if (frame.type === 'post.removed' && d.id === pid) {
          Object.assign(post, { status: 'removed' });
          drawAll();
        } else if (frame.type === 'post.updated' && d.id === pid) {
          // The event says what changed in the feed's terms; the post's own
          // answer has the rest (thanks, the accepted reply).
          Object.assign(post, norm(d));
          redraw();
          refetch();
        }
      },
      onReset: refetch,
      // Read from the saved copy while offline: fetch it again once live.
      onLive: () => {
        if (post.saved) {
          post.saved = '';
          refetch();
        }
      },
    }));
  }

  await loadPending();
  mount(ctx.main, top, h('section', { class: 'replies-section', 'aria-labelledby': 'replies-heading' }, replyHeading, replyList, form));
  drawAll();
  await loadHandoff();
  if (hand && ctx.current()) drawTop();
}
