// The desk's side of the Locator, for its volunteers: the association's
// places (list, create and edit with the week's hours and its exceptions,
// "verified today", CSV out and in) and the residents' suggestions waiting
// in the queue (accept as they are or after editing, decline with a reason).
import { h, mount, uid } from './dom.js';
import { t, day } from './i18n.js';
import * as api from './api.js';
import { navigate } from './router.js';
import { kinds, targets, days, dayName, kindName, languageName, spans, verified, stale } from './places.js';
import { ask, badge, busy, empty, failure, field, heading, loading, more, submitting, toast, values } from './ui.js';

// --- The hours editor ----------------------------------------------------------

// hhmm reads "9", "9:30", "09.30" as "09:30"; '' when it is no time of day.
function hhmm(s) {
  const m = /^(\d{1,2})(?:[:.](\d{2}))?$/.exec(s.trim());
  if (!m) return '';
  const hh = Number(m[1]);
  const mm = Number(m[2] || 0);
  if (hh > 24 || mm > 59 || (hh === 24 && mm > 0)) return '';
  return `${String(hh).padStart(2, '0')}:${String(mm).padStart(2, '0')}`;
}

const closedWords = /^(closed|chiuso|chiusa|-)$/i;

/**
 * parseSpans reads a day's line, "09:00-12:30, 15:00-18:00" (also "9-12.30",
 * en dash), into [["09:00","12:30"],["15:00","18:00"]]; an empty line or
 * "closed" is no opening; null when it cannot be read.
 */
export function parseSpans(text) {
  const s = String(text || '').trim();
  if (!s || closedWords.test(s)) return [];
  const out = [];
  for (const part of s.split(/[,;]/)) {
    if (!part.trim()) continue;
    const m = /^\s*([\d:.]+)\s*[-–—]\s*([\d:.]+)\s*$/.exec(part);
    if (!m) return null;
    const a = hhmm(m[1]);
    const b = hhmm(m[2]);
    if (!a || !b || a === b) return null;
    out.push([a, b]);
  }
  return out;
}

/**
 * parseExceptions reads one exception a line: "2026-12-25 closed",
 * "2026-12-24 09:00-12:00" and an optional note after the hours
 * ("2026-08-15 closed Ferragosto"). It returns {list} or {line} (the
 * number of the first line it cannot read).
 */
export function parseExceptions(text) {
  const list = [];
  const lines = String(text || '').split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i].trim();
    if (!line) continue;
    const m = /^(\d{4}-\d{2}-\d{2})\s+(.*)$/.exec(line);
    if (!m || Number.isNaN(Date.parse(`${m[1]}T00:00:00Z`))) return { line: i + 1 };
    const rest = m[2].trim();
    const closed = /^(closed|chiuso|chiusa)\b\s*(.*)$/i.exec(rest);
    if (closed) {
      list.push(closed[2] ? { date: m[1], closed: true, note: closed[2] } : { date: m[1], closed: true });
      continue;
    }
    const hours = /^([\d:.,;\s\-–—]+?)(?:\s+([^\d\s].*))?$/.exec(rest);
    const spansOf = hours && parseSpans(hours[1]);
    if (!spansOf || !spansOf.length) return { line: i + 1 };
    list.push(hours[2] ? { date: m[1], intervals: spansOf, note: hours[2] } : { date: m[1], intervals: spansOf });
  }
  return { list };
}

function exceptionsText(list) {
  return (list || []).map((e) => [e.date, e.closed ? 'closed' : spans(e.intervals).replace(/–/g, '-'), e.note || ''].filter(Boolean).join(' ')).join('\n');
}

function hoursEditor(hrs = {}) {
  return h('fieldset', { class: 'hours-editor card' }, h('legend', null, t('place.hours')),
    h('p', { class: 'hint' }, t('placeadmin.hours.hint')),
    days.map((k, i) => field({ label: dayName(i), name: `hours.${k}`, value: spans(hrs[k]).replace(/–/g, '-'), maxlength: 100,
      placeholder: '09:00-12:30, 15:00-18:00', autocomplete: 'off', inputmode: 'text' })),
    field({ label: t('placeadmin.exceptions'), name: 'hours.exceptions', type: 'textarea', rows: 3, maxlength: 2000,
      value: exceptionsText(hrs.exceptions), hint: t('placeadmin.exceptions.hint') }));
}

function readHours(form, bad) {
  const out = {};
  for (const k of days) {
    const v = parseSpans(form.elements[`hours.${k}`].value);
    if (v === null) bad[`hours.${k}`] = 'invalid';
    else out[k] = v;
  }
  const ex = parseExceptions(form.elements['hours.exceptions'].value);
  if (ex.line) bad['hours.exceptions'] = 'invalid';
  else out.exceptions = ex.list;
  return out;
}

// --- The place form ----------------------------------------------------------------

// common are the languages offered as boxes to tick (codes, as the API
// keeps them); any other goes in the field below them.
const common = ['it', 'en', 'fr', 'es', 'de', 'ar', 'zh', 'ro', 'uk', 'sq', 'ur', 'bn', 'tl'];

function languagePicker(chosen) {
  const legendId = uid('languages');
  const others = chosen.filter((c) => !common.includes(c));
  return h('fieldset', { class: 'targets languages', 'aria-labelledby': legendId }, h('legend', { id: legendId }, t('place.languages')),
    common.map((c) => {
      const id = uid(`lang-${c}`);
      return h('div', { class: 'check' }, h('input', { type: 'checkbox', id, name: 'languages', value: c, checked: chosen.includes(c) }),
        h('label', { for: id }, languageName(c)));
    }),
    h('div', { class: 'wide-cell' }, field({ label: t('place.languages.other'), name: 'languages_other', maxlength: 100, value: others.join(', '), hint: t('place.languages.hint') })));
}

function coordinate(s) {
  const v = String(s || '').trim().replace(',', '.');
  return v === '' ? null : Number(v);
}

/**
 * placeForm is a place's whole entry (p: the place, or what a suggestion
 * proposes); save(body) sends the Input JSON and resolves when done.
 */
export function placeForm(p, save, submitText) {
  const c = p.contacts || {};
  const chosen = new Set(p.targets || []);
  const legendId = uid('targets');
  const form = h('form', { class: 'stack place-form', novalidate: true },
    field({ label: t('place.name'), name: 'name', required: true, maxlength: 120, value: p.name }),
    field({ label: t('place.kind'), name: 'kind', type: 'select', required: true, value: p.kind || '', options: [['', t('place.kind.choose')], ...kinds.map((k) => [k, kindName(k)])] }),
    field({ label: t('place.description'), name: 'description', type: 'textarea', rows: 3, maxlength: 2000, value: p.description }),
    field({ label: t('place.address.field'), name: 'address', maxlength: 200, value: p.address }),
    field({ label: t('place.area'), name: 'area', maxlength: 120, value: p.area }),
    h('div', { class: 'coords' },
      field({ label: t('place.lat'), name: 'lat', inputmode: 'decimal', maxlength: 20, value: p.lat ?? '', hint: t('place.coords.hint') }),
      field({ label: t('place.lng'), name: 'lng', inputmode: 'decimal', maxlength: 20, value: p.lng ?? '' })),
    h('fieldset', { class: 'targets', 'aria-labelledby': legendId }, h('legend', { id: legendId }, t('place.targets')),
      targets.map((k) => {
        const id = uid(`target-${k}`);
        return h('div', { class: 'check' }, h('input', { type: 'checkbox', id, name: 'targets', value: k, checked: chosen.has(k) }), h('label', { for: id }, t(`place.target.${k}`)));
      })),
    hoursEditor(p.hours || {}),
    field({ label: t('place.phone'), name: 'contacts.phone', type: 'tel', maxlength: 40, value: c.phone }),
    field({ label: t('place.email'), name: 'contacts.email', type: 'email', maxlength: 254, value: c.email }),
    field({ label: t('place.web'), name: 'contacts.web', type: 'url', maxlength: 300, value: c.web }),
    languagePicker(p.languages || []),
    field({ label: t('place.accessibility'), name: 'accessibility', type: 'textarea', rows: 2, maxlength: 1000, value: p.accessibility, hint: t('place.accessibility.hint') }),
    h('button', { type: 'submit', class: 'btn primary wide' }, submitText || t('action.save')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const v = values(form);
      const bad = {};
      if (!v.name) bad.name = 'required';
      if (!v.kind) bad.kind = 'required';
      const hours = readHours(form, bad);
      const lat = coordinate(v.lat);
      const lng = coordinate(v.lng);
      if ((lat === null) !== (lng === null)) bad[lat === null ? 'lat' : 'lng'] = 'required';
      if (lat !== null && !(lat >= -90 && lat <= 90)) bad.lat = 'out_of_range';
      if (lng !== null && !(lng >= -180 && lng <= 180)) bad.lng = 'out_of_range';
      if (Object.keys(bad).length) throw new api.ApiError(422, 'validation_failed', bad);
      const body = {
        name: v.name, kind: v.kind, description: v.description, address: v.address, area: v.area,
        targets: [...form.querySelectorAll('input[name=targets]:checked')].map((x) => x.value),
        hours,
        contacts: { phone: v['contacts.phone'], email: v['contacts.email'], web: v['contacts.web'] },
        languages: [...form.querySelectorAll('input[name=languages]:checked')].map((x) => x.value)
          .concat(v.languages_other ? v.languages_other.toLowerCase().split(/[,\s]+/).filter(Boolean) : []),
        accessibility: v.accessibility,
      };
      if (lat !== null) {
        body.lat = lat;
        body.lng = lng;
      }
      await save(body);
    });
  });
  return form;
}

// --- The association's places ----------------------------------------------------

function verifyButton(p, describedBy, done) {
  const b = h('button', { type: 'button', class: 'btn small verify', 'aria-describedby': describedBy }, t('placeadmin.verify'));
  b.addEventListener('click', () => busy(b, async () => {
    const next = await api.post(`/places/${p.id}/verify`, {});
    toast(t('placeadmin.verified', { name: p.name }));
    await done(next || p);
  }));
  return b;
}

function importForm(a, reload) {
  const result = h('div', { id: 'places-import-result', 'aria-live': 'polite' });
  const form = h('form', { class: 'stack card', id: 'places-import', novalidate: true },
    h('h3', null, t('placeadmin.import')),
    h('p', { class: 'hint' }, t('placeadmin.import.hint')),
    field({ label: t('placeadmin.import.file'), name: 'file', type: 'file', accept: '.csv,text/csv', required: true }),
    h('button', { type: 'submit', class: 'btn' }, t('placeadmin.import.go')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const file = form.elements.file.files[0];
      if (!file) throw new api.ApiError(422, 'validation_failed', { file: 'required' });
      mount(result);
      let res;
      try {
        res = await api.request('POST', `/associations/${a.id}/places.csv`, { data: file, headers: { 'Content-Type': 'text/csv' } }) || {};
      } catch (err) {
        // Nothing was imported: the rows with a problem, one a line.
        const rows = Object.entries((err && err.fields) || {});
        if (rows.length) {
          mount(result, h('ul', { class: 'import-errors' }, rows.slice(0, 30).map(([where, code]) => h('li', null,
            t('placeadmin.import.error', { where, problem: api.fieldMessage(code) })))));
        }
        throw err;
      }
      mount(result, h('p', { class: 'notice ok', role: 'status' },
        t('placeadmin.import.done', { created: res.created ?? 0, updated: res.updated ?? 0, unchanged: res.unchanged ?? 0 })));
      form.reset();
      await reload();
    });
  });
  return h('div', null, form, result);
}

/** section is the association's places, in the desk's "Places" tab. */
export async function section(ctx, a, body) {
  const ul = h('ul', { class: 'list cards', id: 'my-places' });
  const out = h('div', { 'aria-live': 'polite' }, loading());
  const pager = h('div', { class: 'pager' });
  const csv = h('button', { type: 'button', class: 'btn ghost', id: 'places-csv' }, t('placeadmin.csv'));
  csv.addEventListener('click', () => busy(csv, () => api.download(`/associations/${a.id}/places.csv`, `luoghi-${a.id}.csv`)));
  const row = (p) => {
    const titleId = uid('myplace');
    const li = h('li', { class: `card place${stale(p) ? ' stale' : ''}`, 'data-place-id': p.id });
    const draw = (x) => mount(li,
      h('h3', { id: titleId }, h('a', { href: `/places/${x.id}` }, x.name)),
      h('p', { class: 'meta' }, [kindName(x.kind), x.area].filter(Boolean).join(' · ')),
      h('p', { class: 'tags' }, h('span', { class: 'verified' }, verified(x.verified_at)), stale(x) ? badge(t('place.stale'), 'warn stale-mark') : null),
      h('div', { class: 'actions' },
        h('a', { href: `/portineria/${a.id}/places/${x.id}`, class: 'btn small edit-place', 'aria-describedby': titleId }, t('placeadmin.edit')),
        verifyButton(x, titleId, async (next) => draw(next))));
    draw(p);
    return li;
  };
  mount(body, h('p', null, t('placeadmin.lead')),
    h('div', { class: 'actions' }, h('a', { href: `/portineria/${a.id}/places/new`, class: 'btn primary', id: 'new-place' }, t('placeadmin.new')), csv),
    out, pager,
    h('details', { class: 'card' }, h('summary', null, t('placeadmin.import')), importForm(a, () => page('', true))));
  const page = async (cursor, fresh) => {
    const res = await listPlaces(a.id, cursor, ctx.signal);
    if (!ctx.current()) return;
    if (fresh) ul.replaceChildren();
    for (const p of res.items || []) ul.append(row(p));
    mount(pager, more(res.next_cursor, (c) => page(c, false)));
    mount(out, ul.children.length ? ul : empty(t('placeadmin.none')));
  };
  await page('', true);
}

// listPlaces is a page of the association's own places (the public
// search, narrowed to the association).
function listPlaces(aid, cursor, signal) {
  return api.get('/places', { association: aid, cursor, limit: 30 }, { signal, auth: false });
}

/** edit is /portineria/:aid/places/:pid, "new" for a new place. */
export async function edit(ctx) {
  const { aid, pid } = ctx.params;
  const creating = pid === 'new';
  const title = t(creating ? 'placeadmin.new' : 'placeadmin.edit.title');
  mount(ctx.main, heading(title), loading());
  let a;
  let p = {};
  try {
    [a, p] = await Promise.all([
      api.get(`/associations/${aid}`, undefined, { signal: ctx.signal }),
      creating ? Promise.resolve({}) : api.get(`/places/${pid}`, null, { signal: ctx.signal }),
    ]);
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.current()) return;
    mount(ctx.main, heading(title), failure(err, () => edit(ctx)));
    return;
  }
  if (!ctx.current()) return;
  const form = placeForm(p, async (body) => {
    const saved = creating ? await api.post(`/associations/${aid}/places`, body) : await api.patch(`/places/${pid}`, body);
    toast(t(creating ? 'placeadmin.created' : 'action.saved', { name: saved.name || body.name }));
    await navigate(`/portineria/${aid}/places`);
  }, t(creating ? 'placeadmin.create' : 'action.save'));
  form.id = 'place-form';
  form.classList.add('card');
  const verifiedLine = creating ? null : h('p', { class: 'tags' }, h('span', { class: 'verified' }, verified(p.verified_at)), ' ',
    verifyButton(p, 'place-edit-title', async (next) => {
      p = next;
      verifiedLine.firstChild.textContent = verified(p.verified_at);
    }));
  let remove = null;
  if (!creating) {
    remove = h('button', { type: 'button', class: 'btn danger', id: 'remove-place' }, t('placeadmin.remove'));
    remove.addEventListener('click', async () => {
      const ok = await ask({ title: t('placeadmin.remove.title', { name: p.name }), text: t('placeadmin.remove.text'), confirm: t('placeadmin.remove'), danger: true });
      if (!ok) return;
      await busy(remove, async () => {
        await api.del(`/places/${pid}`);
        toast(t('placeadmin.removed', { name: p.name }));
        await navigate(`/portineria/${aid}/places`);
      });
    });
  }
  mount(ctx.main,
    h('p', null, h('a', { href: `/portineria/${aid}/places`, class: 'back' }, t('placeadmin.back', { name: a.name }))),
    h('div', { class: 'heading' }, h('h1', { tabindex: '-1', id: 'place-edit-title' }, creating ? title : p.name),
      creating ? h('p', { class: 'lead' }, t('placeadmin.new.lead')) : null),
    verifiedLine,
    form,
    remove ? h('div', { class: 'actions' }, remove) : null);
}

// --- The suggestions' queue --------------------------------------------------------

const statuses = ['pending', 'accepted', 'declined'];

// proposed lists what a suggestion would change, as "field: value" lines.
function proposed(ch) {
  if (!ch) return null;
  const rows = [];
  const add = (k, v) => { if (v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && !v.length)) rows.push([k, v]); };
  add('place.name', ch.name);
  add('place.kind', ch.kind && kindName(ch.kind));
  add('place.address.field', ch.address);
  add('place.area', ch.area);
  add('place.description', ch.description);
  const c = ch.contacts || {};
  add('place.phone', c.phone);
  add('place.email', c.email);
  add('place.web', c.web);
  add('place.languages', (ch.languages || []).join(', '));
  add('place.accessibility', ch.accessibility);
  if (ch.hours) add('place.hours', days.filter((k) => (ch.hours[k] || []).length).map((k, i) => `${k} ${spans(ch.hours[k])}`).join('; ') || '–');
  if (!rows.length) return null;
  return h('dl', { class: 'place-facts proposed' }, rows.map(([k, v]) => [h('dt', null, t(k)), h('dd', null, String(v))]));
}

/** queue is the association's suggestions, in the desk's "Suggestions" tab. */
export async function queue(ctx, a, body) {
  const status = statuses.includes(ctx.query.get('status')) ? ctx.query.get('status') : 'pending';
  const filter = h('form', { class: 'filters', id: 'suggestions-filter' },
    field({ label: t('placeadmin.suggestions.status'), name: 'status', type: 'select', value: status,
      options: statuses.map((s) => [s, t(`suggest.status.${s}`)]) }));
  filter.querySelector('select').addEventListener('change', (e) => navigate(`/portineria/${a.id}/suggestions?status=${e.target.value}`, { replace: true }));
  filter.addEventListener('submit', (e) => e.preventDefault());
  const ul = h('ul', { class: 'list cards', id: 'suggestions' });
  const out = h('div', { 'aria-live': 'polite', id: 'suggestions-out', tabindex: '-1' }, loading());
  const pager = h('div', { class: 'pager' });
  mount(body, h('p', null, t('placeadmin.suggestions.lead')), filter, out, pager);

  const settle = (li, text) => {
    const line = h('p', { class: 'notice ok', role: 'status', tabindex: '-1' }, text);
    li.replaceChildren(line);
    li.dataset.status = 'done';
    line.focus(); // the tapped button is gone
  };
  const row = (s) => {
    const titleId = uid('suggestion');
    const about = s.kind === 'report' || (s.place_id && s.kind !== 'new_place') ? t('placeadmin.suggestion.about', { name: s.place_name || s.place_id }) : t('placeadmin.suggestion.new', { name: (s.changes && s.changes.name) || '' });
    const li = h('li', { class: 'card suggestion', 'data-suggestion-id': s.id, 'data-status': s.status },
      h('h3', { id: titleId }, s.place_id ? h('a', { href: `/places/${s.place_id}` }, about) : about),
      h('p', { class: 'meta' }, [s.author, s.created_at ? day(s.created_at) : ''].filter(Boolean).join(' · ')),
      h('p', { class: 'suggestion-text' }, s.text),
      proposed(s.changes),
      s.status === 'declined' && s.reason ? h('p', { class: 'meta' }, t('suggest.reason', { reason: s.reason })) : null,
      s.status !== 'pending' ? h('p', null, badge(t(`suggest.status.${s.status}`), s.status === 'accepted' ? 'ok' : 'warn')) : null);
    if (s.status !== 'pending') return li;
    const accept = h('button', { type: 'button', class: 'btn primary accept-suggestion', 'aria-describedby': titleId }, t('placeadmin.accept'));
    accept.addEventListener('click', () => busy(accept, async () => {
      await api.post(`/suggestions/${s.id}/accept`, {});
      toast(t('placeadmin.accepted'));
      settle(li, t('placeadmin.accepted'));
    }));
    const decline = h('button', { type: 'button', class: 'btn danger decline-suggestion', 'aria-describedby': titleId }, t('placeadmin.decline'));
    decline.addEventListener('click', async () => {
      const reason = await ask({ title: t('placeadmin.decline.title'), text: s.text, label: t('placeadmin.decline.reason'), required: true, danger: true, confirm: t('placeadmin.decline') });
      if (!reason) return;
      await busy(decline, async () => {
        await api.post(`/suggestions/${s.id}/decline`, { reason });
        toast(t('placeadmin.declined'));
        settle(li, t('placeadmin.declined'));
      });
    });
    // "Edit, then accept": the entry as it is, with the proposed changes on
    // top, in the place form; what the volunteer saves is what is applied.
    const editBox = h('div');
    const details = h('details', { class: 'edit-accept' }, h('summary', { 'aria-describedby': titleId }, t('placeadmin.editaccept')), editBox);
    details.addEventListener('toggle', async () => {
      if (!details.open || editBox.firstChild) return;
      mount(editBox, loading());
      try {
        const base = s.place_id ? await api.get(`/places/${s.place_id}`, null, { signal: ctx.signal }) : {};
        const ch = s.changes || {};
        const merged = { ...base, ...ch, contacts: { ...(base.contacts || {}), ...(ch.contacts || {}) } };
        mount(editBox, placeForm(merged, async (changes) => {
          await api.post(`/suggestions/${s.id}/accept`, { changes });
          toast(t('placeadmin.accepted'));
          settle(li, t('placeadmin.accepted'));
        }, t('placeadmin.accept')));
      } catch (err) {
        if (err.name !== 'AbortError') mount(editBox, failure(err));
      }
    });
    li.append(h('div', { class: 'actions' }, accept, decline), details);
    return li;
  };
  const page = async (cursor) => {
    const res = await api.get(`/associations/${a.id}/suggestions`, { status, cursor, limit: 20 }, { signal: ctx.signal });
    if (!ctx.current()) return;
    for (const s of res.items || []) ul.append(row(s));
    mount(pager, more(res.next_cursor, page));
    mount(out, ul.children.length ? ul : empty(t(`placeadmin.suggestions.none.${status}`)));
  };
  await page('');
}
