// The outbox: posts and replies written offline wait in IndexedDB and are
// sent when the connection is back, each with its idempotency key, so a
// retry after a lost answer never makes a second post.
import * as api from './api.js';

const DB = 'civico';
const STORE = 'outbox';

/** events fires 'change' (queue changed), 'sent' and 'failed' (detail: {item, result|error}). */
export const events = new EventTarget();

let dbp = null;
function db() {
  if (!dbp) {
    dbp = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB, 1);
      req.onupgradeneeded = () => {
        const store = req.result.createObjectStore(STORE, { keyPath: 'key' });
        store.createIndex('created', 'created');
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  return dbp;
}

async function tx(mode, fn) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const t = d.transaction(STORE, mode);
    const out = fn(t.objectStore(STORE));
    t.oncomplete = () => resolve(out && 'result' in out ? out.result : undefined);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
}

/**
 * add queues a request: {kind: 'post'|'reply'|'rsvp', path, body, street,
 * post, event, user, key, method (POST unless given)}. It returns the
 * stored item.
 */
export async function add(item) {
  const full = { method: 'POST', created: Date.now(), key: item.key || api.key(), ...item };
  await tx('readwrite', (s) => s.put(full));
  events.dispatchEvent(new Event('change'));
  return full;
}

/** list returns the queued items, oldest first, optionally filtered. */
export async function list(filter = () => true) {
  const all = (await tx('readonly', (s) => s.getAll())) || [];
  return all.filter(filter).sort((a, b) => a.created - b.created);
}

async function remove(key) {
  await tx('readwrite', (s) => s.delete(key));
  events.dispatchEvent(new Event('change'));
}

/**
 * drop removes the queued items that match filter (an answer replaced by a
 * newer one before either was sent). It returns how many it removed.
 */
export async function drop(filter) {
  const gone = await list(filter);
  if (!gone.length) return 0;
  await tx('readwrite', (s) => {
    for (const i of gone) s.delete(i.key);
  });
  events.dispatchEvent(new Event('change'));
  return gone.length;
}

/** clear drops the whole queue (sign out). */
export async function clear() {
  clearTimeout(retry);
  retry = null;
  await tx('readwrite', (s) => s.clear());
  events.dispatchEvent(new Event('change'));
}

let flushing = null;
let retry = null;
let retryDelay = 1000;
const maxRetryDelay = 30000;

// send returns false when it kept something for later.
async function send(user) {
  const items = await list((i) => !user || !i.user || i.user === user);
  for (const item of items) {
    try {
      const result = await api.request(item.method, item.path, { body: item.body, headers: { 'Idempotency-Key': item.key } });
      await remove(item.key);
      events.dispatchEvent(new CustomEvent('sent', { detail: { item, result } }));
    } catch (err) {
      const e = err instanceof api.ApiError ? err : null;
      // Offline, signed out, rate limited or a server hiccup: keep it, try later.
      if (!e || e.offline || e.status === 401 || e.status === 408 || e.status === 429 || e.status >= 500) return false;
      // Refused for good (removed post, banned, invalid): drop and tell the user.
      await remove(item.key);
      events.dispatchEvent(new CustomEvent('failed', { detail: { item, error: e } }));
    }
  }
  return true;
}

/**
 * flush sends what is queued, oldest first. One flush at a time in this
 * tab, and across tabs through a Web Lock. What it has to keep (the
 * connection dropped again, the server was busy) it tries again by itself,
 * waiting longer each time up to 30 s: "online" fires once, and a phone on
 * a bad connection may fail right after it.
 */
export function flush(user) {
  if (!flushing) {
    clearTimeout(retry);
    retry = null;
    const run = () => send(user);
    const p = navigator.locks ? navigator.locks.request('civico-outbox', run) : run();
    flushing = p
      .then((done) => {
        if (done) {
          retryDelay = 1000;
          return;
        }
        retry = setTimeout(() => {
          retry = null;
          if (navigator.onLine) flush(user);
        }, retryDelay);
        retryDelay = Math.min(retryDelay * 2, maxRetryDelay);
      })
      .catch((err) => console.error('outbox', err))
      .finally(() => {
        flushing = null;
      });
  }
  return flushing;
}
