// Entry point: language, session, routes, the header (navigation and the
// connection indicator), the service worker and its "new version" prompt.
import * as i18n from './i18n.js';
import { t } from './i18n.js';
import * as router from './router.js';
import * as session from './session.js';
import { h, mount } from './dom.js';
import * as realtime from './realtime.js';
import * as outbox from './outbox.js';
import * as banner from './banner.js';
import * as mailbox from './mailbox.js';
import { toast } from './ui.js';
import { message, patch } from './api.js';

const lazy = (file, name) => () => import(file).then((m) => ({ render: m[name] }));

router.add('/signin', lazy('./auth.js', 'signin'), { public: true, guest: true });
router.add('/signup', lazy('./auth.js', 'signup'), { public: true, guest: true });
router.add('/forgot', lazy('./auth.js', 'forgot'), { public: true, guest: true });
// The links in the mails: they work signed in or out, on any device.
router.add('/reset', lazy('./auth.js', 'reset'), { public: true });
router.add('/verify', lazy('./auth.js', 'verify'), { public: true });
router.add('/', lazy('./streets.js', 'home'));
router.add('/streets', lazy('./streets.js', 'directory'));
// An invite link opened signed out shows the street's card (streets.js).
router.add('/join', lazy('./streets.js', 'join'), { public: true });
router.add('/streets/new', lazy('./streets.js', 'create'));
router.add('/streets/:sid/join', lazy('./streets.js', 'join'), { public: true });
router.add('/streets/:sid/invite', lazy('./streets.js', 'invite'));
router.add('/streets/:sid/skills', lazy('./streets.js', 'skills'));
router.add('/streets/:sid/new', lazy('./compose.js', 'render'));
router.add('/streets/:sid/neighbours', lazy('./profile.js', 'directory'));
router.add('/streets/:sid/members/:uid', lazy('./profile.js', 'member'));
router.add('/streets/:sid/admin', lazy('./admin.js', 'render'));
router.add('/streets/:sid/admin/:tab', lazy('./admin.js', 'render'));
router.add('/streets/:sid/events', lazy('./events.js', 'list'));
router.add('/streets/:sid/events/new', lazy('./events.js', 'form'));
router.add('/streets/:sid', lazy('./feed.js', 'render'));
router.add('/events/:eid', lazy('./events.js', 'page'));
router.add('/events/:eid/edit', lazy('./events.js', 'form'));
router.add('/posts/:pid', lazy('./post.js', 'render'));
router.add('/posts/:pid/edit', lazy('./postedit.js', 'render'));
router.add('/conversations', lazy('./conversations.js', 'inbox'));
router.add('/conversations/new', lazy('./conversations.js', 'compose'));
router.add('/conversations/:cid', lazy('./conversation.js', 'render'));
router.add('/settings', lazy('./settings.js', 'notifications'));
router.add('/account', lazy('./settings.js', 'account'));
router.add('/impact/streets/:sid', lazy('./impact.js', 'street'));
router.add('/impact/associations/:aid', lazy('./impact.js', 'association'));
router.add('/posts/:pid/handoff', lazy('./impact.js', 'handoff'));
// The neighbourhood's services: public information, signed in or out.
router.add('/places', lazy('./places.js', 'search'), { public: true });
router.add('/places/suggest', lazy('./places.js', 'suggest'));
router.add('/places/:id', lazy('./places.js', 'place'), { public: true });
router.add('/referrals/:id', lazy('./referrals.js', 'followUp'));
router.add('/portineria', lazy('./portineria.js', 'list'));
router.add('/portineria/:aid/places/:pid', lazy('./placeadmin.js', 'edit'));
router.add('/portineria/:aid/members/:mid', lazy('./portineria.js', 'member'));
router.add('/portineria/:aid', lazy('./portineria.js', 'association'));
router.add('/portineria/:aid/:tab', lazy('./portineria.js', 'association'));

router.setGuard((route, url) => {
  if (route && route.public) {
    if (route.guest && session.signedIn()) return new URLSearchParams(location.search).get('next') || '/';
    return '';
  }
  if (!session.signedIn()) return `/signin?next=${encodeURIComponent(url)}`;
  return '';
});

function shell() {
  document.getElementById('skip').textContent = t('nav.skip');
  const nav = document.getElementById('nav');
  const brand = document.getElementById('brand');
  brand.setAttribute('aria-label', t('nav.home'));
  const other = i18n.languages.find((l) => l !== i18n.lang());
  const langButton = h('button', { type: 'button', class: 'lang', lang: other, onclick: switchLanguage },
    t(`lang.switch.${other}`));
  if (!session.signedIn()) {
    mount(nav, h('ul', null, h('li', null, h('a', { href: '/places' }, t('nav.places'))),
      h('li', null, h('a', { href: `/signin` }, t('nav.signin'))), h('li', null, langButton)));
    nav.setAttribute('aria-label', t('nav.label'));
    nav.hidden = false;
    markCurrent();
    return;
  }
  const links = [['/', t('nav.streets')], ['/conversations', t('nav.conversations')], ['/places', t('nav.places')], ['/settings', t('nav.notifications')]];
  if (session.associations().length > 0) links.push(['/portineria', t('nav.portineria')]);
  links.push(['/account', t('nav.account')]);
  mount(nav, h('ul', null, links.map(([href, text]) => h('li', null, h('a', { href }, text))), h('li', null, langButton)));
  nav.setAttribute('aria-label', t('nav.label'));
  nav.hidden = false;
  unreadBadge();
  markCurrent();
}

// unreadBadge shows how many private messages wait, on the inbox's link.
function unreadBadge() {
  const a = document.querySelector('#nav a[href="/conversations"]');
  if (!a) return;
  const n = mailbox.unreadTotal();
  let count = a.querySelector('.count');
  if (n > 0) {
    if (!count) {
      count = h('span', { class: 'count', 'aria-hidden': 'true' });
      a.append(' ', count);
    }
    count.textContent = n > 99 ? '99+' : String(n);
    a.setAttribute('aria-label', i18n.tn('nav.conversations.unread', n));
  } else {
    if (count) count.remove();
    a.textContent = t('nav.conversations');
    a.removeAttribute('aria-label');
  }
}

function markCurrent() {
  const path = location.pathname;
  for (const a of document.querySelectorAll('#nav a')) {
    const href = a.getAttribute('href');
    const on = href === '/' ? path === '/' || path.startsWith('/streets') || path.startsWith('/posts') : path.startsWith(href);
    if (on) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function switchLanguage() {
  const other = i18n.languages.find((l) => l !== i18n.lang());
  await i18n.choose(other);
  // Signed in, the account keeps the choice: pushes and emails follow it.
  if (session.signedIn()) await saveLanguage(other);
  shell();
  netStatus();
  banner.draw();
  await router.reload();
}

// saveLanguage writes the language to the account; offline or refused,
// this device keeps it all the same.
async function saveLanguage(locale) {
  try {
    await patch('/me', { locale });
    if (session.state.me) session.state.me.locale = locale;
  } catch {
    // Saved from the account screen, or with the next switch.
  }
}

let pending = 0;
async function countPending() {
  try {
    pending = (await outbox.list()).length;
  } catch {
    pending = 0;
  }
  netStatus();
}

function netStatus() {
  const el = document.getElementById('net');
  const s = navigator.onLine ? realtime.state() : 'offline';
  const parts = [];
  if (s === 'offline') parts.push(t('net.offline'));
  else if (s === 'connecting') parts.push(t('net.connecting'));
  if (pending > 0) parts.push(i18n.tn('net.pending', pending));
  el.dataset.state = s;
  el.textContent = parts.join(' · ');
  el.hidden = parts.length === 0;
}

function flush() {
  if (session.signedIn() && navigator.onLine) outbox.flush(session.state.user.id);
}

// The service worker: installed quietly; a new version waits until the user
// presses "reload" (never skipWaiting behind their back).
async function registerWorker() {
  if (!('serviceWorker' in navigator)) return;
  let reg;
  try {
    reg = await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  } catch (err) {
    console.error('service worker', err);
    return;
  }
  const offer = (worker) => {
    if (!worker || !navigator.serviceWorker.controller) return;
    const box = document.getElementById('update');
    const go = h('button', { type: 'button', class: 'btn primary', id: 'update-reload' }, t('update.reload'));
    go.addEventListener('click', () => {
      reloading = true;
      worker.postMessage({ type: 'skip-waiting' });
    });
    mount(box, h('p', null, t('update.text')), go);
    box.hidden = false;
  };
  let reloading = false;
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    if (reloading) location.reload();
  });
  if (reg.waiting) offer(reg.waiting);
  reg.addEventListener('updatefound', () => {
    const w = reg.installing;
    if (!w) return;
    w.addEventListener('statechange', () => {
      if (w.state === 'installed') offer(w);
    });
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') reg.update().catch(() => {});
  });
}

function listenToWorker() {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.addEventListener('message', (e) => {
    const msg = e.data || {};
    if (msg.type === 'navigate' && typeof msg.url === 'string' && msg.url.startsWith('/')) router.navigate(msg.url);
    if (msg.type === 'flush') flush();
  });
  navigator.serviceWorker.startMessages?.();
}

async function boot() {
  // The first screen's module, the strings and the session load together,
  // not one after the other.
  router.warm(location.pathname);
  const restoring = session.restore();
  await i18n.load(i18n.preferred());
  listenToWorker();
  await restoring;
  mailbox.start();
  mailbox.events.addEventListener('unread', unreadBadge);
  // The "confirm your address" banner before the first screen: drawn after
  // it, it would push the screen down.
  banner.draw();
  shell();
  session.events.addEventListener('change', () => {
    shell();
    banner.draw();
    if (!session.signedIn()) {
      outbox.clear().catch(() => {});
      router.reload();
    }
  });
  realtime.status.addEventListener('change', netStatus);
  window.addEventListener('online', () => {
    netStatus();
    if (session.state.offline) session.loadMe().catch(() => {});
    flush();
  });
  window.addEventListener('offline', netStatus);
  outbox.events.addEventListener('change', countPending);
  // Something sent from the outbox was refused for good (a full event, a
  // removed post): say so, whatever screen is open.
  outbox.events.addEventListener('failed', (e) => {
    const { error } = e.detail || {};
    toast(`${t('outbox.failed')} ${error ? message(error) : ''}`.trim(), 'error');
  });
  window.addEventListener('popstate', markCurrent);
  document.addEventListener('civico:language', () => {
    shell();
    netStatus();
    banner.draw();
  });
  document.addEventListener('civico:navigated', () => {
    markCurrent();
    banner.draw();
  });
  countPending();
  await router.start();
  markCurrent();
  flush();
  registerWorker();
}

boot();
