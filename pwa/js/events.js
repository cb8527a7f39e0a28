// The street's events: the list (upcoming first), the event page with
// "I'll come" (+ guests) / "Can't", the counts and "full", the form to
// propose or change one, cancelling with a reason, the .ics download, and
// the next few at the top of the street's feed.
//
// An answer given offline waits in the outbox (as posts and replies do)
// and is sent once the connection is back; a second answer to the same
// event replaces the first one still waiting, so only the last choice
// leaves the phone. The page shows the waiting answer as the user's own.
import { h, mount } from './dom.js';
import { t, tn, lang } from './i18n.js';
import * as api from './api.js';
import * as session from './session.js';
import * as outbox from './outbox.js';
import * as realtime from './realtime.js';
import { navigate } from './router.js';
import { gallery, picker } from './photos.js';
import { ask, badge, busy, empty, failure, field, heading, loading, more, submitting, toast, values } from './ui.js';

const fmtLong = () => new Intl.DateTimeFormat(lang(), { weekday: 'long', day: 'numeric', month: 'long', hour: '2-digit', minute: '2-digit' });
const fmtTime = () => new Intl.DateTimeFormat(lang(), { hour: '2-digit', minute: '2-digit' });

/** span says when an event is: "sabato 12 ottobre, 19:00 – 23:00". */
export function span(e) {
  if (!e.starts_at) return '';
  const from = new Date(e.starts_at);
  const to = e.ends_at ? new Date(e.ends_at) : null;
  if (!to) return fmtLong().format(from);
  const end = from.toDateString() === to.toDateString() ? fmtTime().format(to) : fmtLong().format(to);
  return `${fmtLong().format(from)} – ${end}`;
}

// The counts: the seats taken (those coming with their guests) and the
// people who said they cannot.
function going(e) {
  return Number(e.seats_taken) || 0;
}
function notGoing(e) {
  return Number(e.no) || 0;
}
/** mine is the user's answer as the server has it: {answer, guests} or null. */
function mine(e) {
  const r = e.my_answer || null;
  if (!r || !r.answer) return null;
  return { answer: r.answer, guests: Number(r.guests) || 0 };
}
function cancelled(e) {
  return e.status === 'cancelled';
}
function full(e) {
  if (e.full) return true;
  return !!e.capacity && (e.seats_left === 0 || going(e) >= e.capacity);
}
function past(e) {
  return new Date(e.ends_at || e.starts_at) < new Date();
}

function stateBadge(e) {
  if (cancelled(e)) return badge(t('event.cancelled'), 'danger');
  if (past(e)) return badge(t('event.past'), '');
  if (full(e)) return badge(t('event.full'), 'warn');
  return null;
}

/** eventCard is an event in a list. */
export function eventCard(e, { compact = false } = {}) {
  const counts = [tn('event.going', going(e))];
  if (e.capacity) counts.push(t('event.capacity.of', { n: e.capacity }));
  const m = mine(e);
  return h('li', { class: `card event${cancelled(e) ? ' cancelled' : ''}${compact ? ' compact' : ''}`, 'data-event-id': e.id },
    h('p', { class: 'tags' }, badge(t('event.badge'), 'info'), stateBadge(e),
      m ? badge(m.answer === 'yes' ? t('event.mine.yes') : t('event.mine.no'), m.answer === 'yes' ? 'ok' : '') : null),
    h(compact ? 'h3' : 'h2', { class: 'event-title' }, h('a', { href: `/events/${e.id}` }, e.title)),
    h('p', { class: 'when' }, h('time', { datetime: e.starts_at }, span(e))),
    e.place ? h('p', { class: 'meta' }, e.place) : null,
    compact ? null : h('p', { class: 'meta' }, counts.join(' · ')));
}

/**
 * upcoming is the strip of the next few events at the top of a street's
 * feed; it draws nothing when there are none (or they cannot be read).
 * It returns {el, reload(), ready}: ready settles once the first look
 * is drawn, so the feed can draw its posts under it without a shift.
 */
export function upcoming(sid, signal) {
  const el = h('section', { class: 'upcoming', id: 'upcoming-events', 'aria-labelledby': 'upcoming-heading', hidden: true });
  const reload = async () => {
    try {
      const res = await api.get(`/streets/${sid}/events`, { limit: 5 }, { signal });
      const items = (res.items || []).filter((e) => !cancelled(e) && !past(e)).slice(0, 3);
      if (!items.length) {
        el.hidden = true;
        return;
      }
      mount(el, h('h2', { id: 'upcoming-heading' }, t('events.upcoming')),
        h('ul', { class: 'list cards' }, items.map((e) => eventCard(e, { compact: true }))),
        h('p', { class: 'link-line' }, h('a', { href: `/streets/${sid}/events` }, t('events.all'))));
      el.hidden = false;
    } catch {
      el.hidden = true; // offline or not a member: the feed says so
    }
  };
  const ready = reload();
  return { el, reload, ready };
}

/** list is the street's events: upcoming first, then the past ones. */
export async function list(ctx) {
  const sid = ctx.params.sid;
  const s = session.street(sid);
  const ul = h('ul', { class: 'list cards', id: 'events' });
  const body = h('div', null, loading());
  mount(ctx.main,
    heading(t('events.title'), s ? h('p', { class: 'lead' }, s.name) : null,
      h('p', null, h('a', { href: `/streets/${sid}`, class: 'back' }, t('events.back')))),
    h('div', { class: 'actions' }, h('a', { href: `/streets/${sid}/events/new`, class: 'btn primary', id: 'new-event' }, t('event.new'))),
    body);
  const page = async (cursor) => {
    const res = await api.get(`/streets/${sid}/events`, { cursor, limit: 20 }, { signal: ctx.signal });
    if (!ctx.current()) return;
    for (const e of res.items || []) ul.append(eventCard(e));
    mount(body, ul.children.length ? ul : empty(t('events.none')), more(res.next_cursor, page));
  };
  try {
    await page('');
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.current()) return;
    mount(body, failure(err, () => list(ctx)));
  }
}

// local turns an RFC 3339 time into a datetime-local value, and back.
function toLocal(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function checkEvent(v) {
  const fields = {};
  if (!v.title) fields.title = 'required';
  if (!v.starts_at) fields.starts_at = 'required';
  if (!v.ends_at) fields.ends_at = 'required';
  if (v.starts_at && v.ends_at && new Date(v.ends_at) <= new Date(v.starts_at)) fields.ends_at = 'invalid';
  if (!v.place) fields.place = 'required';
  if (v.capacity && !(Number(v.capacity) >= 1)) fields.capacity = 'out_of_range';
  if (Object.keys(fields).length) throw new api.ApiError(422, 'validation_failed', fields);
}

/** form proposes an event (/streets/:sid/events/new) or changes one (/events/:eid/edit). */
export async function form(ctx) {
  const eid = ctx.params.eid || '';
  let ev = null;
  let sid = ctx.params.sid || '';
  if (eid) {
    mount(ctx.main, heading(t('event.edit')), loading());
    try {
      ev = await api.get(`/events/${eid}`, undefined, { signal: ctx.signal });
    } catch (err) {
      if (err.name === 'AbortError' || !ctx.current()) return;
      mount(ctx.main, heading(t('event.edit')), failure(err, () => form(ctx)));
      return;
    }
    if (!ctx.current()) return;
    sid = ev.street_id;
  }
  const idem = api.key();
  // The optional photo, picked and uploaded as on a post (its description
  // starts as the title). Editing, the current photo shows with a button
  // to remove it; a photo picked replaces it.
  const photo = picker({ sid, max: 1, name: 'photo', title: () => (f ? f.elements.title.value.trim() : '') });
  let dropPhoto = false;
  let current = null;
  if (ev && ev.photo) {
    const remove = h('button', { type: 'button', class: 'btn ghost small', id: 'event-photo-remove' }, t('photo.remove'));
    current = h('div', { class: 'stack-tight', id: 'event-photo-current' }, h('p', { class: 'meta' }, t('event.photo.current')), gallery([ev.photo]), remove);
    remove.addEventListener('click', () => {
      dropPhoto = true;
      current.hidden = true;
      toast(t('photo.removed'));
    });
  }
  const f = h('form', { class: 'stack card', id: 'event-form', novalidate: true },
    field({ label: t('event.title'), name: 'title', required: true, maxlength: 120, value: ev ? ev.title : '', hint: t('event.title.hint') }),
    field({ label: t('event.description'), name: 'description', type: 'textarea', maxlength: 4000, rows: 5, value: ev ? ev.description || '' : '' }),
    field({ label: t('event.starts'), name: 'starts_at', type: 'datetime-local', required: true, value: ev ? toLocal(ev.starts_at) : '' }),
    field({ label: t('event.ends'), name: 'ends_at', type: 'datetime-local', required: true, value: ev ? toLocal(ev.ends_at) : '' }),
    field({ label: t('event.place'), name: 'place', required: true, maxlength: 200, value: ev ? ev.place || '' : '', hint: t('event.place.hint'), autocomplete: 'off' }),
    field({ label: t('event.capacity'), name: 'capacity', type: 'number', min: 1, max: 10000, inputmode: 'numeric', value: ev && ev.capacity ? ev.capacity : '', hint: t('event.capacity.hint') }),
    current,
    photo.el,
    ev ? field({ label: t('event.change.reason'), name: 'reason', type: 'textarea', maxlength: 500, rows: 2, hint: t('event.change.reason.hint') }) : null,
    h('button', { type: 'submit', class: 'btn primary wide' }, ev ? t('event.save') : t('event.publish')));
  f.elements.title.addEventListener('input', () => photo.retitle());
  // The end follows the start until it is chosen: two hours later.
  let endTouched = !!ev;
  f.elements.ends_at.addEventListener('input', () => { endTouched = true; });
  f.elements.starts_at.addEventListener('change', () => {
    const st = f.elements.starts_at.value;
    if (!endTouched && st) f.elements.ends_at.value = toLocal(new Date(new Date(st).getTime() + 2 * 3600000).toISOString());
  });
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(f, async () => {
      const v = values(f);
      checkEvent(v);
      photo.check();
      const body = {
        title: v.title,
        description: v.description,
        starts_at: new Date(v.starts_at).toISOString(),
        ends_at: new Date(v.ends_at).toISOString(),
        place: v.place,
      };
      if (v.capacity) body.capacity = Number(v.capacity);
      else if (ev && ev.capacity) body.capacity = 0;
      const [pic] = photo.value();
      if (pic) body.photo = pic;
      else if (ev && ev.photo && dropPhoto) body.photo = null;
      if (ev) {
        // Those who answered planned on the time and the place: moving
        // either needs a reason, which they are told.
        const moved = body.starts_at !== new Date(ev.starts_at).toISOString() || body.ends_at !== new Date(ev.ends_at).toISOString() || body.place !== ev.place;
        if (moved && !v.reason) throw new api.ApiError(422, 'validation_failed', { reason: 'required' });
        if (v.reason) body.reason = v.reason;
      }
      const saved = ev
        ? await api.patch(`/events/${eid}`, body)
        : await api.post(`/streets/${sid}/events`, body, { headers: { 'Idempotency-Key': idem } });
      toast(ev ? t('event.saved') : t('event.published'));
      await navigate(`/events/${(saved && saved.id) || eid}`, { replace: !!ev });
    });
  });
  const s = session.street(sid);
  mount(ctx.main,
    heading(ev ? t('event.edit') : t('event.new'), s ? h('p', { class: 'lead' }, s.name) : null),
    ev ? null : h('p', null, t('event.new.lead')),
    f);
}

/** page is one event: what, when, where, who comes, and the answer. */
export async function page(ctx) {
  const eid = ctx.params.eid;
  mount(ctx.main, heading(t('event.loading')), loading());
  let ev;
  try {
    const res = await api.get(`/events/${eid}`, undefined, { signal: ctx.signal, meta: true });
    ev = res.data;
    ev.saved = res.saved;
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.current()) return;
    mount(ctx.main, heading(t('event.loading')), failure(err, () => page(ctx)));
    return;
  }
  if (!ctx.current()) return;
  const me = session.state.user.id;
  const sid = ev.street_id;
  let waiting = null; // the answer in the outbox, if any: {answer, guests}

  const top = h('div');
  const answerBox = h('section', { class: 'card rsvp', id: 'rsvp', 'aria-labelledby': 'rsvp-heading' });
  const said = h('p', { class: 'sr-only', 'aria-live': 'polite', id: 'rsvp-live' });
  const isAuthor = () => (ev.author_id || (ev.author && ev.author.id)) === me;
  const canManage = () => (ev.can_edit !== undefined ? !!ev.can_edit : isAuthor() || session.isAdmin(sid));

  const drawTop = () => {
    const acts = [];
    if (canManage() && !cancelled(ev) && !past(ev)) {
      acts.push(h('a', { href: `/events/${eid}/edit`, class: 'btn ghost', id: 'edit-event' }, t('event.edit')));
      const cancel = h('button', { type: 'button', class: 'btn danger', id: 'cancel-event' }, t('event.cancel'));
      cancel.addEventListener('click', async () => {
        const reason = await ask({ title: t('event.cancel.title'), text: t('event.cancel.text'), label: t('event.cancel.reason'), required: true, danger: true, confirm: t('event.cancel'), maxlength: 500 });
        if (!reason) return;
        await busy(cancel, async () => {
          const res = await api.post(`/events/${eid}/cancel`, { reason });
          Object.assign(ev, res && res.id ? res : { status: 'cancelled', reason });
          toast(t('event.cancelled.ok'));
          drawAll();
        });
      });
      acts.push(cancel);
    }
    const ics = h('button', { type: 'button', class: 'btn ghost', id: 'event-ics' }, t('event.ics'));
    ics.addEventListener('click', () => busy(ics, async () => {
      api.save(await api.file(`/events/${eid}/ics`, undefined, 'text/calendar'), `${(ev.title || 'evento').replace(/[^\p{L}\p{N}]+/gu, '-').slice(0, 60)}.ics`);
    }));
    acts.push(ics);
    const counts = [tn('event.going', going(ev)), tn('event.notgoing', notGoing(ev))];
    mount(top,
      h('p', null, h('a', { href: `/streets/${sid}/events`, class: 'back' }, t('events.back.list'))),
      h('p', { class: 'tags' }, badge(t('event.badge'), 'info'), stateBadge(ev)),
      h('h1', { tabindex: '-1', id: 'event-title' }, ev.title),
      ev.saved ? h('p', { class: 'saved', role: 'status' }, t('feed.saved', { when: new Date(ev.saved).toLocaleString(lang()) })) : null,
      cancelled(ev) ? h('p', { class: 'notice warn', id: 'event-cancelled' }, t('event.cancelled.text', { reason: ev.reason || '' })) : null,
      h('dl', { class: 'event-facts' },
        h('div', null, h('dt', null, t('event.when')), h('dd', null, h('time', { datetime: ev.starts_at }, span(ev)))),
        ev.place ? h('div', null, h('dt', null, t('event.where')), h('dd', null, ev.place)) : null,
        h('div', null, h('dt', null, t('event.who')), h('dd', { id: 'event-counts' }, counts.join(' · '),
          ev.capacity ? ` · ${t('event.capacity.left', { n: Math.max(0, ev.capacity - going(ev)), max: ev.capacity })}` : '')),
        ev.author_name || (ev.author && ev.author.name) ? h('div', null, h('dt', null, t('event.by')), h('dd', null, ev.author_name || ev.author.name)) : null),
      gallery(ev.photo ? [ev.photo] : ev.photos),
      ev.description ? h('div', { class: 'post-body' }, ev.description) : null,
      h('div', { class: 'actions' }, acts));
  };

  const send = async (answer, guests) => {
    const body = { answer, guests: answer === 'yes' ? guests : 0 };
    const key = api.key();
    const queue = async () => {
      // Only the last answer counts: drop one still waiting.
      await outbox.drop((i) => i.kind === 'rsvp' && i.event === eid);
      await outbox.add({ key, kind: 'rsvp', method: 'PUT', path: `/events/${eid}/rsvp`, body, event: eid, street: sid, user: me });
      waiting = body;
      said.textContent = t('event.rsvp.queued');
      toast(t('event.rsvp.queued'));
      drawAnswer();
    };
    if (!navigator.onLine) return queue();
    try {
      await outbox.drop((i) => i.kind === 'rsvp' && i.event === eid);
      const res = await api.put(`/events/${eid}/rsvp`, body, { headers: { 'Idempotency-Key': key } });
      waiting = null;
      if (res && res.id) Object.assign(ev, res);
      if (!mine(ev)) ev.my_answer = body;
      said.textContent = answer === 'yes' ? t('event.rsvp.yes.ok') : t('event.rsvp.no.ok');
      toast(said.textContent);
      drawAll();
    } catch (err) {
      if (err instanceof api.ApiError && err.offline) return queue();
      if (err instanceof api.ApiError && err.code === 'event_full') {
        ev.full = true;
        drawAll();
        refetch();
      }
      throw err;
    }
    return undefined;
  };

  const drawAnswer = () => {
    if (cancelled(ev) || past(ev)) {
      mount(answerBox, h('h2', { id: 'rsvp-heading' }, t('event.rsvp.title')),
        h('p', null, cancelled(ev) ? t('event.rsvp.cancelled') : t('event.rsvp.past')));
      return;
    }
    const m = waiting || mine(ev);
    const guestsField = field({ label: t('event.guests'), name: 'guests', type: 'number', min: 0, max: 10, inputmode: 'numeric', value: m && m.answer === 'yes' ? m.guests : 0, hint: t('event.guests.hint') });
    const yes = h('button', { type: 'button', class: `btn ${m && m.answer === 'yes' ? 'primary' : ''}`.trim(), id: 'rsvp-yes', 'aria-pressed': m && m.answer === 'yes' ? 'true' : 'false' }, t('event.rsvp.yes'));
    const no = h('button', { type: 'button', class: `btn ${m && m.answer === 'no' ? 'primary' : 'ghost'}`, id: 'rsvp-no', 'aria-pressed': m && m.answer === 'no' ? 'true' : 'false' }, t('event.rsvp.no'));
    const guestsInput = guestsField.querySelector('input');
    const room = ev.capacity ? ev.capacity - going(ev) + (mine(ev) && mine(ev).answer === 'yes' ? 1 + mine(ev).guests : 0) : Infinity;
    const noRoom = full(ev) && !(mine(ev) && mine(ev).answer === 'yes');
    yes.disabled = noRoom;
    yes.addEventListener('click', () => busy(yes, () => {
      const g = Math.max(0, Math.min(10, Number(guestsInput.value) || 0));
      if (ev.capacity && 1 + g > room) throw new api.ApiError(409, 'event_full');
      return send('yes', g);
    }));
    no.addEventListener('click', () => busy(no, () => send('no', 0)));
    let state = null;
    if (waiting) state = h('p', { class: 'notice warn', id: 'rsvp-state' }, badge(t('outbox.waiting'), 'warn'), ' ', waiting.answer === 'yes' ? t('event.rsvp.waiting.yes') : t('event.rsvp.waiting.no'));
    else if (m) state = h('p', { class: 'notice ok', id: 'rsvp-state' }, m.answer === 'yes' ? (m.guests ? tn('event.rsvp.is.yes', m.guests) : t('event.rsvp.is.yes.zero')) : t('event.rsvp.is.no'));
    mount(answerBox,
      h('h2', { id: 'rsvp-heading' }, t('event.rsvp.title')),
      state,
      noRoom ? h('p', { class: 'notice warn', id: 'rsvp-full' }, t('event.full.text')) : null,
      guestsField,
      h('div', { class: 'actions' }, yes, no));
  };

  const drawAll = () => {
    drawTop();
    drawAnswer();
  };

  const loadWaiting = async () => {
    try {
      const [item] = (await outbox.list((i) => i.kind === 'rsvp' && i.event === eid)).slice(-1);
      waiting = item ? item.body : null;
    } catch {
      waiting = null;
    }
  };
  const refetch = async () => {
    try {
      const fresh = await api.get(`/events/${eid}`, undefined, { signal: ctx.signal });
      if (!ctx.current()) return;
      ev = fresh;
      await loadWaiting();
      drawAll();
    } catch {
      // The next visit brings it.
    }
  };
  const onSent = async (e) => {
    const { item, result } = e.detail;
    if (item.kind !== 'rsvp' || item.event !== eid) return;
    waiting = null;
    if (result && result.id) ev = result;
    else ev.my_answer = item.body;
    said.textContent = t('event.rsvp.sent');
    drawAll();
    refetch();
  };
  const onFailed = (e) => {
    const { item } = e.detail;
    if (item.kind !== 'rsvp' || item.event !== eid) return;
    waiting = null;
    refetch();
  };
  outbox.events.addEventListener('sent', onSent);
  outbox.events.addEventListener('failed', onFailed);
  ctx.cleanup(() => {
    outbox.events.removeEventListener('sent', onSent);
    outbox.events.removeEventListener('failed', onFailed);
  });
  if (sid) {
    ctx.cleanup(realtime.follow(sid, {
      onEvent: (frame) => {
        const d = frame.data || {};
        if (String(frame.type).startsWith('event.') && (d.id === eid || d.event_id === eid)) refetch();
      },
      onReset: refetch,
      onLive: () => {
        if (ev.saved) refetch();
      },
    }));
  }

  await loadWaiting();
  mount(ctx.main, top, answerBox, said);
  drawAll();
}
