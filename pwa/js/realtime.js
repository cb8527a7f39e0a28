// Live street updates over the street's websocket. A connection resumes
// from the last event it saw (?since=) after a drop, after the phone slept
// or came back online, with backoff; a {"type":"reset"} frame means the gap
// was too old and the screen must refetch. status tells the header whether
// we are live, reconnecting or offline. The same machinery opens the
// user's own channel (/me/ws: private messages), see channel().
import * as api from './api.js';

/** status fires 'change'; state() is 'live', 'connecting', 'offline' or 'idle'. */
export const status = new EventTarget();

const follows = new Set();
let current = 'idle';

/** state is the connection state shown in the header. */
export function state() {
  return current;
}

function update() {
  let next = 'idle';
  if (!navigator.onLine) next = 'offline';
  else {
    // A quiet channel (the personal one, kept open in the background) does
    // not speak in the header unless a screen showing it asked it to.
    const shown = [...follows].filter((f) => !f.quiet);
    if (shown.length > 0) next = shown.every((f) => f.live) ? 'live' : 'connecting';
  }
  if (next !== current) {
    current = next;
    status.dispatchEvent(new Event('change'));
  }
}

function newer(id, last) {
  if (!last) return true;
  if (/^\d+$/.test(id) && /^\d+$/.test(last)) return BigInt(id) > BigInt(last);
  return id !== last;
}

function schedule(f) {
  clearTimeout(f.timer);
  if (f.stopped) return;
  const delay = Math.min(30000, 1000 * 2 ** f.tries) * (0.5 + Math.random() / 2);
  f.tries += 1;
  f.timer = setTimeout(() => connect(f), delay);
}

async function connect(f) {
  clearTimeout(f.timer);
  if (f.stopped || f.ws) return;
  if (!navigator.onLine) {
    update();
    return; // the 'online' event brings us back
  }
  let tok;
  try {
    tok = await api.token();
  } catch (err) {
    if (err instanceof api.ApiError && err.status === 401) return; // signed out: nothing to follow
    schedule(f);
    return;
  }
  if (f.stopped || f.ws) return;
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  let url = `${proto}//${location.host}${f.path}`;
  const resumed = !!f.last;
  if (resumed) url += `?since=${encodeURIComponent(f.last)}`;
  const ws = new WebSocket(url, ['civico', `access_token.${tok}`]);
  f.ws = ws;
  ws.addEventListener('open', () => {
    if (f.ws !== ws) return;
    f.tries = 0;
    f.live = true;
    update();
    // A reconnection with no event to resume from cannot replay what was
    // missed while the socket was down: the screen must refetch.
    const gap = f.opened && !resumed;
    f.opened = true;
    if (gap && f.handlers.onReset) f.handlers.onReset();
    if (f.handlers.onLive) f.handlers.onLive({ resumed });
  });
  ws.addEventListener('message', (m) => {
    if (f.ws !== ws) return;
    let frame;
    try {
      frame = JSON.parse(m.data);
    } catch {
      return;
    }
    if (frame.type === 'reset') {
      f.last = '';
      if (f.handlers.onReset) f.handlers.onReset();
      return;
    }
    if (frame.id) {
      if (!newer(frame.id, f.last)) return; // already seen (a replay overlapping the live stream)
      f.last = frame.id;
    }
    if (frame.type && f.handlers.onEvent) f.handlers.onEvent(frame);
  });
  ws.addEventListener('close', (e) => {
    if (f.ws !== ws) return;
    f.ws = null;
    f.live = false;
    update();
    if (f.stopped) return;
    // 4403/4404: not a member (any more); 1008: policy. Do not hammer.
    if (e.code === 4403 || e.code === 4404) f.tries = Math.max(f.tries, 5);
    schedule(f);
  });
}

function reconnect(f) {
  f.tries = 0;
  if (f.ws) {
    const ws = f.ws;
    f.ws = null;
    f.live = false;
    ws.close(1000, 'resume');
  }
  connect(f);
}

/**
 * follow opens street sid's live channel. handlers: onEvent(frame),
 * onReset() (refetch: what was missed cannot be replayed), onLive({resumed}).
 * It returns a function that closes it.
 */
export function follow(sid, handlers) {
  return channel(`/api/v1/streets/${encodeURIComponent(sid)}/ws`, handlers);
}

/**
 * channel opens the websocket at path (same protocol, frames, resume and
 * backoff as a street's), with the handlers of follow. opts.quiet keeps it
 * out of the header's state. It returns a function that closes it, whose
 * quiet(bool) method changes that later.
 */
export function channel(path, handlers, opts = {}) {
  const f = { path, handlers, quiet: !!opts.quiet, ws: null, live: false, opened: false, last: '', tries: 0, timer: 0, stopped: false };
  follows.add(f);
  update();
  connect(f);
  const close = () => {
    f.stopped = true;
    clearTimeout(f.timer);
    follows.delete(f);
    if (f.ws) f.ws.close(1000, 'leave');
    f.ws = null;
    update();
  };
  close.quiet = (q) => {
    f.quiet = !!q;
    update();
  };
  return close;
}

let hiddenAt = 0;
// A phone that slept may hold a socket that looks open but is dead: after a
// while in the background, reconnect from the last event seen.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden') {
    hiddenAt = Date.now();
    return;
  }
  const long = hiddenAt && Date.now() - hiddenAt > 15000;
  for (const f of follows) if (long || !f.ws) reconnect(f);
});
window.addEventListener('online', () => {
  update();
  for (const f of follows) reconnect(f);
});
window.addEventListener('offline', () => update());
window.addEventListener('pageshow', (e) => {
  if (e.persisted) for (const f of follows) reconnect(f);
});
document.addEventListener('resume', () => {
  for (const f of follows) reconnect(f);
});
