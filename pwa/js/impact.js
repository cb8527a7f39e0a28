// What a street (or a Portinaio desk) gains: the impact figures as small
// bar charts drawn here in SVG, each with its table for screen readers and
// for anyone who prefers numbers; the CSV; the requests nobody answered in
// 48 hours with the neighbours whose skills fit ("no wrong door"); and the
// author's warm hand-off answers (also reached from a notification's buttons
// as /posts/:pid/handoff?answer=…).
import { h, mount, uid } from './dom.js';
import { t, day, lang } from './i18n.js';
import * as api from './api.js';
import * as session from './session.js';
import { answerBox, busy, empty, failure, focusPicked, heading, loading, more, toast } from './ui.js';

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) if (c) el.append(c);
  return el;
}

// monthLabel is "2026-11" as the reader says it ("nov 26"); narrow is the
// one-letter form drawn under a bar.
function monthLabel(month, style = 'short') {
  const [y, m] = month.split('-').map(Number);
  if (!y || !m) return month;
  const opts = style === 'narrow' ? { month: 'narrow', timeZone: 'UTC' } : { month: 'short', year: 'numeric', timeZone: 'UTC' };
  return new Intl.DateTimeFormat(lang(), opts).format(new Date(Date.UTC(y, m - 1, 1)));
}

// chart is a bar chart of one figure per month, with its table. Suppressed
// months (fewer than 5 people) have no bar and say so in the table. The
// picture is hidden from screen readers: the table says the same.
function chart(title, months, pick) {
  const w = 320;
  const hgt = 140;
  const base = hgt - 18; // room for the month letters
  const values = months.map((m) => (m.suppressed ? null : pick(m) ?? 0));
  const max = Math.max(1, ...values.filter((v) => v !== null));
  const bw = w / Math.max(1, months.length);
  const marks = months.flatMap((m, i) => {
    const v = values[i];
    const x = i * bw + 2;
    const label = svg('text', { x: x + (bw - 4) / 2, y: hgt - 4, class: 'chart-label', 'text-anchor': 'middle' },
      document.createTextNode(monthLabel(m.month, 'narrow')));
    if (v === null) return [svg('rect', { x, y: base - 3, width: Math.max(1, bw - 4), height: 3, class: 'chart-bar suppressed' }), label];
    const bh = Math.round((v / max) * (base - 18));
    const out = [svg('rect', { x, y: base - bh, width: Math.max(1, bw - 4), height: Math.max(bh, 1), class: 'chart-bar' }), label];
    if (v > 0) {
      out.push(svg('text', { x: x + (bw - 4) / 2, y: base - bh - 4, class: 'chart-value', 'text-anchor': 'middle' },
        document.createTextNode(String(v))));
    }
    return out;
  });
  const pic = svg('svg', { viewBox: `0 0 ${w} ${hgt}`, class: 'chart', 'aria-hidden': 'true', focusable: 'false' }, ...marks);
  const rows = months.map((m, i) => h('tr', null, h('th', { scope: 'row' }, monthLabel(m.month)),
    h('td', { class: 'num' }, values[i] === null ? t('impact.suppressed_short') : String(values[i]))));
  return h('figure', { class: 'impact-chart' },
    h('figcaption', null, title), pic,
    h('details', { class: 'chart-data' }, h('summary', null, t('impact.table', { title })),
      h('table', { class: 'chart-table' },
        h('caption', { class: 'sr-only' }, title),
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('impact.month')), h('th', { scope: 'col', class: 'num' }, t('impact.value')))),
        h('tbody', null, rows))));
}

function pct(v) {
  return v === undefined || v === null ? '–' : `${Math.round(v * 100)}%`;
}

function num(v) {
  if (v === undefined || v === null) return '–';
  return new Intl.NumberFormat(lang(), { maximumFractionDigits: 1 }).format(v);
}

// figures is the period's summary, each figure a small card.
function figures(r) {
  const period = r.from && r.to ? h('p', { class: 'meta' }, t('impact.period', { from: day(r.from), to: day(new Date(new Date(r.to).getTime() - 1).toISOString()) })) : null;
  if (r.suppressed) return [period, h('p', { class: 'state empty' }, t('impact.suppressed'))];
  const rows = [
    ['impact.people', num(r.people)],
    ['impact.requests', num(r.requests)],
    ['impact.answered', `${num(r.requests_answered)} (${pct(r.answered_share)})`],
    ['impact.done', `${num(r.requests_done)} (${pct(r.done_share)})`],
    ['impact.median_reply', num(r.median_first_reply_minutes)],
    ['impact.median_done', num(r.median_done_hours)],
    ['impact.helpers', num(r.helpers)],
    ['impact.helped', num(r.helped)],
    ['impact.reciprocity', pct(r.reciprocity)],
    ['impact.new_pairs', num(r.new_pairs)],
  ];
  const cats = Object.entries(r.exchanges_by_category || {}).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  return [period,
    h('dl', { class: 'stats figures' }, rows.map(([k, v]) => h('div', null, h('dt', null, t(k)), h('dd', null, v)))),
    cats.length ? h('p', null, h('strong', null, t('impact.by_category')), ' ',
      cats.map(([c, n]) => `${t(`category.${c}`)}: ${n}`).join(' · ')) : null];
}

// referrals is the desk's referrals to places, on an association's report.
function referrals(f) {
  if (!f) return null;
  const title = h('h3', null, t('impact.referrals'));
  if (f.suppressed) return h('section', { class: 'impact-referrals' }, title, h('p', { class: 'state empty' }, t('impact.suppressed')));
  const rows = [['impact.referrals_made', num(f.made)], ['impact.referrals_followed_up', num(f.followed_up)], ['impact.referrals_helped', num(f.helped)]];
  return h('section', { class: 'impact-referrals' }, title,
    h('dl', { class: 'stats figures' }, rows.map(([k, v]) => h('div', null, h('dt', null, t(k)), h('dd', null, v)))));
}

// gatherings is the street's events held in the period.
function gatherings(f) {
  if (!f) return null;
  const title = h('h3', null, t('impact.events'));
  if (f.suppressed) return h('section', { class: 'impact-events' }, title, h('p', { class: 'state empty' }, t('impact.suppressed')));
  const rows = [['impact.events_held', num(f.held)], ['impact.events_people', num(f.people)]];
  return h('section', { class: 'impact-events' }, title,
    h('dl', { class: 'stats figures' }, rows.map(([k, v]) => h('div', null, h('dt', null, t(k)), h('dd', null, v)))));
}

async function report(ctx, box, path, csvName) {
  const r = await api.get(path, null, { signal: ctx.signal });
  if (!ctx.current()) return;
  const months = r.monthly || [];
  mount(box,
    figures(r),
    gatherings(r.events),
    referrals(r.referrals),
    h('div', { class: 'charts' },
      chart(t('impact.chart_requests'), months, (m) => m.requests),
      chart(t('impact.chart_exchanges'), months, (m) => m.exchanges),
      chart(t('impact.chart_new_pairs'), months, (m) => m.new_pairs)),
    h('p', null, h('button', { type: 'button', class: 'btn', id: 'impact-csv', onclick: (e) => busy(e.currentTarget, () => api.download(`${path}.csv`, csvName)) }, t('impact.csv'))));
}

// unanswered lists requests waiting for help; take is set for volunteers,
// and refer(post, li) adds "refer to a place" to a request the desk took.
async function unanswered(ctx, box, path, take, refer) {
  const ul = h('ul', { class: 'list cards unanswered' });
  const pager = h('div', { class: 'pager' });
  const page = async (cursor) => {
    const res = await api.get(path, { cursor, limit: 20 }, { signal: ctx.signal });
    if (!ctx.current()) return;
    for (const it of res.items || []) ul.append(item(it, take, refer));
    mount(pager, more(res.next_cursor, page));
    mount(box, ul.children.length ? ul : empty(t('impact.unanswered_none')), pager);
  };
  await page('');
}

/** deskNote says a Portinaio desk took the request on, and who. */
export function deskNote(desk, id) {
  return h('p', { class: 'desk-note', id: id || null }, desk.volunteer_name
    ? t('impact.desk_on_it_by', { desk: desk.association_name, name: desk.volunteer_name })
    : t('impact.desk_on_it', { desk: desk.association_name }));
}

function item(it, take, refer) {
  const p = it.post;
  const titleId = uid('unanswered');
  const desks = (it.desks || []).map((d) => h('div', { class: 'desk' },
    h('p', null, h('strong', null, d.association_name), d.desk_phone ? [' · ', h('a', { href: `tel:${d.desk_phone}` }, d.desk_phone)] : '',
      d.desk_hours ? ` · ${d.desk_hours}` : ''),
    d.members.length ? [h('p', { class: 'meta' }, t('impact.could_help')), h('ul', { class: 'matches' }, d.members.map((m) => h('li', null,
      `${m.full_name} (${t('impact.number', { n: m.number })})`, m.skills && m.skills.length ? ` — ${m.skills.join(', ')}` : '',
      m.phone ? [' · ', h('a', { href: `tel:${m.phone}` }, m.phone)] : '')))] : h('p', { class: 'meta' }, t('impact.no_match'))));
  const li = h('li', { class: 'card', 'data-post-id': p.id },
    h('h3', { id: titleId }, h('a', { href: `/posts/${p.id}` }, p.title)),
    h('p', { class: 'meta' }, [it.street_name, p.on_behalf_of || p.author_name, t(`category.${p.category}`),
      t('impact.waiting', { hours: it.waiting_hours })].filter(Boolean).join(' · ')),
    p.desk ? deskNote(p.desk) : null,
    desks);
  if (take && !p.desk) {
    const b = h('button', { type: 'button', class: 'btn primary take', 'aria-describedby': titleId }, t('impact.take'));
    b.addEventListener('click', () => busy(b, async () => {
      const next = await api.post(take(p.id), {});
      toast(t('impact.taken'));
      const note = deskNote(next.desk || { association_name: '' });
      note.setAttribute('tabindex', '-1');
      b.parentElement.replaceWith(note);
      note.focus();
      if (refer) refer(p, li);
    }));
    li.append(h('div', { class: 'actions' }, b));
  } else if (take && refer) refer(p, li);
  return li;
}

/** unansweredOf draws association aid's unanswered list, with "take it on", into box. */
export function unansweredOf(ctx, box, aid) {
  const refer = (p, li) => import('./referrals.js').then((m) => {
    if (ctx.current()) li.append(m.referBox(ctx, aid, { post_id: p.id }, p.on_behalf_of || p.author_name || p.title));
  }).catch(() => {});
  return unanswered(ctx, box, `/associations/${aid}/unanswered`, (pid) => `/associations/${aid}/unanswered/${pid}/take`, refer);
}

/**
 * street is the impact page of street ctx.params.sid, for its admins: the
 * figures, then the unanswered requests (first with ?show=unanswered).
 */
export async function street(ctx) {
  const sid = ctx.params.sid;
  const figs = h('section', { id: 'impact-figures-box', 'aria-labelledby': 'impact-figures' }, loading());
  const list = h('section', { id: 'impact-unanswered-box', 'aria-labelledby': 'impact-unanswered' }, loading());
  const sections = [[h('h2', { id: 'impact-figures' }, t('impact.figures')), figs], [h('h2', { id: 'impact-unanswered' }, t('impact.unanswered')), list]];
  if (ctx.query.get('show') === 'unanswered') sections.reverse();
  const s = session.street(sid);
  mount(ctx.main,
    heading(t('impact.title'), s ? h('p', { class: 'lead' }, s.name) : null,
      h('p', null, h('a', { href: `/streets/${sid}/admin`, class: 'back' }, t('impact.back')))),
    sections);
  const load = async (box, fn) => {
    try {
      await fn();
    } catch (err) {
      if (err.name === 'AbortError' || !ctx.current()) return;
      mount(box, failure(err, () => load(box, fn)));
    }
  };
  await Promise.all([
    load(figs, () => report(ctx, figs, `/streets/${sid}/impact`, `impact-${sid}.csv`)),
    load(list, () => unanswered(ctx, list, `/streets/${sid}/unanswered`, null)),
  ]);
}

/** association is the impact page of association ctx.params.aid, for its staff. */
export async function association(ctx) {
  const aid = ctx.params.aid;
  const figs = h('section', { id: 'impact-figures-box', 'aria-labelledby': 'impact-figures' }, loading());
  mount(ctx.main,
    heading(t('impact.title'), h('p', null, h('a', { href: `/portineria/${aid}`, class: 'back' }, t('impact.back')))),
    h('p', null, h('a', { href: `/portineria/${aid}/unanswered`, id: 'impact-to-unanswered' }, t('impact.unanswered'))),
    h('h2', { id: 'impact-figures' }, t('impact.figures')), figs);
  try {
    await report(ctx, figs, `/associations/${aid}/impact`, `impact-${aid}.csv`);
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.current()) return;
    mount(figs, failure(err, () => association(ctx)));
  }
}

const answerKeys = { done: 'handoff.done', still_needed: 'handoff.still_needed', not_needed: 'handoff.not_needed' };

/**
 * handoffBox is the question "how did it go?" for the author of post pid,
 * with v (GET /posts/:pid/handoff) giving the answers that fit: one button
 * each, the likeliest first, and a thanks for "done". answered(post,
 * answer) runs once the server took the answer. chosen, one of v.answers,
 * is an answer picked beforehand (a link's ?answer=): its button is the
 * primary one, with a line asking to confirm it; nothing is sent until a
 * button is tapped.
 */
export function handoffBox(pid, v, answered, chosen) {
  const thanksId = uid('handoff-thanks');
  const thanks = h('textarea', { id: thanksId, name: 'thanks', maxlength: '500', rows: '3' });
  const send = async (answer) => {
    const text = answer === 'done' ? thanks.value.trim() : '';
    const p = await api.post(`/posts/${pid}/handoff`, text ? { answer, thanks: text } : { answer });
    toast(t('handoff.thanks'));
    await answered(p, answer);
  };
  return answerBox({
    answers: v.answers, label: (a) => t(answerKeys[a]), chosen, send, cls: 'handoff-box', confirmCls: 'handoff-confirm',
    ask: t(v.state === 'matched' ? 'handoff.ask_matched' : 'handoff.ask_open'),
    before: v.answers.includes('done') ? h('div', { class: 'field' }, h('label', { for: thanksId }, t('handoff.thanks_label')), thanks) : null,
  });
}

/**
 * handoff asks the author of post ctx.params.pid how it went. ?answer= (a
 * notification's button) only picks that answer, and its button takes the
 * focus: anyone can send the author such a link, so the answer goes out
 * only when the author taps it.
 */
export async function handoff(ctx) {
  const pid = ctx.params.pid;
  const box = h('div', null, loading());
  mount(ctx.main, heading(t('handoff.title'), h('p', null, h('a', { href: `/posts/${pid}`, class: 'back' }, t('handoff.back')))), box);
  const recorded = () => {
    const line = h('p', { role: 'status', tabindex: '-1' }, t('handoff.recorded'));
    mount(box, line, h('a', { href: `/posts/${pid}`, class: 'btn' }, t('handoff.back')));
    line.focus(); // the tapped button is gone
  };
  try {
    const v = await api.get(`/posts/${pid}/handoff`, null, { signal: ctx.signal });
    if (!ctx.current()) return;
    if (!v.answers.length) {
      mount(box, h('p', null, t('handoff.nothing')));
      return;
    }
    const wanted = ctx.query.get('answer');
    mount(box, v.desk ? deskNote(v.desk) : null, handoffBox(pid, v, recorded, wanted));
    focusPicked(ctx, box.querySelector('.handoff-box'), wanted);
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.current()) return;
    mount(box, failure(err, () => handoff(ctx)));
  }
}
