// The app-wide side of private conversations: the user's own channel
// (/api/v1/me/ws) kept open while signed in, the unread count the header's
// badge shows, and the "write privately" links that the post, its replies
// and the members list offer. The screens themselves (conversations.js,
// conversation.js) load only when opened; this part is small.
import * as api from './api.js';
import * as realtime from './realtime.js';
import * as session from './session.js';
import { h } from './dom.js';
import { t } from './i18n.js';

/**
 * events fires 'unread' (the count changed; detail: the count), 'frame'
 * (detail: a frame of the channel), 'live' (detail: {resumed}; not resumed,
 * frames may have been missed: refetch) and 'reset' (refetch).
 */
export const events = new EventTarget();

let unread = 0;
let user = '';
let close = null;
let watchers = 0;
let shownCid = '';
let counting = null;
let again = false;

/** unreadTotal is the number of messages I have not read, in every conversation. */
export function unreadTotal() {
  return unread;
}

function set(n) {
  const next = Math.max(0, Number(n) || 0);
  if (next === unread) return;
  unread = next;
  events.dispatchEvent(new CustomEvent('unread', { detail: next }));
}

async function fetchCount() {
  const who = user;
  try {
    const res = await api.get('/conversations', { limit: 1 });
    if (who === user && res && typeof res.unread_total === 'number') set(res.unread_total);
  } catch {
    // Offline, or signed out meanwhile: the badge keeps what it had.
  }
}

/**
 * recount asks the server for the unread total. A call while one is on its
 * way asks again once it is back, so the last answer is never older than
 * the last call (a conversation marked read in between).
 */
export function recount() {
  if (!user) return Promise.resolve();
  if (counting) {
    again = true;
    return counting;
  }
  counting = (async () => {
    do {
      again = false;
      await fetchCount();
    } while (again && user);
  })().finally(() => {
    counting = null;
  });
  return counting;
}

/**
 * reading tells which conversation is on the screen and read as it comes
 * (cid, or '' when none): its new messages do not count as unread.
 */
export function reading(cid) {
  shownCid = cid || '';
}

function onFrame(frame) {
  const d = frame.data || {};
  if (frame.type === 'message.created') {
    const m = d.message || {};
    const shown = d.conversation_id === shownCid && document.visibilityState === 'visible';
    if (!m.mine && m.author_id !== user && !shown) set(unread + 1);
  } else if (frame.type === 'conversation.read') {
    recount();
  }
  events.dispatchEvent(new CustomEvent('frame', { detail: frame }));
}

function stop() {
  if (close) close();
  close = null;
  user = '';
  set(0);
}

// sync opens the channel for whoever is signed in, closes it on sign-out,
// and reopens it when another person signs in on this device.
function sync() {
  const id = session.signedIn() && session.state.user ? session.state.user.id : '';
  if (id === user) return;
  stop();
  if (!id) return;
  user = id;
  close = realtime.channel('/api/v1/me/ws', {
    onEvent: onFrame,
    onReset: () => {
      recount();
      events.dispatchEvent(new Event('reset'));
    },
    onLive: (info) => {
      if (!info.resumed) recount();
      events.dispatchEvent(new CustomEvent('live', { detail: info }));
    },
  }, { quiet: watchers === 0 });
  recount();
}

/** start follows the session: call once, after it was restored. */
export function start() {
  session.events.addEventListener('change', sync);
  sync();
}

/**
 * watch makes the channel's state show in the header while a screen
 * relies on it (the inbox, a conversation); it returns the undo.
 */
export function watch() {
  watchers += 1;
  if (close) close.quiet(false);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    watchers -= 1;
    if (close && watchers === 0) close.quiet(true);
  };
}

/**
 * writeLink is the "write to Anna privately" link to the compose screen:
 * to is the person's id, street the street we share, post the post it is
 * about (optional), small for a reply's row. Nothing for myself, for a
 * deleted account, or without a shared street.
 */
export function writeLink({ to, name, street, post, id, small }) {
  if (!to || !street || !session.signedIn() || !session.state.user || to === session.state.user.id) return null;
  const q = new URLSearchParams({ to, street });
  if (post) q.set('post', post);
  if (name) q.set('name', name);
  return h('a', { href: `/conversations/new?${q}`, class: `btn ghost write-private${small ? ' small' : ''}`, id: id || null, 'data-user-id': to },
    name ? t('conv.write.to', { name }) : t('conv.write'));
}
