// "Servizi del quartiere", the Locator for everyone, signed in or not (no
// wrong door starts before sign-up): search by words, kind, area, target
// users, "open now" and distance from where I am; each place with "call",
// "write", "website" and "directions" (a geo: link, which opens the phone's
// own maps: no tile server, no map here), its week's hours, languages and
// accessibility notes, and how long ago a volunteer checked it. The last
// results stay on the phone, and are shown with a note when the network is
// gone. Signed in, a resident suggests a place or reports an inaccuracy.
import { h, mount, uid } from './dom.js';
import { t, tn, has, lang, day, when } from './i18n.js';
import * as api from './api.js';
import * as session from './session.js';
import { navigate } from './router.js';
import { badge, check, empty, failure, field, heading, loading, more, submitting, toast, values } from './ui.js';

/** kinds are locator.Kinds, in its order (pwa/locator_i18n_test.go checks). */
export const kinds = ['health', 'social_services', 'elderly', 'families', 'youth', 'culture', 'sport', 'library', 'school',
  'worship', 'shop', 'public_service', 'green_space', 'other'];

/** targets are locator.Targets, in its order (pwa/locator_i18n_test.go checks). */
export const targets = ['everyone', 'elderly', 'families', 'children', 'youth', 'adults', 'women', 'migrants', 'disabled', 'carers'];

/** days are the keys of the hours' JSON, Monday first (hours.Days). */
export const days = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

const radii = ['500', '1000', '3000'];
const SAVED = 'civico.places.last';
const DEFAULT_TZ = 'Europe/Rome';
const PAGE = 20;

/** dayName is day i (0 = Monday) in the user's language. */
export function dayName(i, style = 'long') {
  // 1 January 2024 was a Monday.
  return new Intl.DateTimeFormat(lang(), { weekday: style, timeZone: 'UTC' }).format(new Date(Date.UTC(2024, 0, 1 + i)));
}

/** kindName is a kind's label. */
export function kindName(k) {
  return has(`place.kind.${k}`) ? t(`place.kind.${k}`) : k;
}

/** languageName is a language code's name in the user's language ("ar" → "arabo"). */
export function languageName(code) {
  try {
    return new Intl.DisplayNames([lang()], { type: 'language' }).of(code) || code;
  } catch {
    return code;
  }
}

function targetName(k) {
  return has(`place.target.${k}`) ? t(`place.target.${k}`) : k;
}

// --- Opening hours ---------------------------------------------------------

function minutes(hhmm) {
  const m = /^(\d{1,2}):(\d{2})$/.exec(hhmm || '');
  return m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
}

// wall is the wall clock at instant d in time zone tz: the local date
// (YYYY-MM-DD), the weekday (0 = Monday) and the minutes since midnight.
function wall(d, tz) {
  let parts;
  try {
    parts = new Intl.DateTimeFormat('en-GB', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(d);
  } catch {
    parts = new Intl.DateTimeFormat('en-GB', { timeZone: DEFAULT_TZ, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(d);
  }
  const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
  const date = `${p.year}-${p.month}-${p.day}`;
  const utc = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day));
  return { date, utc, weekday: (new Date(utc).getUTCDay() + 6) % 7, min: Number(p.hour) % 24 * 60 + Number(p.minute) };
}

function isoDate(utc) {
  return new Date(utc).toISOString().slice(0, 10);
}

// intervalsOn are the openings of a local date: its exception's, else the week's.
function intervalsOn(hours, date, weekday) {
  const ex = (hours.exceptions || []).find((e) => e.date === date);
  if (ex) return ex.closed ? [] : (ex.intervals || []);
  return hours[days[weekday]] || [];
}

/**
 * openAt tells whether a place with these hours (the API's JSON form) is
 * open at instant d in time zone tz, as hours.Week.OpenAt does: a close at
 * or before the opening crosses midnight and belongs to the day it opens;
 * an exception replaces its date's week. Null when no hours are known. It
 * runs on the phone so that results saved for offline still say whether a
 * place is open now, not when they were saved.
 */
export function openAt(hours, tz, d = new Date()) {
  if (!hours || !days.some((k) => (hours[k] || []).length) && !(hours.exceptions || []).some((e) => !e.closed)) return null;
  const w = wall(d, tz || DEFAULT_TZ);
  for (const [a, b] of intervalsOn(hours, w.date, w.weekday)) {
    const o = minutes(a);
    const c = minutes(b);
    if (Number.isNaN(o) || Number.isNaN(c)) continue;
    if (c > o ? w.min >= o && w.min < c : w.min >= o) return true;
  }
  const yUTC = w.utc - 86400000;
  for (const [a, b] of intervalsOn(hours, isoDate(yUTC), (w.weekday + 6) % 7)) {
    const o = minutes(a);
    const c = minutes(b);
    if (c <= o && w.min < c) return true;
  }
  return false;
}

/** spans is "09:00–12:30, 15:00–18:00" for a day's intervals. */
export function spans(list) {
  return (list || []).map(([a, b]) => `${a}–${b}`).join(', ');
}

function hoursTable(p) {
  const hrs = p.hours || {};
  if (openAt(hrs, p.time_zone) === null) return h('p', { class: 'meta' }, t('place.hours.unknown'));
  const today = new Date().toISOString().slice(0, 10);
  const upcoming = (hrs.exceptions || []).filter((e) => e.date >= today).sort((a, b) => a.date.localeCompare(b.date));
  return h('div', { class: 'hours' },
    h('table', { class: 'hours-week' },
      h('caption', { class: 'sr-only' }, t('place.hours')),
      h('tbody', null, days.map((k, i) => h('tr', null, h('th', { scope: 'row' }, dayName(i)),
        h('td', null, (hrs[k] || []).length ? spans(hrs[k]) : t('place.hours.closed')))))),
    upcoming.length ? h('ul', { class: 'hours-exceptions' }, upcoming.map((e) => h('li', null,
      `${day(`${e.date}T12:00:00Z`)}: ${e.closed ? t('place.hours.closed') : spans(e.intervals)}${e.note ? ` (${e.note})` : ''}`))) : null);
}

// --- One place -----------------------------------------------------------

/** distance is "350 m" or "1,2 km". */
export function distance(m) {
  if (m === undefined || m === null) return '';
  if (m < 1000) return new Intl.NumberFormat(lang(), { style: 'unit', unit: 'meter', maximumFractionDigits: 0 }).format(Math.round(m / 10) * 10);
  return new Intl.NumberFormat(lang(), { style: 'unit', unit: 'kilometer', maximumFractionDigits: 1 }).format(m / 1000);
}

/** verified is "verified 3 months ago", from the date a volunteer last checked. */
export function verified(iso) {
  if (!iso) return t('place.verified.never');
  const daysAgo = (Date.now() - new Date(iso).getTime()) / 86400000;
  const rtf = new Intl.RelativeTimeFormat(lang(), { numeric: 'auto' });
  let rel;
  if (daysAgo < 1) return t('place.verified.today');
  if (daysAgo < 31) rel = rtf.format(-Math.floor(daysAgo), 'day');
  else if (daysAgo < 730) rel = rtf.format(-Math.floor(daysAgo / 30.44), 'month');
  else rel = rtf.format(-Math.floor(daysAgo / 365.25), 'year');
  return t('place.verified', { when: rel });
}

/** stale says whether a place was not verified for over a year. */
export function stale(p) {
  if (p.stale !== undefined) return !!p.stale;
  return !p.verified_at || Date.now() - new Date(p.verified_at).getTime() > 365 * 86400000;
}

/** geo is the link that opens the phone's maps at the place. */
export function geo(p) {
  if (typeof p.lat === 'number' && typeof p.lng === 'number') {
    return `geo:${p.lat},${p.lng}?q=${encodeURIComponent(`${p.lat},${p.lng}(${p.name})`)}`;
  }
  const where = [p.address, p.area].filter(Boolean).join(', ');
  return where ? `geo:0,0?q=${encodeURIComponent(where)}` : '';
}

function web(u) {
  const s = String(u || '').trim();
  if (!s) return '';
  if (/^https?:\/\//i.test(s)) return s;
  if (/^[a-z][a-z0-9+.-]*:/i.test(s)) return ''; // no javascript:, data:…
  return `https://${s}`;
}

/** contactLinks are the place's "call", "write", "website" and "directions". */
export function contactLinks(p, describedBy) {
  const c = p.contacts || {};
  const out = [];
  const link = (href, text, cls, extra = {}) => out.push(h('a', { href, class: `btn small ${cls}`, 'aria-describedby': describedBy, ...extra }, text));
  if (c.phone) link(`tel:${c.phone.replace(/[^\d+]/g, '')}`, t('place.call'), 'call');
  if (c.email) link(`mailto:${c.email}`, t('place.write'), 'write');
  const site = web(c.web);
  if (site) link(site, t('place.website'), 'website', { target: '_blank', rel: 'noopener noreferrer' });
  const g = geo(p);
  if (g) link(g, t('place.directions'), 'directions');
  return out;
}

function openBadge(p) {
  const open = openAt(p.hours, p.time_zone);
  const known = open === null ? (p.open === undefined ? null : p.open) : open;
  if (known === null) return null;
  return known ? badge(t('place.open'), 'ok open-now') : badge(t('place.closed'), 'closed-now');
}

/** facts are the place's details: address, hours, languages, accessibility, who it is for. */
export function facts(p) {
  const rows = [
    ['place.address', [p.address, p.area].filter(Boolean).join(', ')],
    ['place.targets', (p.targets || []).map(targetName).join(', ')],
    ['place.languages', (p.languages || []).map(languageName).join(', ')],
    ['place.accessibility', p.accessibility],
    ['place.phone', (p.contacts || {}).phone],
    ['place.email', (p.contacts || {}).email],
  ].filter(([, v]) => v);
  return [
    p.description ? h('p', { class: 'place-description' }, p.description) : null,
    rows.length ? h('dl', { class: 'place-facts' }, rows.map(([k, v]) => [h('dt', null, t(k)), h('dd', null, v)])) : null,
    h('h4', null, t('place.hours')),
    hoursTable(p),
  ];
}

/** reportLink asks to report an inaccuracy; signed out, it invites to sign in. */
function reportLink(p, describedBy) {
  const to = `/places/suggest?place=${encodeURIComponent(p.id)}`;
  if (session.signedIn()) return h('a', { href: to, class: 'btn small ghost report', 'aria-describedby': describedBy }, t('place.report'));
  return h('a', { href: `/signin?next=${encodeURIComponent(to)}`, class: 'btn small ghost report', 'aria-describedby': describedBy }, t('place.report.signin'));
}

/** card is a place in a list of results. */
export function card(p, { report = true } = {}) {
  const titleId = uid('place');
  const meta = [kindName(p.kind), p.area, p.distance_m !== undefined && p.distance_m !== null ? t('place.away', { d: distance(p.distance_m) }) : ''].filter(Boolean);
  const old = stale(p);
  return h('li', { class: `card place${old ? ' stale' : ''}`, 'data-place-id': p.id },
    h('h3', { id: titleId }, h('a', { href: `/places/${p.id}` }, p.name)),
    h('p', { class: 'meta' }, meta.join(' · ')),
    h('p', { class: 'tags' }, openBadge(p),
      h('span', { class: 'verified' }, verified(p.verified_at)),
      old ? badge(t('place.stale'), 'warn stale-mark') : null),
    h('div', { class: 'actions' }, contactLinks(p, titleId)),
    h('details', { class: 'place-more' }, h('summary', { 'aria-describedby': titleId }, t('place.details')), facts(p),
      report ? h('div', { class: 'actions' }, reportLink(p, titleId)) : null));
}

// --- Saved results, for offline --------------------------------------------

function readSaved() {
  try {
    const s = JSON.parse(localStorage.getItem(SAVED) || 'null');
    return s && Array.isArray(s.items) ? s : null;
  } catch {
    return null;
  }
}

function save(query, items, cursor) {
  try {
    localStorage.setItem(SAVED, JSON.stringify({ query, items: items.slice(0, 100), next_cursor: cursor || '', saved: new Date().toISOString() }));
  } catch {
    // Storage full or refused: the list still works online.
  }
}

/** savedPlace is a place from the last results kept on the phone, or null. */
export function savedPlace(id) {
  const s = readSaved();
  return (s && s.items.find((p) => p.id === id)) || null;
}

// --- The search screen -------------------------------------------------------

function filtersFrom(query) {
  return {
    q: query.get('q') || '',
    kind: kinds.includes(query.get('kind')) ? query.get('kind') : '',
    area: query.get('area') || '',
    target: targets.includes(query.get('target')) ? query.get('target') : '',
    open: query.get('open') === '1',
    radius: radii.includes(query.get('radius')) ? query.get('radius') : '1000',
  };
}

function asQuery(f) {
  const p = new URLSearchParams();
  for (const k of ['q', 'kind', 'area', 'target']) if (f[k]) p.set(k, f[k]);
  if (f.open) p.set('open', '1');
  if (f.radius !== '1000') p.set('radius', f.radius);
  return p.toString();
}

/** suggestAction is "suggest a place", or, signed out, an invitation to sign in first. */
function suggestAction() {
  if (session.signedIn()) return h('a', { href: '/places/suggest', class: 'btn', id: 'suggest-place' }, t('places.suggest'));
  return h('a', { href: `/signin?next=${encodeURIComponent('/places/suggest')}`, class: 'btn', id: 'suggest-place' }, t('places.suggest.signin'));
}

/** search is the services screen: filters, "near me", results, more. */
export async function search(ctx) {
  let f = filtersFrom(ctx.query);
  let near = null; // {lat, lng}: kept in memory only, never in the URL or history
  const kindOpts = [['', t('places.kind.any')], ...kinds.map((k) => [k, kindName(k)])];
  const targetOpts = [['', t('places.target.any')], ...targets.map((k) => [k, targetName(k)])];
  const nearState = h('p', { class: 'meta', id: 'near-state', 'aria-live': 'polite' });
  const nearButton = h('button', { type: 'button', class: 'btn ghost', id: 'near-me', 'aria-pressed': 'false' }, t('places.near'));
  const radius = field({ label: t('places.radius'), name: 'radius', type: 'select', value: f.radius,
    options: radii.map((r) => [r, distance(Number(r))]) });
  // The words and "open now" always in sight; the other filters folded
  // (open when one is set), so that on a phone the results start high.
  const form = h('form', { class: 'places-filters', role: 'search', id: 'places-search', 'aria-label': t('places.filters'), novalidate: true },
    field({ label: t('places.q'), name: 'q', type: 'search', value: f.q, maxlength: 100, hint: t('places.q.hint') }),
    check({ label: t('places.open'), name: 'open', checked: f.open }),
    h('details', { class: 'filters-box', id: 'places-more', open: f.kind || f.area || f.target ? true : null },
      h('summary', null, t('places.more')),
      h('div', { class: 'filters' },
        field({ label: t('places.kind'), name: 'kind', type: 'select', value: f.kind, options: kindOpts }),
        field({ label: t('places.area'), name: 'area', value: f.area, maxlength: 120, autocomplete: 'off' }),
        field({ label: t('places.target'), name: 'target', type: 'select', value: f.target, options: targetOpts }),
        h('fieldset', { class: 'near' }, h('legend', null, t('places.near.legend')),
          h('p', { class: 'hint' }, t('places.near.hint')), nearButton, nearState, radius))),
    h('button', { type: 'submit', class: 'btn primary wide', id: 'places-go' }, t('action.search')));

  const count = h('h2', { id: 'places-results', tabindex: '-1' }, t('places.results'));
  const live = h('p', { class: 'sr-only', 'aria-live': 'polite', 'aria-atomic': 'true', id: 'places-live' });
  const note = h('p', { class: 'saved', role: 'status', id: 'places-saved', hidden: true });
  const ul = h('ul', { class: 'list cards places', id: 'places' });
  const out = h('div', { id: 'places-out' }, loading());
  const pager = h('div', { class: 'pager' });
  mount(ctx.main,
    heading(t('places.title'), h('p', { class: 'lead' }, t('places.lead'))),
    h('div', { class: 'actions' }, suggestAction()),
    form, count, live, note, out, pager);

  const drawNear = () => {
    nearButton.setAttribute('aria-pressed', near ? 'true' : 'false');
    nearButton.textContent = near ? t('places.near.off') : t('places.near');
    nearState.textContent = near ? t('places.near.on') : '';
    radius.hidden = !near;
  };
  drawNear();

  let items = [];
  let shown = '';
  const apiQuery = (cursor) => ({
    q: f.q, kind: f.kind, area: f.area, target: f.target,
    open_now: f.open ? '1' : '',
    near: near ? `${near.lat.toFixed(5)},${near.lng.toFixed(5)}` : '',
    radius_m: near ? f.radius : '',
    cursor, limit: PAGE,
  });
  const draw = (res, cursor) => {
    for (const p of res.items || []) ul.append(card(p));
    mount(pager, more(res.next_cursor, (c) => page(c, false)));
    mount(out, ul.children.length ? ul : empty(t('places.none')));
    return cursor;
  };
  const announce = (focus) => {
    const n = ul.children.length;
    live.textContent = n ? tn('places.found', n) : t('places.none');
    if (focus) count.focus();
  };
  const page = async (cursor, focus) => {
    let res;
    try {
      res = await api.get('/places', apiQuery(cursor), { signal: ctx.signal, auth: false });
    } catch (err) {
      if (err.name === 'AbortError' || !ctx.current()) throw err;
      const last = err instanceof api.ApiError && err.offline && !cursor ? readSaved() : null;
      if (!last) throw err;
      // Offline: the last results seen, with when they were saved and for which search.
      ul.replaceChildren();
      for (const p of last.items) ul.append(card(p));
      note.textContent = t(last.query === shown ? 'places.saved' : 'places.saved.other', { when: when(last.saved) });
      note.hidden = false;
      mount(pager);
      mount(out, ul.children.length ? ul : empty(t('places.none')));
      announce(focus);
      return;
    }
    if (!ctx.current()) return;
    note.hidden = true;
    if (!cursor) {
      ul.replaceChildren();
      items = [];
    }
    items = items.concat(res.items || []);
    save(shown, items, res.next_cursor);
    draw(res, cursor);
    if (!cursor) announce(focus);
  };
  const run = async (focus) => {
    shown = `${asQuery(f)}${near ? '&near' : ''}`;
    mount(out, loading());
    mount(pager);
    try {
      await page('', focus);
    } catch (err) {
      if (err.name === 'AbortError' || !ctx.current()) return;
      mount(out, failure(err, () => run(true)));
      live.textContent = api.message(err);
    }
  };

  // A search stays on this screen: the URL follows the filters (to share or
  // come back to), focus moves to the results and their number is announced.
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = values(form);
    f = { q: v.q, kind: v.kind, area: v.area, target: v.target, open: !!v.open, radius: v.radius || f.radius };
    const qs = asQuery(f);
    history.replaceState(null, '', `/places${qs ? `?${qs}` : ''}`);
    submitting(form, () => run(true));
  });
  nearButton.addEventListener('click', () => {
    if (near) {
      near = null;
      drawNear();
      return;
    }
    if (!navigator.geolocation) {
      nearState.textContent = t('places.near.unavailable');
      return;
    }
    nearButton.setAttribute('aria-busy', 'true');
    nearState.textContent = t('places.near.asking');
    navigator.geolocation.getCurrentPosition((pos) => {
      nearButton.removeAttribute('aria-busy');
      if (!ctx.current()) return;
      near = { lat: pos.coords.latitude, lng: pos.coords.longitude };
      drawNear();
    }, (err) => {
      nearButton.removeAttribute('aria-busy');
      nearState.textContent = t(err && err.code === 1 ? 'places.near.denied' : 'places.near.unavailable');
    }, { enableHighAccuracy: false, timeout: 15000, maximumAge: 300000 });
  });

  await run(false);
}

// --- One place's page --------------------------------------------------------

/** place is the page of place ctx.params.id, also from the saved results when offline. */
export async function place(ctx) {
  const id = ctx.params.id;
  const back = h('p', null, h('a', { href: '/places', class: 'back' }, t('place.back')));
  mount(ctx.main, back, heading(t('places.title')), loading());
  let p;
  let savedCopy = false;
  try {
    p = await api.get(`/places/${id}`, null, { signal: ctx.signal, auth: false });
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.current()) return;
    p = err instanceof api.ApiError && err.offline ? savedPlace(id) : null;
    if (!p) {
      mount(ctx.main, back, heading(t('places.title')), failure(err, () => place(ctx)));
      return;
    }
    savedCopy = true;
  }
  if (!ctx.current()) return;
  const titleId = 'place-name';
  const old = stale(p);
  mount(ctx.main, back,
    h('div', { class: 'heading' }, h('h1', { tabindex: '-1', id: titleId }, p.name),
      h('p', { class: 'lead' }, [kindName(p.kind), p.area].filter(Boolean).join(' · '))),
    savedCopy ? h('p', { class: 'saved', role: 'status' }, t('place.saved')) : null,
    h('p', { class: 'tags' }, openBadge(p), h('span', { class: 'verified' }, verified(p.verified_at)), old ? badge(t('place.stale'), 'warn stale-mark') : null),
    h('div', { class: 'actions', id: 'place-actions' }, contactLinks(p, titleId)),
    h('section', { class: 'card place-page', 'data-place-id': p.id }, facts(p)),
    h('div', { class: 'actions' }, reportLink(p, titleId)));
}

// --- Suggesting -----------------------------------------------------------------

// mine is the resident's own suggestions, with their status and the reason of a decline.
async function mine(ctx, box) {
  const res = await api.get('/me/suggestions', { limit: 20 }, { signal: ctx.signal });
  if (!ctx.current()) return;
  const items = res.items || [];
  if (!items.length) {
    mount(box);
    return;
  }
  const state = { pending: ['suggest.status.pending', 'info'], accepted: ['suggest.status.accepted', 'ok'], declined: ['suggest.status.declined', 'warn'] };
  mount(box, h('h2', null, t('suggest.mine')), h('ul', { class: 'list cards', id: 'my-suggestions' }, items.map((s) => {
    const [label, kind] = state[s.status] || state.pending;
    return h('li', { class: 'card', 'data-suggestion-id': s.id },
      h('p', null, s.place_name || (s.changes && s.changes.name) || t('suggest.newplace')),
      h('p', { class: 'meta' }, s.text),
      h('p', null, badge(t(label), kind), s.created_at ? h('span', { class: 'meta' }, ` ${day(s.created_at)}`) : null),
      s.status === 'declined' && s.reason ? h('p', { class: 'meta' }, t('suggest.reason', { reason: s.reason })) : null);
  })));
}

/**
 * suggest is the resident's form: with ?place=<id>, report an inaccuracy on
 * that place (what is wrong, in words); without, suggest a new place to
 * one of the desks, which decides.
 */
export async function suggest(ctx) {
  const pid = ctx.query.get('place') || '';
  mount(ctx.main, heading(t(pid ? 'suggest.report.title' : 'suggest.title')), loading());
  let p = null;
  let desks = [];
  try {
    if (pid) p = await api.get(`/places/${pid}`, null, { signal: ctx.signal, auth: false });
    else desks = (await api.get('/associations', { limit: 100 }, { signal: ctx.signal })).items || [];
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.current()) return;
    mount(ctx.main, heading(t(pid ? 'suggest.report.title' : 'suggest.title')), failure(err, () => suggest(ctx)));
    return;
  }
  if (!ctx.current()) return;
  const form = h('form', { class: 'stack card', id: 'suggest-form', novalidate: true });
  if (p) {
    form.append(
      h('p', null, t('suggest.report.lead', { name: p.name })),
      field({ label: t('suggest.report.text'), name: 'text', type: 'textarea', required: true, maxlength: 2000, rows: 4, hint: t('suggest.report.hint') }));
  } else {
    const mineFirst = session.associations().map((a) => a.id);
    desks.sort((a, b) => Number(mineFirst.includes(b.id)) - Number(mineFirst.includes(a.id)));
    form.append(
      h('p', null, t('suggest.lead')),
      desks.length ? field({ label: t('suggest.desk'), name: 'association_id', type: 'select', required: true, value: '',
        options: [['', t('suggest.desk.choose')], ...desks.map((a) => [a.id, [a.name, a.area].filter(Boolean).join(' · ')])], hint: t('suggest.desk.hint') })
        : h('p', { class: 'notice warn' }, t('suggest.nodesk')),
      field({ label: t('place.name'), name: 'name', required: true, maxlength: 120 }),
      field({ label: t('place.kind'), name: 'kind', type: 'select', required: true, value: '', options: [['', t('place.kind.choose')], ...kinds.map((k) => [k, kindName(k)])] }),
      field({ label: t('place.address.field'), name: 'address', maxlength: 200 }),
      field({ label: t('place.area'), name: 'area', maxlength: 120 }),
      field({ label: t('place.phone'), name: 'phone', type: 'tel', maxlength: 40 }),
      field({ label: t('place.email'), name: 'email', type: 'email', maxlength: 254 }),
      field({ label: t('place.web'), name: 'web', type: 'url', maxlength: 300 }),
      field({ label: t('suggest.text'), name: 'text', type: 'textarea', required: true, maxlength: 2000, rows: 4, hint: t('suggest.text.hint') }));
  }
  form.append(h('button', { type: 'submit', class: 'btn primary wide', disabled: !p && !desks.length }, t('suggest.send')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const v = values(form);
      const missing = {};
      for (const k of p ? ['text'] : ['association_id', 'name', 'kind', 'text']) if (!v[k]) missing[k] = 'required';
      if (Object.keys(missing).length) throw new api.ApiError(422, 'validation_failed', missing);
      let body;
      if (p) body = { place_id: p.id, text: v.text };
      else {
        const changes = { name: v.name, kind: v.kind };
        if (v.address) changes.address = v.address;
        if (v.area) changes.area = v.area;
        const contacts = {};
        for (const k of ['phone', 'email', 'web']) if (v[k]) contacts[k] = v[k];
        if (Object.keys(contacts).length) changes.contacts = contacts;
        body = { association_id: v.association_id, text: v.text, changes };
      }
      await api.post('/places/suggestions', body);
      toast(t('suggest.sent'));
      await navigate(p ? `/places/${p.id}` : '/places/suggest?sent=1');
    });
  });
  const list = h('section', { id: 'suggestions-mine' });
  mount(ctx.main,
    h('p', null, h('a', { href: p ? `/places/${p.id}` : '/places', class: 'back' }, t(p ? 'place.back.one' : 'place.back'))),
    heading(t(p ? 'suggest.report.title' : 'suggest.title')),
    ctx.query.get('sent') ? h('p', { class: 'notice ok', role: 'status' }, t('suggest.sent')) : null,
    form, list);
  try {
    await mine(ctx, list);
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.current()) return;
    mount(list); // the form matters; the list can wait for the next visit
  }
}
