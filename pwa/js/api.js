// The API client: JSON over fetch, the access token kept in memory and
// renewed from the HttpOnly refresh cookie, and error codes turned into
// messages in the user's language.
import { t, has } from './i18n.js';

const BASE = '/api/v1';

/** events fires 'signedout' when the session ends (refresh refused). */
export const events = new EventTarget();

let access = '';
let expires = 0;
let refreshing = null;

/** ApiError is an answer with an error code, or status 0 when offline. */
export class ApiError extends Error {
  constructor(status, code, fields, retryAfter) {
    super(code);
    this.status = status;
    this.code = code;
    this.fields = fields || {};
    this.retryAfter = retryAfter || 0;
  }

  /** offline is true when the server could not be reached at all. */
  get offline() {
    return this.status === 0;
  }
}

/** message is what to tell the user about err, in their language. */
export function message(err) {
  if (err instanceof ApiError) {
    if (has(`error.${err.code}`)) return t(`error.${err.code}`, { seconds: err.retryAfter || 60 });
    if (err.status >= 500) return t('error.server');
    if (err.status === 404) return t('error.not_found');
    if (err.status === 403) return t('error.forbidden');
  }
  return t('error.generic');
}

/** fieldMessage explains a per-field validation code. */
export function fieldMessage(code) {
  return has(`field.${code}`) ? t(`field.${code}`) : t('field.invalid');
}

/** setSession keeps the access token of a register/login/refresh answer. */
export function setSession(s) {
  access = s.access_token;
  // Renew a little early, so a request never leaves with a token about to die.
  expires = Date.now() + Math.max(10, (s.expires_in || 900) - 30) * 1000;
}

/** forget drops the access token. */
export function forget() {
  access = '';
  expires = 0;
}

/** hasToken says whether a fresh access token is held. */
export function hasToken() {
  return !!access && Date.now() < expires;
}

async function doRefresh() {
  let res;
  try {
    res = await fetch(`${BASE}/auth/refresh`, { method: 'POST', credentials: 'same-origin', headers: { Accept: 'application/json' } });
  } catch {
    throw new ApiError(0, 'offline');
  }
  if (!res.ok) {
    const err = await toError(res);
    if (res.status === 401) {
      forget();
      events.dispatchEvent(new CustomEvent('signedout', { detail: err }));
    }
    throw err;
  }
  const s = await res.json();
  setSession(s);
  return s;
}

/**
 * refresh renews the session from the refresh cookie. One at a time, across
 * tabs too: the server revokes a whole session when a rotated refresh token
 * is used twice, which two tabs refreshing at once would do.
 */
export function refresh() {
  if (!refreshing) {
    const run = () => doRefresh();
    const p = navigator.locks ? navigator.locks.request('civico-refresh', run) : run();
    refreshing = p.finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/** token returns a valid access token, refreshing it when needed. */
export async function token() {
  if (!hasToken()) await refresh();
  return access;
}

async function toError(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    // Not JSON (a proxy page): the status says enough.
  }
  const e = (body && body.error) || {};
  const retry = Number(res.headers.get('Retry-After')) || 0;
  return new ApiError(res.status, e.code || `http_${res.status}`, e.fields, retry);
}

function url(path, query) {
  let u = path.startsWith('/api/') ? path : BASE + path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== '') q.set(k, v);
    }
    const s = q.toString();
    if (s) u += (u.includes('?') ? '&' : '?') + s;
  }
  return u;
}

/**
 * request calls the API. Options: body (sent as JSON), query, headers,
 * auth (default true), signal, meta (resolve to {data, saved} where saved
 * is the date of an offline copy served by the service worker), raw (resolve
 * to the Response), data (a Blob or string sent as it is, with the
 * Content-Type given in headers: a CSV upload).
 */
export async function request(method, path, opts = {}) {
  const { body, data: payload, query, headers = {}, auth = true, signal, meta = false, raw = false } = opts;
  const h = { Accept: 'application/json', ...headers };
  if (body !== undefined) h['Content-Type'] = 'application/json';
  if (auth) {
    try {
      h.Authorization = `Bearer ${await token()}`;
    } catch (err) {
      // Offline with no token: a GET may still be answered from the saved copy.
      if (!(err instanceof ApiError && err.offline && method === 'GET')) throw err;
    }
  }
  let res;
  try {
    res = await fetch(url(path, query), {
      method, headers: h, signal, credentials: 'same-origin',
      body: body === undefined ? payload : JSON.stringify(body),
    });
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'offline');
  }
  if (res.status === 401 && auth && !opts.retried) {
    const err = await toError(res);
    if (['token_expired', 'invalid_token', 'unauthorized'].includes(err.code)) {
      forget();
      return request(method, path, { ...opts, retried: true });
    }
    throw err;
  }
  if (!res.ok) throw await toError(res);
  if (raw) return res;
  let data = null;
  if (res.status !== 204) {
    const ct = res.headers.get('Content-Type') || '';
    data = ct.includes('json') ? await res.json() : await res.text();
  }
  if (meta) return { data, saved: res.headers.get('X-Civico-Saved') || '' };
  return data;
}

/** get is request('GET', …) with a query. */
export const get = (path, query, opts = {}) => request('GET', path, { ...opts, query });
/** post sends body as JSON. */
export const post = (path, body, opts = {}) => request('POST', path, { ...opts, body });
/** put sends body as JSON. */
export const put = (path, body, opts = {}) => request('PUT', path, { ...opts, body });
/** patch sends body as JSON. */
export const patch = (path, body, opts = {}) => request('PATCH', path, { ...opts, body });
/** del deletes, with an optional JSON body (a reason). */
export const del = (path, body, opts = {}) => request('DELETE', path, { ...opts, body });

/**
 * file fetches a file with the user's token (a PDF, an image: the API's
 * files need it, so they cannot be plain links) and resolves to a Blob of
 * the type the server said.
 */
export async function file(path, query, accept = '*/*') {
  const res = await request('GET', path, { query, raw: true, headers: { Accept: accept } });
  return res.blob();
}

/** save hands blob to the browser as a download named filename. */
export function save(blob, filename) {
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = filename;
  a.hidden = true;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 30000);
}

/** download fetches a file with the user's token and saves it as filename. */
export async function download(path, filename, query) {
  save(await file(path, query, 'text/csv,*/*'), filename);
}

/** key makes an idempotency key. */
export function key() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
