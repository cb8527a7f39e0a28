// Writing a request or an offer. Offline, the post goes to the outbox and
// is sent when the connection is back; online or not it carries one
// idempotency key per form, so a double tap or a retry posts once.
import { h, mount } from './dom.js';
import { t } from './i18n.js';
import * as api from './api.js';
import * as session from './session.js';
import * as outbox from './outbox.js';
import { navigate } from './router.js';
import { categories, kinds } from './posts.js';
import { picker } from './photos.js';
import { field, heading, radios, submitting, toast, values } from './ui.js';

/** postFields are the inputs of a new post, shared with assisted posting. */
export function postFields(kind) {
  return [
    radios({ legend: t('post.kind'), name: 'kind', value: kind, options: kinds.map((k) => [k, t(`kind.${k}.long`)]) }),
    field({ label: t('post.category'), name: 'category', type: 'select', required: true, value: '', options: [['', t('post.category.choose')], ...categories.map((c) => [c, t(`category.${c}`)])] }),
    field({ label: t('post.title'), name: 'title', required: true, maxlength: 120, hint: t('post.title.hint') }),
    field({ label: t('post.body'), name: 'body', type: 'textarea', required: true, maxlength: 4000, rows: 6, hint: t('post.body.hint') }),
    h('fieldset', { class: 'stack when-fields' }, h('legend', null, t('post.when.optional')),
      h('p', { class: 'hint' }, t('post.when.hint')),
      field({ label: t('post.when.from'), name: 'when.from', type: 'datetime-local' }),
      field({ label: t('post.when.to'), name: 'when.to', type: 'datetime-local' })),
  ];
}

/** postBody turns the form's values into the API's body. */
export function postBody(v) {
  const body = { kind: v.kind, category: v.category, title: v.title, body: v.body };
  if (v['when.from']) {
    const from = new Date(v['when.from']);
    const to = v['when.to'] ? new Date(v['when.to']) : new Date(from.getTime() + 2 * 3600000);
    body.when = { from: from.toISOString(), to: to.toISOString() };
  }
  return body;
}

/** check validates a post in the page, as the server would. */
export function check(v) {
  const fields = {};
  if (!v.category) fields.category = 'required';
  if (!v.title) fields.title = 'required';
  if (!v.body) fields.body = 'required';
  if (!v['when.from'] && v['when.to']) fields['when.from'] = 'required';
  if (v['when.from'] && v['when.to'] && new Date(v['when.to']) <= new Date(v['when.from'])) fields['when.to'] = 'invalid';
  if (Object.keys(fields).length) throw new api.ApiError(422, 'validation_failed', fields);
}

/** render is the new-post screen of street ctx.params.sid. */
export function render(ctx) {
  const sid = ctx.params.sid;
  const kind = ctx.query.get('kind') === 'offer' ? 'offer' : 'request';
  const idem = api.key();
  let form = null;
  // Up to 4 photos; their alt text starts as the post's title.
  const photos = picker({ sid, max: 4, name: 'photos', title: () => (form ? form.elements.title.value.trim() : '') });
  form = h('form', { class: 'stack card', id: 'post-form', novalidate: true },
    ...postFields(kind),
    photos.el,
    h('button', { type: 'submit', class: 'btn primary wide' }, t('post.publish')));
  form.elements.title.addEventListener('input', () => photos.retitle());
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const v = values(form);
      check(v);
      photos.check();
      const body = postBody(v);
      const pics = photos.value();
      if (pics.length) body.photos = pics;
      const queue = async () => {
        await outbox.add({ key: idem, kind: 'post', path: `/streets/${sid}/posts`, body, street: sid, user: session.state.user.id });
        toast(t('outbox.queued'));
        await navigate(`/streets/${sid}`);
      };
      if (!navigator.onLine) return queue();
      try {
        const p = await api.post(`/streets/${sid}/posts`, body, { headers: { 'Idempotency-Key': idem } });
        toast(t('post.published'));
        await navigate(`/posts/${p.id}`);
      } catch (err) {
        if (err instanceof api.ApiError && err.offline) return queue();
        throw err;
      }
      return undefined;
    });
  });
  const s = session.street(sid);
  mount(ctx.main,
    heading(kind === 'offer' ? t('post.new.offer') : t('post.new.request'), s ? h('p', { class: 'lead' }, s.name) : null),
    h('p', null, t('post.new.lead')),
    form);
}
