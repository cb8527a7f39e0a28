// Portinaio di rione, for the desk's volunteers: the roster with search,
// a member's card, recording a payment (one idempotency key per payment, so
// a double tap or a retry after a lost answer records it once), reversing
// an entry, the year's report and ledger, CSV exports, the renewals list,
// posting in a street on a member's behalf, the staff (joined by invitation:
// the invited person accepts from their own account, and until then the
// desk sees "invitation sent", never a name), and "no wrong door":
// the requests nobody answered in the linked streets (a volunteer takes one
// on), the links with streets, and the desk's impact figures.
import { h, mount } from './dom.js';
import { t, has, when, day, money } from './i18n.js';
import * as api from './api.js';
import * as session from './session.js';
import { navigate } from './router.js';
import * as links from './links.js';
import { unansweredOf } from './impact.js';
import * as invitations from './invitations.js';
import { categories, kinds } from './posts.js';
import { ask, badge, busy, check, empty, failure, field, heading, loading, more, radios, submitting, tabs, toast, values } from './ui.js';

const sections = ['roster', 'renewals', 'ledger', 'report', 'unanswered', 'places', 'suggestions', 'referrals', 'streets', 'staff'];
const types = ['fee', 'donation', 'refund', 'adjustment'];
const methods = ['cash', 'transfer', 'other'];

function thisYear() {
  return new Date().getFullYear();
}

function years(from = thisYear() - 5) {
  const out = [];
  for (let y = thisYear(); y >= from; y -= 1) out.push([String(y), String(y)]);
  return out;
}

/** cents parses "5", "5,50" or "5.50" (euros) into cents, NaN when it cannot. */
export function cents(text) {
  const s = String(text).trim().replace(/\s|€/g, '').replace(',', '.');
  if (!/^\d+(\.\d{1,2})?$/.test(s)) return NaN;
  const [int, frac = ''] = s.split('.');
  return Number(int) * 100 + Number((frac + '00').slice(0, 2));
}

function euros(c) {
  return (c / 100).toFixed(2).replace('.', ',');
}

function statusBadge(status) {
  if (!status) return null;
  return badge(t(`member.status.${status}`), status === 'active' ? 'ok' : 'warn');
}

/** list shows my associations and the invitations waiting for my answer, and lets me start one. */
export async function list(ctx) {
  const invited = h('div', { id: 'my-invitations' });
  const body = h('div', { id: 'associations' }, loading());
  const form = h('form', { class: 'stack card', id: 'association-form', novalidate: true },
    field({ label: t('assoc.name'), name: 'name', required: true, maxlength: 120 }),
    field({ label: t('assoc.area'), name: 'area', required: true, maxlength: 120, hint: t('assoc.area.hint') }),
    field({ label: t('assoc.fee'), name: 'fee', required: true, inputmode: 'decimal', value: '5,00', hint: t('assoc.fee.hint') }),
    h('button', { type: 'submit', class: 'btn primary' }, t('assoc.create')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const v = values(form);
      const fee = cents(v.fee);
      if (Number.isNaN(fee)) throw new api.ApiError(422, 'validation_failed', { fee: 'invalid' });
      const a = await api.post('/associations', { name: v.name, area: v.area, yearly_fee_cents: fee });
      await session.loadMe().catch(() => {});
      await navigate(`/portineria/${a.id}`);
    });
  });
  mount(ctx.main, heading(t('assoc.title'), h('p', { class: 'lead' }, t('assoc.lead'))), invited, body,
    h('details', { class: 'card' }, h('summary', null, t('assoc.create')), form));
  try {
    await session.loadMe();
  } catch {
    // The saved memberships will do.
  }
  if (!ctx.current()) return;
  // An accepted invitation adds an association: draw the list again.
  invitations.render(ctx, invited, async (verb) => {
    if (verb === 'accept' && ctx.current()) drawMine(body);
  });
  drawMine(body);
}

function drawMine(body) {
  const mine = session.associations();
  if (!mine.length) {
    mount(body, empty(t('assoc.none')));
    return;
  }
  mount(body, h('ul', { class: 'list cards' }, mine.map((a) => h('li', { class: 'card', 'data-association-id': a.id },
    h('h2', null, a.role === 'coordinator' || a.role === 'volunteer' ? h('a', { href: `/portineria/${a.id}` }, a.name) : a.name),
    h('p', { class: 'meta' }, [a.area, has(`assoc.role.${a.role}`) ? t(`assoc.role.${a.role}`) : ''].filter(Boolean).join(' · ')),
    a.member_number ? h('p', null, t('assoc.mycard', { n: a.member_number }), ' ', a.card_active === undefined ? null : statusBadge(a.card_active ? 'active' : 'lapsed')) : null))));
}

/** association is the desk of association ctx.params.aid. */
export async function association(ctx) {
  const aid = ctx.params.aid;
  const tab = ctx.params.tab === 'new' ? 'new' : (sections.includes(ctx.params.tab) ? ctx.params.tab : 'roster');
  mount(ctx.main, heading(t('assoc.title')), loading());
  let a;
  try {
    a = await api.get(`/associations/${aid}`, undefined, { signal: ctx.signal });
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.current()) return;
    mount(ctx.main, heading(t('assoc.title')), failure(err, () => association(ctx)));
    return;
  }
  if (!ctx.current()) return;
  const base = `/portineria/${aid}`;
  const items = sections.filter((s) => s !== 'staff' || a.my_role === 'coordinator')
    .map((s) => [s === 'roster' ? base : `${base}/${s}`, t(`assoc.${s}`)]);
  const body = h('section', { id: `assoc-${tab}`, 'aria-labelledby': 'assoc-section' }, loading());
  mount(ctx.main,
    heading(a.name, h('p', { class: 'lead' }, [a.area, t('assoc.feeis', { fee: money(a.yearly_fee_cents) })].join(' · ')),
      h('p', null, h('a', { href: `/impact/associations/${a.id}`, class: 'btn ghost', id: 'assoc-impact' }, t('assoc.impact')))),
    tabs(t('assoc.sections'), items, tab === 'roster' || tab === 'new' ? base : `${base}/${tab}`),
    h('h2', { id: 'assoc-section' }, t(`assoc.${tab}`)),
    body);
  const show = { roster, new: addMember, renewals, ledger, report, unanswered, streets: linkedStreets, staff,
    // The Locator's parts load when opened.
    places: (c, x, b) => import('./placeadmin.js').then((m) => m.section(c, x, b)),
    suggestions: (c, x, b) => import('./placeadmin.js').then((m) => m.queue(c, x, b)),
    referrals: (c, x, b) => import('./referrals.js').then((m) => m.section(c, x, b)) }[tab];
  try {
    await show(ctx, a, body);
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.current()) return;
    mount(body, failure(err, () => association(ctx)));
  }
}

async function roster(ctx, a, body) {
  const q = ctx.query.get('q') || '';
  const status = ctx.query.get('status') || '';
  const form = h('form', { class: 'filters', role: 'search', id: 'roster-search' },
    field({ label: t('roster.search'), name: 'q', type: 'search', value: q, maxlength: 100, hint: t('roster.search.hint') }),
    field({ label: t('roster.status'), name: 'status', type: 'select', value: status, options: [['', t('roster.all')], ['active', t('member.status.active')], ['lapsed', t('member.status.lapsed')]] }),
    h('button', { type: 'submit', class: 'btn' }, t('action.search')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = values(form);
    const p = new URLSearchParams();
    if (v.q) p.set('q', v.q);
    if (v.status) p.set('status', v.status);
    navigate(`/portineria/${a.id}${p.toString() ? `?${p}` : ''}`, { replace: true });
  });
  const csv = h('button', { type: 'button', class: 'btn ghost', id: 'members-csv' }, t('roster.csv'));
  csv.addEventListener('click', () => busy(csv, () => api.download(`/associations/${a.id}/members.csv`, `soci-${thisYear()}.csv`, { year: thisYear() })));
  const ul = h('ul', { class: 'list cards', id: 'roster' });
  const out = h('div', { 'aria-live': 'polite' }, loading());
  const pager = h('div', { class: 'pager' });
  mount(body, h('div', { class: 'actions' }, h('a', { href: `/portineria/${a.id}/new`, class: 'btn primary', id: 'add-member' }, t('roster.add')), csv), form, out, pager);
  const page = async (cursor) => {
    const res = await api.get(`/associations/${a.id}/members`, { q, status, year: status ? thisYear() : '', cursor, limit: 30 }, { signal: ctx.signal });
    if (!ctx.current()) return;
    for (const m of res.items || []) {
      ul.append(h('li', { class: 'card member', 'data-member-id': m.id },
        h('h3', null, h('a', { href: `/portineria/${a.id}/members/${m.id}` }, `${m.number}. ${m.full_name}`)),
        h('p', { class: 'meta' }, [m.phone, (m.skills || []).join(', ')].filter(Boolean).join(' · '), ' ', statusBadge(m.status))));
    }
    mount(pager, more(res.next_cursor, page));
    mount(out, ul.children.length ? ul : empty(q || status ? t('roster.noresults') : t('roster.empty')));
  };
  await page('');
}

function memberFields(a, m = {}) {
  return [
    field({ label: t('member.full_name'), name: 'full_name', required: true, maxlength: 120, value: m.full_name, autocomplete: 'off' }),
    field({ label: t('member.phone'), name: 'phone', type: 'tel', maxlength: 40, value: m.phone, autocomplete: 'off' }),
    field({ label: t('member.email'), name: 'email', type: 'email', maxlength: 254, value: m.email, autocomplete: 'off' }),
    field({ label: t('member.address'), name: 'address', maxlength: 200, value: m.address, autocomplete: 'off' }),
    field({ label: t('member.skills'), name: 'skills', maxlength: 300, value: (m.skills || []).join(', '), hint: t('member.skills.hint', { examples: (a.suggested_skills || []).slice(0, 4).join(', ') }) }),
    field({ label: t('member.notes'), name: 'notes', type: 'textarea', rows: 3, maxlength: 1000, value: m.notes, hint: t('member.notes.hint') }),
    check({ label: t('member.directory'), name: 'in_directory', checked: m.in_directory !== false, hint: t('member.directory.hint') }),
  ];
}

function memberBody(v) {
  const skills = v.skills ? v.skills.split(',').map((s) => s.trim()).filter(Boolean) : [];
  return { full_name: v.full_name, phone: v.phone, email: v.email, address: v.address, skills, notes: v.notes, in_directory: v.in_directory };
}

function addMember(ctx, a, body) {
  const form = h('form', { class: 'stack card', id: 'member-form', novalidate: true },
    ...memberFields(a),
    h('button', { type: 'submit', class: 'btn primary wide' }, t('roster.add')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const m = await api.post(`/associations/${a.id}/members`, memberBody(values(form)));
      toast(t('roster.added', { n: m.number, name: m.full_name }));
      await navigate(`/portineria/${a.id}/members/${m.id}`);
    });
  });
  mount(body, h('p', null, t('roster.add.lead')), form);
}

/** member is a roster member's card: details, payments, assisted posting. */
export async function member(ctx) {
  const { aid, mid } = ctx.params;
  mount(ctx.main, heading(t('member.title')), loading());
  let a;
  let m;
  try {
    [a, m] = await Promise.all([
      api.get(`/associations/${aid}`, undefined, { signal: ctx.signal }),
      api.get(`/associations/${aid}/members/${mid}`, { year: thisYear() }, { signal: ctx.signal }),
    ]);
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.current()) return;
    mount(ctx.main, heading(t('member.title')), failure(err, () => member(ctx)));
    return;
  }
  if (!ctx.current()) return;
  const card = h('section', { class: 'card member-card', 'aria-labelledby': 'member-name' });
  const drawCard = () => {
    const rows = [
      ['member.number', String(m.number)],
      ['member.status', h('span', { id: 'member-status' }, statusBadge(m.status), ' ', t('member.paid', { paid: money(m.paid_cents), year: m.year || thisYear() }))],
      ['member.phone', m.phone], ['member.email', m.email], ['member.address', m.address],
      ['member.skills', (m.skills || []).join(', ')], ['member.joined', m.joined_on ? day(m.joined_on) : ''], ['member.notes', m.notes],
      ['member.account', accountState(m)],
    ].filter(([, v]) => v);
    mount(card, h('h2', { id: 'member-name' }, m.full_name),
      h('dl', null, rows.map(([k, v]) => [h('dt', null, t(k)), h('dd', null, v)])));
  };
  const account = h('section', { 'aria-labelledby': 'account-heading' });
  const drawAccount = () => mount(account, h('h2', { id: 'account-heading' }, t('member.account')), accountSection(a, m, async () => {
    m = await api.get(`/associations/${aid}/members/${mid}`, { year: thisYear() });
    drawCard();
    drawAccount();
  }));
  drawCard();
  drawAccount();
  const entries = h('div', { id: 'member-ledger' }, loading());
  const loadEntries = async () => {
    const res = await api.get(`/associations/${aid}/ledger`, { member_id: mid, limit: 50 }, { signal: ctx.signal });
    if (!ctx.current()) return;
    mount(entries, entryTable(ctx, a, res.items || [], loadEntries));
  };
  const refreshMember = async () => {
    m = await api.get(`/associations/${aid}/members/${mid}`, { year: thisYear() });
    drawCard();
  };
  // Referring the member to a place of the Locator (loaded on first use).
  const refer = h('section', { id: 'member-refer' });
  if (!m.erased) {
    import('./referrals.js').then((mod) => {
      if (ctx.current()) mount(refer, mod.referBox(ctx, aid, { member_id: mid }, m.full_name));
    }).catch(() => {});
  }
  const pay = paymentForm(a, m, async () => {
    await Promise.all([loadEntries(), refreshMember()]);
  });
  mount(ctx.main,
    h('p', null, h('a', { href: `/portineria/${aid}`, class: 'back' }, t('member.back', { name: a.name }))),
    heading(m.full_name, h('p', { class: 'lead' }, t('member.lead', { n: m.number }))),
    card,
    h('section', { 'aria-labelledby': 'pay-heading' }, h('h2', { id: 'pay-heading' }, t('pay.title')), pay),
    h('section', { 'aria-labelledby': 'entries-heading' }, h('h2', { id: 'entries-heading' }, t('ledger.member')), entries),
    h('section', { 'aria-labelledby': 'assist-heading' }, h('h2', { id: 'assist-heading' }, t('assist.title', { name: m.full_name })), assistForm(a, m)),
    m.erased ? null : refer,
    m.erased ? null : account,
    h('details', { class: 'card' }, h('summary', null, t('member.edit')), editForm(a, m, async (next) => {
      m = next;
      drawCard();
      drawAccount();
    })));
  try {
    await loadEntries();
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.current()) return;
    mount(entries, failure(err, loadEntries));
  }
}

// accountState is the card's account in a word: linked, or "invitation sent".
function accountState(m) {
  if (m.user_id) return t('member.account.linked.short');
  if (m.invitation) return badge(t('invite.sent'), 'info');
  return '';
}

function editForm(a, m, done) {
  const form = h('form', { class: 'stack', id: 'member-edit', novalidate: true }, ...memberFields(a, m),
    h('button', { type: 'submit', class: 'btn primary' }, t('action.save')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const next = await api.patch(`/associations/${a.id}/members/${m.id}`, memberBody(values(form)));
      toast(t('action.saved'));
      await done(next);
    });
  });
  return form;
}

// paymentForm records a ledger entry. Its idempotency key lives as long as
// the payment: a failed or unanswered attempt is retried with the same key
// (the server answers the entry it already has), and only a recorded
// payment starts a new key.
function paymentForm(a, m, done) {
  let idem = api.key();
  const form = h('form', { class: 'stack card', id: 'payment-form', novalidate: true, 'data-key': idem },
    field({ label: t('pay.type'), name: 'type', type: 'select', value: 'fee', options: types.map((x) => [x, t(`pay.type.${x}`)]) }),
    field({ label: t('pay.amount'), name: 'amount', required: true, inputmode: 'decimal', value: euros(a.yearly_fee_cents), hint: t('pay.amount.hint') }),
    field({ label: t('pay.year'), name: 'year', type: 'select', value: String(thisYear()), options: [[String(thisYear() + 1), String(thisYear() + 1)], ...years()] }),
    field({ label: t('pay.method'), name: 'method', type: 'select', value: 'cash', options: methods.map((x) => [x, t(`pay.method.${x}`)]) }),
    field({ label: t('pay.note'), name: 'note', maxlength: 200 }),
    h('button', { type: 'submit', class: 'btn primary wide', id: 'record-payment' }, t('pay.record')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const v = values(form);
      const amount = cents(v.amount);
      if (Number.isNaN(amount) || amount <= 0) throw new api.ApiError(422, 'validation_failed', { amount: 'invalid' });
      const entry = await api.post(`/associations/${a.id}/ledger`, {
        member_id: m.id, type: v.type, amount_cents: amount, year: Number(v.year), method: v.method, note: v.note, idempotency_key: idem,
      });
      idem = api.key();
      form.dataset.key = idem;
      toast(t('pay.ok', { amount: money(entry.amount_cents), type: t(`pay.type.${entry.type}`) }));
      await done(entry);
    });
  });
  return form;
}

function entryTable(ctx, a, items, reload) {
  if (!items.length) return empty(t('ledger.empty'));
  const reversed = new Set(items.filter((e) => e.reverses).map((e) => e.reverses));
  return h('div', { class: 'table-wrap' }, h('table', { class: 'ledger' },
    h('caption', { class: 'sr-only' }, t('ledger.member')),
    h('thead', null, h('tr', null,
      ['ledger.date', 'ledger.what', 'ledger.amount', 'ledger.by', 'ledger.actions'].map((k) => h('th', { scope: 'col', class: k === 'ledger.amount' ? 'num' : null }, t(k))))),
    h('tbody', null, items.map((e) => {
      const isReversed = e.reversed_by || reversed.has(e.id);
      let action = null;
      if (!e.reverses && !isReversed) {
        action = h('button', { type: 'button', class: 'btn ghost small reverse' }, t('ledger.reverse'));
        action.addEventListener('click', async () => {
          const reason = await ask({ title: t('ledger.reverse.title'), text: t('ledger.reverse.text', { amount: money(e.amount_cents) }), label: t('admin.reason'), required: true, danger: true, confirm: t('ledger.reverse') });
          if (!reason) return;
          await busy(action, async () => {
            await api.post(`/associations/${a.id}/ledger/${e.id}/reverse`, { reason });
            toast(t('ledger.reversed'));
            await reload();
          });
        });
      }
      const what = [t(`pay.type.${e.type}`), String(e.year), t(`pay.method.${e.method}`)];
      if (e.member_name && !ctx.params.mid) what.unshift(`${e.member_number}. ${e.member_name}`);
      return h('tr', { class: isReversed ? 'reversed' : null, 'data-entry-id': e.id },
        h('td', null, h('time', { datetime: e.recorded_at }, when(e.recorded_at))),
        h('td', null, what.join(' · '), e.reverses ? h('span', { class: 'meta' }, ` — ${t('ledger.reversal', { reason: e.reason || '' })}`) : null,
          e.note ? h('span', { class: 'meta' }, ` — ${e.note}`) : null),
        h('td', { class: 'num' }, money(e.amount_cents)),
        h('td', null, e.recorded_by_name || ''),
        h('td', null, action));
    }))));
}

function yearPicker(ctx, value, base) {
  const form = h('form', { class: 'filters', id: 'year-form' },
    field({ label: t('pay.year'), name: 'year', type: 'select', value: String(value), options: years() }));
  form.querySelector('select').addEventListener('change', (e) => navigate(`${base}?year=${e.target.value}`, { replace: true }));
  form.addEventListener('submit', (e) => e.preventDefault());
  return form;
}

async function ledger(ctx, a, body) {
  const year = Number(ctx.query.get('year')) || thisYear();
  const csv = h('button', { type: 'button', class: 'btn ghost', id: 'ledger-csv' }, t('ledger.csv'));
  csv.addEventListener('click', () => busy(csv, () => api.download(`/associations/${a.id}/ledger.csv`, `cassa-${year}.csv`, { year })));
  const out = h('div', null, loading());
  mount(body, yearPicker(ctx, year, `/portineria/${a.id}/ledger`), h('div', { class: 'actions' }, csv), out);
  const res = await api.get(`/associations/${a.id}/ledger`, { year, limit: 100 }, { signal: ctx.signal });
  if (!ctx.current()) return;
  const reload = () => association(ctx);
  mount(out, totals(res.totals), entryTable(ctx, a, res.items || [], reload),
    res.next_cursor ? h('p', { class: 'meta' }, t('ledger.more')) : null);
}

function totals(tt) {
  if (!tt) return null;
  const rows = [['ledger.fees', tt.fees_cents], ['ledger.donations', tt.donations_cents], ['ledger.refunds', tt.refunds_cents], ['ledger.adjustments', tt.adjustments_cents], ['ledger.net', tt.net_cents]];
  return h('dl', { class: 'stats' }, rows.map(([k, v]) => h('div', null, h('dt', null, t(k)), h('dd', null, money(v || 0)))));
}

async function report(ctx, a, body) {
  const year = Number(ctx.query.get('year')) || thisYear();
  const out = h('div', { id: 'report' }, loading());
  mount(body, yearPicker(ctx, year, `/portineria/${a.id}/report`), out);
  const r = await api.get(`/associations/${a.id}/report`, { year }, { signal: ctx.signal });
  if (!ctx.current()) return;
  const people = [['report.members', r.members], ['report.active', r.active], ['report.lapsed', r.lapsed], ['report.new', r.new_members], ['report.notrenewed', r.not_renewed]];
  mount(out,
    h('dl', { class: 'stats' }, people.map(([k, v]) => h('div', null, h('dt', null, t(k)), h('dd', null, String(v ?? 0))))),
    h('h3', null, t('report.money')),
    totals(r),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn ghost', onclick: () => window.print() }, t('report.print'))));
}

async function renewals(ctx, a, body) {
  const ul = h('ul', { class: 'list cards', id: 'renewals' });
  const pager = h('div', { class: 'pager' });
  const out = h('div', null, loading());
  mount(body, h('p', null, t('renewals.lead')), out, pager);
  const page = async (cursor) => {
    const res = await api.get(`/associations/${a.id}/renewals`, { cursor, limit: 50 }, { signal: ctx.signal });
    if (!ctx.current()) return;
    for (const r of res.items || []) {
      ul.append(h('li', { class: 'card' },
        h('h3', null, h('a', { href: `/portineria/${a.id}/members/${r.member_id}` }, `${r.number}. ${r.full_name}`)),
        h('p', null, r.state === 'expired' ? badge(t('renewals.expired', { year: r.card_year }), 'warn')
          : badge(t('renewals.expiring', { days: r.days_left }), 'info')),
        r.phone ? h('p', null, h('a', { href: `tel:${r.phone}` }, r.phone)) : null));
    }
    mount(pager, more(res.next_cursor, page));
    mount(out, ul.children.length ? ul : empty(t('renewals.none')));
  };
  await page('');
}

function unanswered(ctx, a, body) {
  mount(body, h('p', null, t('assoc.unanswered.lead')), h('div', { id: 'unanswered' }, loading()));
  return unansweredOf(ctx, body.querySelector('#unanswered'), a.id);
}

function linkedStreets(ctx, a, body) {
  return links.render(ctx, body, { kind: 'association', id: a.id, edit: a.my_role === 'coordinator' });
}

// withdraw is the button that withdraws invitation inv of association aid.
function withdraw(aid, inv, done) {
  const b = h('button', { type: 'button', class: 'btn ghost small withdraw' }, t('invite.withdraw'));
  b.addEventListener('click', () => busy(b, async () => {
    await api.del(`/associations/${aid}/invitations/${inv.id}`);
    toast(t('invite.withdrawn'));
    await done();
  }));
  return b;
}

async function staff(ctx, a, body) {
  const ul = h('ul', { class: 'list cards', id: 'staff' });
  const pending = h('ul', { class: 'list cards', id: 'staff-invitations' });
  const pendingSection = h('section', { 'aria-labelledby': 'staff-pending' }, h('h3', { id: 'staff-pending' }, t('staff.pending')), pending);
  const form = h('form', { class: 'stack card', id: 'volunteer-form', novalidate: true },
    field({ label: t('staff.email'), name: 'email', type: 'email', required: true, hint: t('staff.email.hint') }),
    field({ label: t('staff.role'), name: 'role', type: 'select', value: 'volunteer', options: [['volunteer', t('assoc.role.volunteer')], ['coordinator', t('assoc.role.coordinator')]] }),
    h('button', { type: 'submit', class: 'btn primary' }, t('staff.add')));
  const load = async () => {
    const [res, inv] = await Promise.all([
      api.get(`/associations/${a.id}/volunteers`, undefined, { signal: ctx.signal }),
      api.get(`/associations/${a.id}/invitations`, { kind: 'staff', limit: 100 }, { signal: ctx.signal }),
    ]);
    if (!ctx.current()) return;
    const items = Array.isArray(res) ? res : res.items || [];
    mount(ul, items.map((s) => h('li', { class: 'card' }, h('h3', null, s.name), h('p', { class: 'meta' }, t(`assoc.role.${s.role}`)))));
    // Who was invited shows as the address typed and "invitation sent":
    // the name appears above once they accept.
    const open = inv.items || [];
    pendingSection.hidden = !open.length;
    mount(pending, open.map((i) => h('li', { class: 'card invitation', 'data-invitation-id': i.id },
      h('h4', null, i.email),
      h('p', { class: 'meta' }, [t(`assoc.role.${i.role}`), t('invite.until', { date: day(i.expires_at) })].join(' · '), ' ', badge(t('invite.sent'), 'info')),
      h('div', { class: 'actions' }, withdraw(a.id, i, load)))));
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const v = values(form);
      const res = await api.post(`/associations/${a.id}/volunteers`, { email: v.email, role: v.role });
      toast(t('staff.invited', { email: (res && res.invitation && res.invitation.email) || v.email }));
      form.reset();
      await load();
    });
  });
  mount(body, ul, pendingSection, form);
  await load();
}

// accountSection is the member card's link to a Civico account: linked, an
// invitation waiting for the member's answer, or the form to send one.
function accountSection(a, m, refresh) {
  const box = h('div', { class: 'card stack', id: 'member-account' });
  if (m.user_id) {
    const unlink = h('button', { type: 'button', class: 'btn ghost small', id: 'member-unlink' }, t('member.account.unlink'));
    unlink.addEventListener('click', () => busy(unlink, async () => {
      await api.patch(`/associations/${a.id}/members/${m.id}`, { user_id: '' });
      toast(t('member.account.unlinked'));
      await refresh();
    }));
    mount(box, h('p', null, t('member.account.linked')), h('div', { class: 'actions' }, unlink));
    return box;
  }
  const inv = m.invitation;
  if (inv) {
    mount(box,
      h('p', null, inv.email ? t('member.account.invited', { email: inv.email }) : t('member.account.invited.account')),
      h('p', { class: 'meta' }, t('invite.until', { date: day(inv.expires_at) })),
      h('div', { class: 'actions' }, withdraw(a.id, inv, refresh)));
    return box;
  }
  const form = h('form', { class: 'stack', id: 'member-invite', novalidate: true },
    field({ label: t('member.account.email'), name: 'email', type: 'email', required: true, maxlength: 254, value: m.email, autocomplete: 'off', hint: t('member.account.hint') }),
    h('button', { type: 'submit', class: 'btn' }, t('member.account.invite')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const v = values(form);
      await api.post(`/associations/${a.id}/members/${m.id}/invitations`, { email: v.email });
      toast(t('member.account.sent', { email: v.email }));
      await refresh();
    });
  });
  mount(box, form);
  return box;
}

// assistForm posts in one of my streets for a member with no smartphone.
function assistForm(a, m) {
  const streets = session.streets().filter((s) => (s.status || 'active') === 'active');
  if (!streets.length) return h('p', { class: 'state' }, t('assist.nostreet'));
  const idem = { key: api.key() };
  const form = h('form', { class: 'stack card', id: 'assist-form', novalidate: true },
    h('p', null, t('assist.lead')),
    field({ label: t('assist.street'), name: 'street_id', type: 'select', required: true, value: streets[0].id, options: streets.map((s) => [s.id, s.name]) }),
    radios({ legend: t('post.kind'), name: 'kind', value: 'request', options: kinds.map((k) => [k, t(`kind.${k}.long`)]) }),
    field({ label: t('post.category'), name: 'category', type: 'select', required: true, value: '', options: [['', t('post.category.choose')], ...categories.map((c) => [c, t(`category.${c}`)])] }),
    field({ label: t('post.title'), name: 'title', required: true, maxlength: 120 }),
    field({ label: t('post.body'), name: 'body', type: 'textarea', required: true, maxlength: 4000, rows: 4 }),
    h('button', { type: 'submit', class: 'btn primary' }, t('assist.publish')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const v = values(form);
      const fields = {};
      for (const k of ['category', 'title', 'body']) if (!v[k]) fields[k] = 'required';
      if (Object.keys(fields).length) throw new api.ApiError(422, 'validation_failed', fields);
      const res = await api.post(`/associations/${a.id}/members/${m.id}/posts`,
        { street_id: v.street_id, kind: v.kind, category: v.category, title: v.title, body: v.body },
        { headers: { 'Idempotency-Key': idem.key } });
      idem.key = api.key();
      toast(t('assist.ok'));
      const id = (res && (res.id || (res.post && res.post.id))) || '';
      if (id) await navigate(`/posts/${id}`);
      else form.reset();
    });
  });
  return form;
}
