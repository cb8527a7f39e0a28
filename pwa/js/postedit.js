// Editing a post: its author changes the title, the text, the category or
// the photos of a request or an offer still open or matched (PATCH
// /posts/:pid); the neighbours' boards follow live. Anyone else, or a post
// already done, closed or removed, gets the post back instead.
import { h, mount } from './dom.js';
import { t } from './i18n.js';
import * as api from './api.js';
import * as session from './session.js';
import { navigate } from './router.js';
import { categories } from './posts.js';
import { picker } from './photos.js';
import { failure, field, heading, loading, submitting, toast, values } from './ui.js';

/** render is the edit screen of post ctx.params.pid. */
export async function render(ctx) {
  const pid = ctx.params.pid;
  mount(ctx.main, heading(t('post.edit.title')), loading());
  let post;
  try {
    post = await api.get(`/posts/${pid}`, undefined, { signal: ctx.signal });
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.current()) return;
    mount(ctx.main, heading(t('post.edit.title')), failure(err, () => render(ctx)));
    return;
  }
  if (!ctx.current()) return;
  const back = `/posts/${pid}`;
  if (post.author_id !== session.state.user.id || !['open', 'matched'].includes(post.status)) {
    mount(ctx.main, heading(t('post.edit.title')), h('p', { class: 'state' }, t('post.edit.not')),
      h('p', null, h('a', { href: back, class: 'btn' }, t('post.edit.back'))));
    return;
  }
  let form = null;
  // The photos already there, removable; new ones upload as on a new post.
  const photos = picker({ sid: post.street_id, max: 4, name: 'photos', initial: post.photos || [],
    title: () => (form ? form.elements.title.value.trim() : '') });
  form = h('form', { class: 'stack card', id: 'edit-post-form', novalidate: true },
    field({ label: t('post.category'), name: 'category', type: 'select', required: true, value: post.category,
      options: categories.map((c) => [c, t(`category.${c}`)]) }),
    field({ label: t('post.title'), name: 'title', required: true, maxlength: 120, value: post.title, hint: t('post.title.hint') }),
    field({ label: t('post.body'), name: 'body', type: 'textarea', required: true, maxlength: 4000, rows: 6, value: post.body || '' }),
    photos.el,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'btn primary' }, t('post.edit.save')),
      h('a', { href: back, class: 'btn ghost', id: 'edit-post-cancel' }, t('action.cancel'))));
  form.elements.title.addEventListener('input', () => photos.retitle());
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const v = values(form);
      const fields = {};
      if (!v.title) fields.title = 'required';
      if (!v.body) fields.body = 'required';
      if (Object.keys(fields).length) throw new api.ApiError(422, 'validation_failed', fields);
      photos.check();
      // Only what changed: an unchanged field is not rewritten.
      const change = {};
      for (const k of ['category', 'title', 'body']) if (v[k] !== (post[k] || '')) change[k] = v[k];
      const pics = photos.value();
      const before = (post.photos || []).map((p) => ({ id: p.id, alt: p.alt || '' }));
      if (JSON.stringify(pics) !== JSON.stringify(before)) {
        change.photos = pics;
        // What this form started from: photos changed on another device
        // meanwhile are not deleted unseen (409, and the form says so).
        change.photos_were = before.map((p) => p.id);
      }
      if (Object.keys(change).length) await api.patch(`/posts/${pid}`, change);
      toast(t('post.edit.saved'));
      await navigate(back, { replace: true });
    });
  });
  mount(ctx.main, heading(t('post.edit.title'), h('p', { class: 'lead' }, post.title)), form);
}
