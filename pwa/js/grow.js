// Growing a street from its board: the way to invite neighbours (for the
// admins, and for every member where the admins allow it), the way to the
// skills of the Portinaio desks the street is linked with (once it is),
// and the card a street's empty board shows its admins. A small module of
// its own, so the board loads nothing more than these few links.
import { h } from './dom.js';
import { t } from './i18n.js';
import * as api from './api.js';
import * as session from './session.js';

/**
 * boardLinks are the board's links to the invite screen and to the desks'
 * skills directory: {els, street(s)}. The invite link shows at once for
 * an admin, for a member once street(s) says members may invite; the
 * skills link once the street has an active link with a desk.
 */
export function boardLinks(sid, signal) {
  const invite = h('a', { href: `/streets/${sid}/invite`, class: 'btn ghost', id: 'invite-link', hidden: !session.isAdmin(sid) }, t('grow.invite'));
  const skills = h('a', { href: `/streets/${sid}/skills`, class: 'btn ghost', id: 'skills-link', hidden: true }, t('grow.skills'));
  api.get(`/streets/${sid}/links`, undefined, { signal }).then((res) => {
    skills.hidden = !((res && res.items) || []).some((l) => l.status === 'active');
  }).catch(() => {});
  const street = (s) => {
    invite.hidden = !(session.isAdmin(sid) || (s && s.members_invite));
  };
  return { els: [invite, skills], street };
}

/** emptyBoard is what an admin sees on a board with nothing on it yet: an invitation to invite the neighbours. */
export function emptyBoard(sid) {
  // Still the board's empty state (.state.empty), with a way out of it.
  return h('section', { class: 'state empty invite-neighbours', id: 'invite-neighbours', 'aria-labelledby': 'invite-neighbours-title' },
    h('h2', { id: 'invite-neighbours-title' }, t('grow.empty.title')),
    h('p', null, t('grow.empty.text')),
    h('a', { href: `/streets/${sid}/invite`, class: 'btn primary', id: 'empty-invite' }, t('grow.empty.action')));
}
