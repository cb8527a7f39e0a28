// Links between a street and a Portinaio desk ("no wrong door"): once both
// sides agreed, the desk's volunteers see the street's requests nobody
// answered and can call a neighbour who is not online. A street admin asks
// or accepts from the street's admin screen, a coordinator from the desk's;
// either side may undo it. The same screen part serves both sides; on the
// desk's, each linked street's board can be printed, for the neighbours
// who come to the counter.
import { h, mount, uid } from './dom.js';
import { t } from './i18n.js';
import * as api from './api.js';
import { boardButton } from './paper.js';
import { ask, badge, busy, empty, field, loading, submitting, toast, values } from './ui.js';

const statusBadge = {
  active: ['links.status.active', 'ok'],
  asked: ['links.status.asked', 'info'],
  theirs: ['links.status.theirs', 'warn'],
};

/**
 * render draws the links of one side into box. side: {kind: 'street' or
 * 'association', id, edit} — edit (street admins, coordinators) adds
 * accepting, removing and asking; without it the list is read-only.
 */
export async function render(ctx, box, side) {
  const street = side.kind === 'street';
  const base = street ? `/streets/${side.id}/links` : `/associations/${side.id}/links`;
  const other = (l) => (street ? { id: l.association_id, name: l.association_name } : { id: l.street_id, name: l.street_name });
  // Which status means "we asked, they have not answered" and which "they asked".
  const mine = street ? 'awaiting_association' : 'awaiting_street';
  const agree = (id) => api.post(base, street ? { association_id: id } : { street_id: id });
  const out = h('div', { id: 'links', 'aria-live': 'polite' }, loading());
  let linked = new Set();

  const row = (l) => {
    const o = other(l);
    const titleId = uid('link');
    const state = l.status === 'active' ? 'active' : (l.status === mine ? 'asked' : 'theirs');
    const [label, kind] = statusBadge[state];
    const li = h('li', { class: 'card link', 'data-link': o.id, 'data-status': l.status },
      h('h3', { id: titleId }, o.name || o.id), h('p', null, badge(t(label), kind)));
    const acts = [];
    // Every volunteer of the desk may print it, not only who edits the links.
    if (!street && state === 'active') acts.push(boardButton(o.id, o.name, { 'aria-describedby': titleId }));
    if (!side.edit) {
      if (acts.length) li.append(h('div', { class: 'actions' }, acts));
      return li;
    }
    if (state === 'theirs') {
      const accept = h('button', { type: 'button', class: 'btn primary accept-link', 'aria-describedby': titleId }, t('links.accept'));
      accept.addEventListener('click', () => busy(accept, async () => {
        await agree(o.id);
        toast(t('links.accepted', { name: o.name }));
        await load();
        focusList();
      }));
      acts.push(accept);
    }
    const remove = h('button', { type: 'button', class: 'btn danger remove-link', 'aria-describedby': titleId },
      t({ active: 'links.remove', asked: 'links.withdraw', theirs: 'links.decline' }[state]));
    remove.addEventListener('click', async () => {
      const ok = await ask({ title: t('links.remove.title', { name: o.name }), text: t('links.remove.text'), confirm: remove.textContent, danger: true });
      if (!ok) return;
      await busy(remove, async () => {
        await api.del(`${base}/${o.id}`);
        toast(t('links.removed', { name: o.name }));
        await load();
        focusList();
      });
    });
    acts.push(remove);
    li.append(h('div', { class: 'actions' }, acts));
    return li;
  };

  const load = async () => {
    const res = await api.get(base, null, { signal: ctx.signal });
    if (!ctx.current()) return;
    const items = res.items || [];
    linked = new Set(items.map((l) => other(l).id));
    mount(out, items.length ? h('ul', { class: 'list cards' }, items.map(row)) : empty(t(street ? 'links.none.street' : 'links.none.association')));
  };

  const parts = [h('p', null, t(street ? 'links.lead.street' : 'links.lead.association')), out];
  if (side.edit) parts.push(finder(ctx, street, agree, () => linked, load));
  mount(box, parts);
  await load();
}

// finder searches the other side's directory (associations for a street,
// streets for a desk) and asks for a link with one of the results.
function finder(ctx, street, agree, linked, reload) {
  const results = h('div', { id: 'link-results', 'aria-live': 'polite' });
  const form = h('form', { class: 'stack card', id: 'link-search', role: 'search', novalidate: true },
    h('h3', null, t(street ? 'links.ask.street' : 'links.ask.association')),
    field({ label: t(street ? 'links.search.association' : 'links.search.street'), name: 'q', type: 'search', required: true, maxlength: 100 }),
    h('button', { type: 'submit', class: 'btn' }, t('action.search')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const v = values(form);
      if (!v.q) throw new api.ApiError(422, 'validation_failed', { q: 'required' });
      const res = await api.get(street ? '/associations' : '/streets', { q: v.q, limit: 10 }, { signal: ctx.signal });
      const items = (res.items || []).filter((x) => !linked().has(x.id));
      mount(results, items.length ? h('ul', { class: 'list cards' }, items.map((x) => {
        const titleId = uid('found');
        const b = h('button', { type: 'button', class: 'btn primary ask-link', 'aria-describedby': titleId }, t('links.ask'));
        b.addEventListener('click', () => busy(b, async () => {
          const l = await agree(x.id);
          toast(t(l.status === 'active' ? 'links.accepted' : 'links.asked', { name: x.name }));
          mount(results);
          form.reset();
          await reload();
          focusList();
        }));
        return h('li', { class: 'card', 'data-found': x.id }, h('h4', { id: titleId }, x.name),
          h('p', { class: 'meta' }, street ? x.area || '' : x.city || ''),
          h('div', { class: 'actions' }, b));
      })) : empty(t('links.search.none')));
    });
  });
  return h('div', null, form, results);
}

// focusList moves focus to the links once the button pressed is gone.
function focusList() {
  const el = document.getElementById('links');
  if (!el) return;
  el.setAttribute('tabindex', '-1');
  el.focus();
}
