// Initials avatars: a member's initials on a colour that follows from their
// id, so one neighbour keeps one colour everywhere (a photo, once photos of
// people exist, will take its place). The avatar is decoration: the name is
// always written beside it, so screen readers skip it. Colours are classes
// (the CSP allows no style attributes), each dark enough for white text.
import { h } from './dom.js';

/** COLOURS is how many avatar colours app.css defines (.avatar.c0 … c7). */
export const COLOURS = 8;

/**
 * initials are the first letter (or number) of the name's first word and
 * of its last, upper case: "Anna Maria Rossi" → "AR", "anna" → "A". The
 * server's profiles.Initials gives the same.
 */
export function initials(name) {
  const words = String(name || '').split(/\s+/).filter(Boolean);
  const first = (w) => {
    const m = w.match(/[\p{L}\p{N}]/u);
    return m ? m[0].toUpperCase() : '';
  };
  if (!words.length) return '';
  return words.length === 1 ? first(words[0]) : first(words[0]) + first(words[words.length - 1]);
}

/** colour is the avatar colour (0 … COLOURS-1) of a user id: FNV-1a of the id. */
export function colour(id) {
  let x = 0x811c9dc5;
  for (const ch of String(id || '')) {
    x ^= ch.codePointAt(0);
    x = Math.imul(x, 0x01000193) >>> 0;
  }
  return x % COLOURS;
}

/** avatar is the initials badge of user id called name; size 'small' (default) or 'large'. */
export function avatar(id, name, size = 'small') {
  return h('span', { class: `avatar c${colour(id)} ${size}`, 'aria-hidden': 'true', 'data-user-id': id || null }, initials(name) || '·');
}

/**
 * memberName is a member's name with their avatar; with a street and an
 * id it links to their profile in that street (profile.js). strong sets
 * the name in bold (a reply's author).
 */
export function memberName(sid, id, name, { strong = false } = {}) {
  const text = strong ? h('strong', null, name) : h('span', null, name);
  if (!id) return h('span', { class: 'member-name' }, text);
  if (!sid) return h('span', { class: 'member-name' }, avatar(id, name), text);
  return h('a', { class: 'member-name', href: `/streets/${encodeURIComponent(sid)}/members/${encodeURIComponent(id)}`, 'data-user-id': id },
    avatar(id, name), text);
}

/** dotted joins the parts that are there (strings or nodes) with " · ". */
export function dotted(parts) {
  const out = [];
  for (const p of parts) {
    if (p === null || p === undefined || p === false || p === '') continue;
    if (out.length) out.push(' · ');
    out.push(p);
  }
  return out;
}
