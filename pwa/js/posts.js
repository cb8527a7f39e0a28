// What the feed and the post screen share: the vocabulary of posts (kinds,
// categories, statuses) and the post card.
import { h } from './dom.js';
import { t, ago, tn, lang } from './i18n.js';
import { badge } from './ui.js';
import { gallery } from './photos.js';
import { avatar } from './avatar.js';

/** categories are the post categories of the API. */
export const categories = ['babysitting', 'repairs', 'dog_walking', 'lending', 'errands', 'company', 'lessons', 'gardening', 'transport', 'other'];
/** kinds are request and offer. */
export const kinds = ['request', 'offer'];
/** statuses a feed can be filtered by. */
export const statuses = ['open', 'matched', 'done', 'closed'];

/** norm gives a post from the API or from an event one shape. */
export function norm(p) {
  const author = p.author || {};
  return {
    ...p,
    author_id: p.author_id || author.id || '',
    author_name: p.author_deleted ? t('post.author_deleted') : (p.author_name || author.name || ''),
    reply_count: p.reply_count ?? p.replies_count ?? (Array.isArray(p.replies) ? p.replies.length : undefined),
    on_behalf_of: p.on_behalf_of || (p.on_behalf && p.on_behalf.member_name) || '',
  };
}

/** order sorts pinned posts first, then newest first. */
export function order(a, b) {
  if (!!a.pinned !== !!b.pinned) return a.pinned ? -1 : 1;
  return String(b.created_at || '').localeCompare(String(a.created_at || ''));
}

/** kindBadge labels a post as a request or an offer. */
export function kindBadge(kind) {
  return badge(t(`kind.${kind}`), `kind-${kind}`);
}

/** statusBadge labels a post's status (nothing for open). */
export function statusBadge(status) {
  if (!status || status === 'open') return null;
  return badge(t(`status.${status}`), `status-${status}`);
}

/** windowText says when help is wanted: "sab 12 ott, 10:00 – 12:00". */
export function windowText(w) {
  if (!w || !w.from) return '';
  const from = new Date(w.from);
  const to = w.to ? new Date(w.to) : null;
  const fmt = new Intl.DateTimeFormat(lang(), { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
  if (!to) return fmt.format(from);
  const sameDay = from.toDateString() === to.toDateString();
  const end = sameDay ? new Intl.DateTimeFormat(lang(), { hour: '2-digit', minute: '2-digit' }).format(to) : fmt.format(to);
  return `${fmt.format(from)} – ${end}`;
}

/** card is a post in a list. pending marks one still in the outbox. */
export function card(p, { pending = false } = {}) {
  const title = pending ? h('span', null, p.title) : h('a', { href: `/posts/${p.id}` }, p.title);
  const meta = [t(`category.${p.category}`)];
  if (p.author_name) meta.push(p.on_behalf_of ? t('post.onbehalf', { name: p.on_behalf_of }) : p.author_name);
  if (p.when && p.when.from) meta.push(windowText(p.when));
  if (p.created_at) meta.push(ago(p.created_at));
  if (p.reply_count !== undefined && !pending) meta.push(tn('post.replies', p.reply_count));
  return h('li', {
    class: `card post kind-${p.kind}${p.pinned ? ' pinned' : ''}${pending ? ' pending' : ''}`,
    'data-post-id': pending ? null : p.id,
    'data-outbox-key': pending ? p.key : null,
    'data-status': p.status || null,
  },
  h('p', { class: 'tags' }, kindBadge(p.kind), p.pinned ? badge(t('post.pinned'), 'pin') : null, statusBadge(p.status),
    p.urgent ? badge(t('post.urgent'), 'danger') : null, pending ? badge(t('outbox.waiting'), 'warn') : null),
  h('h2', { class: 'post-title' }, title),
  p.body ? h('p', { class: 'excerpt' }, p.body) : null,
  pending ? null : gallery(p.photos, { small: true }),
  h('p', { class: 'meta' }, p.author_id && !p.author_deleted && !p.on_behalf_of && !pending ? avatar(p.author_id, p.author_name) : null,
    meta.join(' · ')));
}
