// The router: history-API navigation between screens. Each screen is a
// module loaded on first use, with render(ctx); ctx.signal aborts when the
// user leaves, and ctx.cleanup(fn) registers what to undo then.
import { t } from './i18n.js';
import { h, mount } from './dom.js';
import { failure, loading } from './ui.js';

const routes = [];
let guard = null;
let seq = 0;
let leaving = [];
let controller = null;
let first = true;

/** add registers a screen: pattern like '/streets/:sid', load imports it. */
export function add(pattern, load, opts = {}) {
  const keys = [];
  const src = pattern.replace(/:(\w+)/g, (_, k) => {
    keys.push(k);
    return '([^/]+)';
  });
  routes.push({ re: new RegExp(`^${src}/?$`), keys, load, pattern, ...opts });
}

/**
 * warm starts loading the module of pathname's screen, so it arrives while
 * the app waits for its strings and session instead of after them.
 */
export function warm(pathname) {
  const found = match(pathname);
  if (found) found.route.load().catch(() => {});
}

/** setGuard sets fn(route, url) → a URL to go to instead, or ''. */
export function setGuard(fn) {
  guard = fn;
}

/** navigate goes to url (same origin path) and renders it. */
export function navigate(to, { replace = false } = {}) {
  const cur = location.pathname + location.search;
  if (replace) history.replaceState(null, '', to);
  else if (to !== cur) history.pushState(null, '', to);
  return render();
}

/** reload renders the current URL again. */
export function reload() {
  return render();
}

function match(pathname) {
  for (const r of routes) {
    const m = r.re.exec(pathname);
    if (m) {
      const params = {};
      r.keys.forEach((k, i) => {
        params[k] = decodeURIComponent(m[i + 1]);
      });
      return { route: r, params };
    }
  }
  return null;
}

function leave() {
  if (controller) controller.abort();
  for (const fn of leaving) {
    try {
      fn();
    } catch (err) {
      console.error(err);
    }
  }
  leaving = [];
}

/** render shows the screen for the current URL. */
export async function render() {
  const my = ++seq;
  const main = document.getElementById('main');
  const found = match(location.pathname);
  if (guard) {
    const to = guard(found && found.route, location.pathname + location.search);
    if (to) return navigate(to, { replace: true });
  }
  leave();
  controller = new AbortController();
  const ctx = {
    main,
    params: found ? found.params : {},
    query: new URLSearchParams(location.search),
    signal: controller.signal,
    cleanup: (fn) => leaving.push(fn),
    current: () => my === seq,
  };
  mount(main, loading());
  try {
    if (!found) {
      mount(main, h('h1', { tabindex: '-1' }, t('notfound.title')), h('p', null, t('notfound.text')),
        h('p', null, h('a', { href: '/', class: 'btn' }, t('notfound.home'))));
    } else {
      const mod = await found.route.load();
      if (my !== seq) return;
      await mod.render(ctx);
    }
  } catch (err) {
    if (err && err.name === 'AbortError') return;
    if (my !== seq) return;
    console.error(err);
    mount(main, h('h1', { tabindex: '-1' }, t('error.title')), failure(err, () => render()));
  }
  if (my !== seq) return;
  settle(main);
}

// settle names the page and moves focus to its heading, so screen readers
// announce the new screen, as a page load would.
function settle(main) {
  const h1 = main.querySelector('h1');
  document.title = h1 ? `${h1.textContent} · Civico` : 'Civico';
  document.dispatchEvent(new Event('civico:navigated'));
  if (first) {
    first = false;
    return;
  }
  if (h1) {
    h1.setAttribute('tabindex', '-1');
    h1.focus({ preventScroll: false });
  }
  window.scrollTo(0, 0);
}

/** start follows links and the back button. */
export function start() {
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = e.target.closest && e.target.closest('a[href]');
    if (!a || a.target || a.hasAttribute('download') || a.origin !== location.origin) return;
    const href = a.getAttribute('href');
    if (href.startsWith('#') || a.pathname.startsWith('/api/') || /\.\w+$/.test(a.pathname)) return;
    e.preventDefault();
    navigate(a.pathname + a.search);
  });
  window.addEventListener('popstate', () => render());
  return render();
}
