// Who is signed in: the account and what they belong to (GET /me), kept
// in memory, with a small copy in localStorage so the app can open offline.
import * as api from './api.js';

const USER_KEY = 'civico.user';
// Set at sign-in, cleared at sign-out: without it (nor a saved user) there
// is no session to resume, and asking the server would only get a 401.
const SIGNED_IN = 'civico.signedin';

function mayHaveSession() {
  try {
    return !!(localStorage.getItem(SIGNED_IN) || localStorage.getItem(USER_KEY));
  } catch {
    return true; // no storage: ask
  }
}

/** state is the signed-in user and their memberships; user null when out. */
export const state = { user: null, me: null, offline: false };

/** events fires 'change' when the user or memberships change. */
export const events = new EventTarget();

function changed() {
  events.dispatchEvent(new Event('change'));
}

function remember(me) {
  const keep = { id: me.id, name: me.name, email: me.email, locale: me.locale, on_paper: me.on_paper, memberships: me.memberships };
  localStorage.setItem(USER_KEY, JSON.stringify(keep));
}

function saved() {
  try {
    return JSON.parse(localStorage.getItem(USER_KEY) || 'null');
  } catch {
    return null;
  }
}

/** signedIn says whether there is a user. */
export function signedIn() {
  return !!state.user;
}

/** loadMe refreshes the account and memberships. */
export async function loadMe() {
  const me = await api.get('/me');
  state.me = me;
  state.user = me;
  state.offline = false;
  remember(me);
  changed();
  return me;
}

/**
 * restore resumes a session from the refresh cookie. Offline, it keeps the
 * saved user so the saved feeds can be read; it returns false when the
 * server says there is no session, or without asking when this browser was
 * never signed in (or signed out).
 */
export async function restore() {
  if (!mayHaveSession()) return false;
  try {
    await api.refresh();
    await loadMe();
    return true;
  } catch (err) {
    if (err instanceof api.ApiError && err.offline) {
      const me = saved();
      if (!me) return false;
      state.me = me;
      state.user = me;
      state.offline = true;
      changed();
      return true;
    }
    return false;
  }
}

async function start(session) {
  api.setSession(session);
  localStorage.setItem(SIGNED_IN, '1');
  state.user = session.user;
  await loadMe();
}

/** login signs in with email and password. */
export async function login(email, password) {
  await start(await api.post('/auth/login', { email, password }, { auth: false }));
}

/** register creates an account and signs in. */
export async function register(fields) {
  await start(await api.post('/auth/register', fields, { auth: false }));
}

/** clear forgets the user locally: token, saved user, saved feeds. */
export async function clear() {
  api.forget();
  state.user = null;
  state.me = null;
  localStorage.removeItem(USER_KEY);
  localStorage.removeItem(SIGNED_IN);
  if (window.caches) await caches.delete('civico-data');
  changed();
}

/** logout ends the session on the server (and this device's pushes). */
export async function logout(pushEndpoint) {
  const headers = pushEndpoint ? { 'X-Push-Endpoint': pushEndpoint } : {};
  try {
    await api.post('/auth/logout', undefined, { auth: false, headers });
  } catch {
    // Signed out locally whatever the server said.
  }
  await clear();
}

api.events.addEventListener('signedout', () => {
  if (state.user && !state.offline) clear();
});

/** streets are my street memberships: [{id, name, role, status, …}]. */
export function streets() {
  const m = (state.me && state.me.memberships) || {};
  const list = Array.isArray(m.streets) ? m.streets : (m.streets && m.streets.items) || [];
  return list.map((s) => ({ ...s, id: s.street_id || s.id }));
}

/** street is my membership of sid, or null. */
export function street(sid) {
  return streets().find((s) => s.id === sid) || null;
}

/** isAdmin says whether I admin street sid. */
export function isAdmin(sid) {
  const s = street(sid);
  return !!s && s.role === 'admin' && (s.status || 'active') === 'active';
}

/** associations are my association roles: [{id, name, role}]. */
export function associations() {
  const m = (state.me && state.me.memberships) || {};
  const list = Array.isArray(m.associations) ? m.associations : (m.associations && m.associations.items) || [];
  return list.map((a) => ({ ...a, id: a.association_id || a.id }));
}
