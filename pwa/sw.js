// Civico's service worker: the shell from a versioned precache (so the app
// opens offline and a new version is installed whole, then announced, never
// swapped in under the user), the last feed of each street and the last
// posts seen kept for reading offline, pushes shown as notifications, and a
// click on one opening its post.
//
// The server fills in VERSION (a hash of every file) and ASSETS (the shell's
// files) when it serves this file, so any change to the app is a new worker.
const VERSION = '__CIVICO_VERSION__';
const ASSETS = [/*__CIVICO_ASSETS__*/];
const SHELL = `civico-shell-${VERSION}`;
const DATA = 'civico-data';
const DATA_LIMIT = 60;

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(SHELL);
    await cache.addAll(ASSETS.map((a) => new Request(a, { cache: 'no-cache' })));
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('civico-shell-') && name !== SHELL) await caches.delete(name);
    }
    // Take the pages opened before the first install; pages that had an
    // older worker only get this one after the user chose to reload.
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  const msg = event.data || {};
  if (msg.type === 'skip-waiting') self.skipWaiting();
});

// Which API reads are kept for offline reading: a street's feed (its first
// page, any filter), the street, a post, a street's events, an event, and
// /me. Photos are not kept here: the browser's own cache holds them (the
// server sends them private, with an ETag), and 60 entries would not.
function keptRead(url) {
  const p = url.pathname;
  if (url.searchParams.has('cursor')) return false;
  return /^\/api\/v1\/streets\/[^/]+\/posts$/.test(p) || /^\/api\/v1\/streets\/[^/]+$/.test(p) ||
    /^\/api\/v1\/posts\/[^/]+$/.test(p) || p === '/api/v1/me' ||
    /^\/api\/v1\/streets\/[^/]+\/events$/.test(p) || /^\/api\/v1\/events\/[^/]+$/.test(p);
}

async function trim(cache) {
  const keys = await cache.keys();
  for (let i = 0; i < keys.length - DATA_LIMIT; i += 1) await cache.delete(keys[i]);
}

// Network first; on failure the saved copy, marked with when it was saved.
// Feeds fall back from a filtered query to the street's unfiltered feed.
async function readThrough(request) {
  const url = new URL(request.url);
  const cache = await caches.open(DATA);
  try {
    const res = await fetch(request);
    if (res.ok) {
      const body = await res.clone().arrayBuffer();
      const headers = new Headers(res.headers);
      headers.set('X-Civico-Saved', new Date().toISOString());
      await cache.delete(url.href);
      await cache.put(url.href, new Response(body, { status: 200, headers }));
      trim(cache);
    }
    return res;
  } catch (err) {
    let saved = await cache.match(url.href);
    if (!saved && url.search) saved = await cache.match(url.origin + url.pathname);
    if (saved) return saved;
    throw err;
  }
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith('/api/')) {
    if (keptRead(url)) event.respondWith(readThrough(request));
    return;
  }
  // The streets' public pages (/s, /s/<slug>) are the server's own HTML,
  // not the app's: they come from the network.
  if (request.mode === 'navigate' && (url.pathname === '/s' || url.pathname.startsWith('/s/'))) return;
  if (request.mode === 'navigate') {
    // The app shell answers every navigation: the router draws the screen.
    event.respondWith((async () => {
      const shell = await caches.match('/index.html', { cacheName: SHELL });
      return shell || fetch(request);
    })());
    return;
  }
  event.respondWith((async () => {
    const hit = await caches.match(request, { cacheName: SHELL, ignoreSearch: true });
    return hit || fetch(request);
  })());
});

self.addEventListener('push', (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { body: event.data ? event.data.text() : '' };
  }
  event.waitUntil(self.registration.showNotification(data.title || 'Civico', {
    body: data.body || '',
    tag: data.tag || undefined,
    renotify: !!data.tag,
    icon: '/icons/icon-192.png',
    badge: '/icons/badge-72.png',
    lang: data.lang || undefined,
    data: { url: typeof data.url === 'string' ? data.url : '/' },
    // One-tap answers: the warm hand-off's, a referral's follow-up (see handoffURL).
    actions: Array.isArray(data.actions) ? data.actions.slice(0, 2)
      .filter((a) => a && typeof a.action === 'string' && typeof a.title === 'string')
      .map((a) => ({ action: a.action, title: a.title })) : [],
  }));
});

// A click opens the post: in a window of the app that is already open (the
// router moves there without a reload), else in a new one. It is a named
// function, the whole of what a click does, so that the browser tests can
// run it: DevTools can deliver a push but cannot click a notification.
async function openPost(url) {
  const target = new URL(url || '/', self.location.origin);
  if (target.origin !== self.location.origin) return;
  const path = target.pathname + target.search;
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const client = windows.find((c) => c.focused) || windows[0];
  if (client) {
    try {
      await client.focus();
    } catch {
      // Focus can be refused; the page still navigates.
    }
    client.postMessage({ type: 'navigate', url: path });
    return;
  }
  await self.clients.openWindow(path);
}

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(openPost(handoffURL(event.notification.data && event.notification.data.url, event.action)));
});

// handoffURL adds a tapped notification button's answer to the URL: the
// page (impact.js) opens with that answer picked, and sends it with the
// user's session (which the worker has not) once they confirm.
function handoffURL(url, action) {
  if (!action || typeof url !== 'string') return url;
  return `${url}${url.includes('?') ? '&' : '?'}answer=${encodeURIComponent(action)}`;
}

// Background sync, where the browser has it, wakes the pages to send the outbox.
self.addEventListener('sync', (event) => {
  if (event.tag !== 'outbox') return;
  event.waitUntil((async () => {
    for (const c of await self.clients.matchAll({ type: 'window' })) c.postMessage({ type: 'flush' });
  })());
});
