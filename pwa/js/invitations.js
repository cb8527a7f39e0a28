// The invitations addressed to me: a desk's coordinator invited my email to
// the staff, or a volunteer invited me to link my account to my membership
// card. Nothing happens until I accept; declining tells the desk nothing
// about me. render mounts the section (nothing at all when there is none),
// so any screen can show it.
import { h, mount } from './dom.js';
import { t, has, day } from './i18n.js';
import * as api from './api.js';
import * as session from './session.js';
import { busy, more, toast } from './ui.js';

function text(inv) {
  const name = inv.association ? inv.association.name : '';
  const who = inv.invited_by_name || t('invite.someone');
  if (inv.kind === 'member') return t('invite.member', { who, name, n: inv.member_number || '?' });
  const role = has(`assoc.role.${inv.role}`) ? t(`assoc.role.${inv.role}`) : inv.role;
  return t('invite.staff', { who, name, role });
}

function card(inv, done) {
  const accept = h('button', { type: 'button', class: 'btn primary accept' }, t('invite.accept'));
  const decline = h('button', { type: 'button', class: 'btn ghost decline' }, t('invite.decline'));
  const li = h('li', { class: 'card invitation', 'data-invitation-id': inv.id },
    h('p', null, text(inv)),
    h('p', { class: 'meta' }, t('invite.expires', { date: day(inv.expires_at) })),
    h('div', { class: 'actions' }, accept, decline));
  const answer = (button, verb, said) => busy(button, async () => {
    await api.post(`/invitations/${inv.id}/${verb}`);
    li.remove();
    toast(said);
    if (verb === 'accept') await session.loadMe().catch(() => {});
    await done(verb, inv);
  });
  accept.addEventListener('click', () => answer(accept, 'accept', t('invite.accepted', { name: inv.association ? inv.association.name : '' })));
  decline.addEventListener('click', () => answer(decline, 'decline', t('invite.declined')));
  return li;
}

/**
 * render shows my pending invitations in el; done(verb, inv) runs after an
 * answer (to refresh the screen). Errors loading the list leave el empty:
 * the screen around it still works.
 */
export async function render(ctx, el, done = async () => {}) {
  const ul = h('ul', { class: 'list cards', id: 'invitations' });
  const pager = h('div', { class: 'pager' });
  const section = h('section', { class: 'invitations', 'aria-labelledby': 'invitations-title' },
    h('h2', { id: 'invitations-title' }, t('invite.title')), ul, pager);
  const page = async (cursor) => {
    const res = await api.get('/me/invitations', { cursor, limit: 20 }, { signal: ctx.signal });
    if (!ctx.current()) return;
    for (const inv of res.items || []) {
      ul.append(card(inv, async (verb, answered) => {
        if (!ul.children.length && !pager.children.length) mount(el);
        await done(verb, answered);
      }));
    }
    mount(pager, more(res.next_cursor, page));
    if (ul.children.length) mount(el, section);
    else mount(el);
  };
  try {
    await page('');
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.current()) return;
    mount(el);
  }
}
