// Referrals: the desk sends a person — the author of a request it took on,
// or a member met at the counter — to a place of the Locator, with a note;
// some days later the follow-up asks whether it helped (the resident, when
// the request was theirs, from a notification whose buttons open
// /referrals/<id>?answer=…; else the volunteer, from the desk's list).
import { h, mount, uid } from './dom.js';
import { t, has, day } from './i18n.js';
import * as api from './api.js';
import { navigate } from './router.js';
import { kindName, contactLinks } from './places.js';
import { answerBox, badge, busy, empty, failure, field, focusPicked, heading, loading, more, radios, submitting, toast, values } from './ui.js';

const outcomes = ['helped', 'not_helped', 'no_answer'];
const statuses = ['', 'open', 'asked', 'answered'];

function placeName(r) {
  return r.place_name || (r.place && r.place.name) || '';
}

// who links to the person referred: the member's card or the request (the
// list names nobody, so a glance at the desk's screen shows no names).
function who(aid, r) {
  if (r.member_id) return h('a', { href: `/portineria/${aid}/members/${r.member_id}` }, t('referral.who.member'));
  if (r.post_id) return h('a', { href: `/posts/${r.post_id}` }, t('referral.who.request'));
  return null;
}

function outcomeBadge(r) {
  if (r.outcome) return badge(t(`referral.outcome.${r.outcome}`), r.outcome === 'helped' ? 'ok' : 'warn');
  if (r.status && has(`referral.status.${r.status}`)) return badge(t(`referral.status.${r.status}`), 'info');
  return null;
}

/**
 * referForm sends a person to a place: target is {post_id} or {member_id},
 * who names the person in the lead; done(referral) runs once it is made.
 * The place is picked from a search of the Locator (all of it: the right
 * place may be another association's).
 */
export function referForm(ctx, aid, target, who, done) {
  const results = h('div', { class: 'place-picker', 'aria-live': 'polite' });
  const qField = field({ label: t('referral.search'), name: 'q', type: 'search', maxlength: 100, autocomplete: 'off', hint: t('referral.search.hint') });
  const q = qField.querySelector('input');
  const find = h('button', { type: 'button', class: 'btn ghost find-place' }, t('referral.find'));
  const form = h('form', { class: 'stack card refer-form', novalidate: true },
    h('p', null, t('referral.lead', { who })),
    qField,
    h('div', { class: 'actions' }, find),
    results,
    field({ label: t('referral.note'), name: 'note', type: 'textarea', rows: 3, maxlength: 1000, required: true, hint: t('referral.note.hint') }),
    field({ label: t('referral.followup'), name: 'follow_up_days', type: 'select', value: '7',
      options: [['3', t('referral.days', { n: 3 })], ['7', t('referral.days', { n: 7 })], ['14', t('referral.days', { n: 14 })], ['30', t('referral.days', { n: 30 })]] }),
    h('button', { type: 'submit', class: 'btn primary' }, t('referral.send')));
  const search = async () => {
    mount(results, loading());
    try {
      const res = await api.get('/places', { q: q.value.trim(), limit: 10 }, { signal: ctx.signal, auth: false });
      const items = res.items || [];
      mount(results, items.length
        ? radios({ legend: t('referral.place'), name: 'place_id', value: items[0].id, stacked: true,
          options: items.map((p) => [p.id, [p.name, kindName(p.kind), p.area].filter(Boolean).join(' · ')]) })
        : empty(t('places.none')));
    } catch (err) {
      if (err.name !== 'AbortError') mount(results, failure(err, search));
    }
  };
  find.addEventListener('click', search);
  q.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      search();
    }
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const v = values(form);
      const bad = {};
      if (!v.place_id) bad.q = 'required';
      if (!v.note) bad.note = 'required';
      if (Object.keys(bad).length) throw new api.ApiError(422, 'validation_failed', bad);
      const r = await api.post(`/associations/${aid}/referrals`, { place_id: v.place_id, note: v.note, follow_up_days: Number(v.follow_up_days), ...target });
      toast(t('referral.sent'));
      form.reset();
      mount(results);
      await done(r);
    });
  });
  search();
  return form;
}

function outcomeButtons(r, describedBy, done) {
  const allowed = Array.isArray(r.outcomes) ? r.outcomes : outcomes;
  if (!allowed.length) return null;
  return h('div', { class: 'actions outcome' }, allowed.map((o) => {
    const b = h('button', { type: 'button', class: 'btn small', 'data-outcome': o, 'aria-describedby': describedBy }, t(`referral.outcome.${o}`));
    b.addEventListener('click', () => busy(b, async () => {
      const next = await api.post(`/referrals/${r.id}/outcome`, { outcome: o });
      toast(t('referral.recorded'));
      await done(next || { ...r, outcome: o });
    }));
    return b;
  }));
}

/** section is the desk's referrals, in its "Referrals" tab: follow-ups to record. */
export async function section(ctx, a, body) {
  const status = statuses.includes(ctx.query.get('status') || '') ? ctx.query.get('status') || '' : '';
  const filter = h('form', { class: 'filters', id: 'referrals-filter' },
    field({ label: t('referral.status'), name: 'status', type: 'select', value: status,
      options: statuses.map((s) => [s, s ? t(`referral.status.${s}`) : t('referral.status.any')]) }));
  filter.querySelector('select').addEventListener('change', (e) => navigate(`/portineria/${a.id}/referrals${e.target.value ? `?status=${e.target.value}` : ''}`, { replace: true }));
  filter.addEventListener('submit', (e) => e.preventDefault());
  const ul = h('ul', { class: 'list cards', id: 'referrals' });
  const out = h('div', { 'aria-live': 'polite' }, loading());
  const pager = h('div', { class: 'pager' });
  mount(body, h('p', null, t('referral.section.lead')),
    h('p', { class: 'actions' },
      h('a', { href: `/portineria/${a.id}`, class: 'btn ghost' }, t('referral.from.member')),
      h('a', { href: `/portineria/${a.id}/unanswered`, class: 'btn ghost' }, t('referral.from.request'))),
    filter, out, pager);
  const row = (r) => {
    const titleId = uid('referral');
    const li = h('li', { class: 'card referral', 'data-referral-id': r.id });
    const draw = (x) => mount(li,
      h('h3', { id: titleId }, x.place_id ? h('a', { href: `/places/${x.place_id}` }, placeName(x) || '–') : placeName(x) || '–'),
      h('p', { class: 'meta' }, who(a.id, x), who(a.id, x) ? ' · ' : null, [x.created_at ? t('referral.made', { date: day(x.created_at) }) : '',
        x.follow_up_at && !x.outcome ? t('referral.followup.on', { date: day(x.follow_up_at) }) : ''].filter(Boolean).join(' · ')),
      x.note ? h('p', { class: 'referral-note' }, x.note) : null,
      h('p', null, outcomeBadge(x)),
      x.outcome ? null : outcomeButtons(x, titleId, async (next) => draw({ ...x, ...next })));
    draw(r);
    return li;
  };
  const page = async (cursor) => {
    const res = await api.get(`/associations/${a.id}/referrals`, { status, cursor, limit: 20 }, { signal: ctx.signal });
    if (!ctx.current()) return;
    for (const r of res.items || []) ul.append(row(r));
    mount(pager, more(res.next_cursor, page));
    mount(out, ul.children.length ? ul : empty(t('referral.none')));
  };
  await page('');
}

/** referBox is a "refer to a place" disclosure holding referForm, drawn on first opening. */
export function referBox(ctx, aid, target, who, done) {
  const box = h('div');
  const details = h('details', { class: 'card refer' }, h('summary', null, t('referral.title', { who })), box);
  details.addEventListener('toggle', () => {
    if (details.open && !box.firstChild) mount(box, referForm(ctx, aid, target, who, async (r) => {
      details.open = false;
      if (done) await done(r);
    }));
  });
  return details;
}

const answers = ['helped', 'not_helped'];

/**
 * followUp is /referrals/:id, the follow-up's question "did it help?",
 * reached from the push note. ?answer= (a notification's button) only
 * picks that answer, as for the hand-off: it goes out when tapped.
 */
export async function followUp(ctx) {
  const id = ctx.params.id;
  const box = h('div', null, loading());
  mount(ctx.main, heading(t('referral.ask.title')), box);
  const recorded = (o) => {
    const line = h('p', { role: 'status', tabindex: '-1', class: 'notice ok' }, t('referral.thanks', { answer: t(`referral.outcome.${o}`) }));
    mount(box, line, h('a', { href: '/places', class: 'btn' }, t('places.title')));
    line.focus(); // the tapped button is gone
  };
  let r;
  try {
    r = await api.get(`/referrals/${id}`, null, { signal: ctx.signal });
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.current()) return;
    mount(box, failure(err, () => followUp(ctx)));
    return;
  }
  if (!ctx.current()) return;
  // The place's contacts, to call again: public, and not in the referral.
  let p = { id: r.place_id, name: placeName(r) };
  if (r.place_id) {
    try {
      p = await api.get(`/places/${r.place_id}`, null, { signal: ctx.signal, auth: false });
    } catch (err) {
      if (err.name === 'AbortError' || !ctx.current()) return;
    }
  }
  const nameId = uid('referral-place');
  const about = [
    h('p', { class: 'lead' }, t(r.by_user_id ? 'referral.ask.lead.desk' : 'referral.ask.lead', { place: p.name || '–', date: r.created_at ? day(r.created_at) : '' })),
    r.note ? h('p', { class: 'referral-note' }, r.note) : null,
    p.id ? h('p', null, h('a', { href: `/places/${p.id}`, id: nameId }, p.name || t('place.details'))) : null,
    p.contacts ? h('div', { class: 'actions' }, contactLinks(p, nameId)) : null,
  ];
  if (r.outcome || r.status === 'answered') {
    mount(box, about, h('p', { class: 'notice ok', role: 'status' }, t('referral.already', { answer: t(`referral.outcome.${r.outcome}`) })));
    return;
  }
  const wanted = ctx.query.get('answer');
  // The resident is asked "helped" or not; the desk may also record "no answer".
  // (by_user_id, who made the referral, is shown to the staff only).
  const offered = Array.isArray(r.outcomes) && r.outcomes.length ? r.outcomes : answers;
  const allowed = r.by_user_id ? offered : offered.filter((o) => answers.includes(o));
  const question = answerBox({
    answers: allowed, label: (o) => t(`referral.outcome.${o}`), chosen: wanted, cls: 'answer-box referral-box', ask: t(r.by_user_id ? 'referral.ask.desk' : 'referral.ask'),
    send: async (o) => {
      await api.post(`/referrals/${id}/outcome`, { outcome: o });
      toast(t('referral.recorded'));
      recorded(o);
    },
  });
  mount(box, about, question);
  focusPicked(ctx, question, wanted);
}
