// Photos on posts, replies and events: picked from the camera or the
// gallery, made small on the phone before they leave it, uploaded, and
// shown as thumbnails that open large.
//
// Size. A phone's 12 MP photo is 3–6 MB; redrawn on a canvas with its
// longest side at 1600 px and saved as a JPEG at 0.82 it is 200–400 KB, the
// size the server keeps anyway. The redraw also drops every metadata block
// (EXIF GPS included) before the bytes leave the phone; the server strips
// them again, whatever client sent the file.
//
// Showing them. The images are the street's, for its members only: the
// server answers them only with the access token in an Authorization
// header. An <img src> cannot send that header (the token lives in memory,
// the refresh cookie is HttpOnly and scoped to the auth routes), so each
// image is fetched with the token, as a Blob, and shown through an object
// URL (the CSP allows blob: images). Politely: a thumbnail is fetched only
// when it comes near the screen (IntersectionObserver, the same promise as
// loading="lazy", which the <img> also carries), each URL once per page
// life (a small LRU of object URLs, revoked when dropped), and the server's
// Cache-Control: private with an ETag lets the browser's own cache answer
// or revalidate with a 304 when the page is opened again. The <img> has its
// width and height from the start, so nothing jumps when the bytes arrive.
import { h, mount, uid } from './dom.js';
import { t } from './i18n.js';
import * as api from './api.js';
import * as session from './session.js';
import { toast } from './ui.js';

/** Longest side and JPEG quality of what is uploaded. */
export const MAX_SIDE = 1600;
export const QUALITY = 0.82;
const THUMB_SIDE = 400;

// decode reads an image file into something a canvas can draw, turned the
// way the camera meant (EXIF orientation), without keeping the file's
// metadata.
async function decode(file) {
  if (window.createImageBitmap) {
    try {
      return await createImageBitmap(file, { imageOrientation: 'from-image' });
    } catch {
      // Some browsers refuse the options, or the format: try an <img>.
    }
  }
  const src = URL.createObjectURL(file);
  try {
    const img = new Image();
    img.decoding = 'async';
    img.src = src;
    await img.decode();
    return img;
  } finally {
    URL.revokeObjectURL(src);
  }
}

/**
 * shrink redraws an image file as a JPEG whose longest side is at most
 * MAX_SIDE, at QUALITY. It rejects with ApiError photo_unreadable when the
 * phone cannot read the file (not an image, or a format it cannot decode).
 */
export async function shrink(file) {
  let img;
  try {
    img = await decode(file);
  } catch {
    throw new api.ApiError(422, 'photo_unreadable');
  }
  const w0 = img.width || img.naturalWidth;
  const h0 = img.height || img.naturalHeight;
  if (!w0 || !h0) throw new api.ApiError(422, 'photo_unreadable');
  const scale = Math.min(1, MAX_SIDE / Math.max(w0, h0));
  const w = Math.max(1, Math.round(w0 * scale));
  const hh = Math.max(1, Math.round(h0 * scale));
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = hh;
  const g = canvas.getContext('2d');
  // A transparent PNG would turn black in a JPEG: paint it on white.
  g.fillStyle = '#fff';
  g.fillRect(0, 0, w, hh);
  g.imageSmoothingQuality = 'high';
  g.drawImage(img, 0, 0, w, hh);
  if (img.close) img.close();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', QUALITY));
  if (!blob) throw new api.ApiError(422, 'photo_unreadable');
  return { blob, width: w, height: hh };
}

/** upload sends a (shrunk) image to street sid: {id,url,thumb_url,width,height}. */
export async function upload(sid, blob) {
  const form = new FormData();
  form.append('file', blob, 'photo.jpg');
  return api.request('POST', `/streets/${sid}/photos`, { data: form });
}

// The object URLs of images already fetched, newest last.
const cache = new Map();
const CACHE_MAX = 80;
const inflight = new Map();

async function objectURL(path) {
  if (cache.has(path)) {
    const u = cache.get(path);
    cache.delete(path);
    cache.set(path, u);
    return u;
  }
  if (!inflight.has(path)) {
    inflight.set(path, api.file(path, undefined, 'image/*').then((blob) => {
      const u = URL.createObjectURL(blob);
      cache.set(path, u);
      while (cache.size > CACHE_MAX) {
        const [old, ou] = cache.entries().next().value;
        cache.delete(old);
        // An <img> that already shows it keeps its decoded pixels.
        URL.revokeObjectURL(ou);
      }
      return u;
    }).finally(() => inflight.delete(path)));
  }
  return inflight.get(path);
}

// Signed out: forget the images, so the next person on this phone does not
// get them from memory.
session.events.addEventListener('change', () => {
  if (session.signedIn()) return;
  for (const u of cache.values()) URL.revokeObjectURL(u);
  cache.clear();
});

function show(img, path) {
  if (!path) return;
  objectURL(path).then((u) => {
    img.src = u;
  }).catch(() => {
    img.classList.add('broken');
  });
}

let observer = null;
function watch(img) {
  if (!('IntersectionObserver' in window)) {
    show(img, img.dataset.src);
    return;
  }
  if (!observer) {
    observer = new IntersectionObserver((entries) => {
      for (const e of entries) {
        if (!e.isIntersecting) continue;
        observer.unobserve(e.target);
        show(e.target, e.target.dataset.src);
      }
    }, { rootMargin: '300px 0px' });
  }
  observer.observe(img);
}

// thumbSize is the thumbnail's size from the photo's: the server makes
// thumbnails with their longest side at 400 px.
function thumbSize(p) {
  const w = Number(p.thumb_width) || 0;
  const hh = Number(p.thumb_height) || 0;
  if (w && hh) return [w, hh];
  const W = Number(p.width) || 4;
  const H = Number(p.height) || 3;
  const s = Math.min(1, THUMB_SIDE / Math.max(W, H));
  return [Math.round(W * s), Math.round(H * s)];
}

/** image is an <img> of path, fetched with the session once near the screen. */
export function image(path, { alt, width, height, cls = '' }) {
  const img = h('img', { alt: alt || '', width, height, loading: 'lazy', decoding: 'async', class: `photo-img ${cls}`.trim(), 'data-src': path });
  watch(img);
  return img;
}

/** open shows photo p large in a dialog. */
export function open(p) {
  const titleId = uid('photo');
  const close = h('button', { type: 'button', class: 'btn primary' }, t('action.close'));
  const img = h('img', { alt: p.alt || '', width: p.width || null, height: p.height || null, class: 'photo-large' });
  const dlg = h('dialog', { class: 'dialog photo-dialog', 'aria-labelledby': titleId },
    h('h2', { id: titleId, class: 'sr-only' }, t('photo.large')),
    h('figure', null, img, p.alt ? h('figcaption', null, p.alt) : null),
    h('div', { class: 'actions' }, close));
  close.addEventListener('click', () => dlg.close());
  dlg.addEventListener('close', () => dlg.remove());
  document.body.appendChild(dlg);
  dlg.showModal();
  close.focus();
  show(img, p.url || p.thumb_url);
}

/**
 * gallery shows photos (each {id,alt,url,thumb_url,width,height}) as
 * thumbnails; each is a button that opens it large. small makes them
 * smaller (the feed's cards).
 */
export function gallery(photos, { small = false } = {}) {
  const list = (photos || []).filter((p) => p && (p.thumb_url || p.url));
  if (!list.length) return null;
  return h('ul', { class: `photos${small ? ' small' : ''}`, 'aria-label': t('photo.list') },
    list.map((p) => {
      const [w, hh] = thumbSize(p);
      const b = h('button', { type: 'button', class: 'photo-open', 'aria-haspopup': 'dialog', title: t('photo.open') },
        image(p.thumb_url || p.url, { alt: p.alt || t('photo.noalt'), width: w, height: hh }));
      b.addEventListener('click', () => open(p));
      return h('li', { 'data-photo-id': p.id || null }, b);
    }));
}

/**
 * picker is the photo part of a form: a button opening the camera or the
 * gallery, a preview of each picked photo with its alt text (required,
 * prefilled with the post's title while the user has not written one),
 * and a button to remove it. Photos upload as soon as they are picked, so
 * publishing waits only for the last one.
 * opts: sid, max (4 on a post, 1 on a reply), title() (the current title,
 * for the alt text), name (a prefix for the fields), initial (the photos
 * already there when editing: shown with their alt text, removable).
 * It returns {el, value(): [{id,alt}], pending(): bool, retitle(), reset(), check()}.
 */
export function picker({ sid, max = 4, title = () => '', name = 'photos', initial = [] }) {
  const items = []; // {key, id, alt, edited, li, input}
  const hintId = uid(`${name}-hint`);
  const errId = `${hintId}-err`;
  // Two ways in: the camera straight away (capture), or the gallery. One
  // input with capture would open only the camera on most phones.
  const camera = h('input', { type: 'file', accept: 'image/*', capture: 'environment', hidden: true, class: 'file-camera', tabindex: '-1' });
  const gallery = h('input', { type: 'file', accept: 'image/*', hidden: true, class: 'file-gallery', tabindex: '-1', multiple: max > 1 ? true : null });
  const shoot = h('button', { type: 'button', class: 'btn ghost photo-camera', 'aria-describedby': `${hintId} ${errId}` }, t('photo.camera'));
  const choose = h('button', { type: 'button', class: 'btn ghost photo-gallery', 'aria-describedby': `${hintId} ${errId}` }, max > 1 ? t('photo.gallery.many', { max }) : t('photo.gallery.one'));
  shoot.addEventListener('click', () => camera.click());
  choose.addEventListener('click', () => gallery.click());
  const buttons = h('div', { class: 'actions photo-buttons' }, shoot, choose);
  const list = h('ul', { class: 'photo-previews' });
  const err = h('p', { class: 'field-error', id: errId, hidden: true, role: 'alert' });
  const status = h('p', { class: 'sr-only', 'aria-live': 'polite' });
  const el = h('fieldset', { class: 'photo-picker stack' },
    h('legend', null, max > 1 ? t('photo.legend.many', { max }) : t('photo.legend.one')),
    h('p', { class: 'hint', id: hintId }, t('photo.hint')),
    camera, gallery, buttons, list, err, status);

  const refresh = () => {
    buttons.hidden = items.length >= max;
  };
  const fail = (text) => {
    err.textContent = text;
    err.hidden = !text;
  };
  const drop = (it) => {
    const i = items.indexOf(it);
    if (i >= 0) items.splice(i, 1);
    it.li.remove();
    refresh();
    // A photo already on the post goes only when the form is saved.
    status.textContent = t(it.current ? 'photo.removed.onsave' : 'photo.removed');
    (buttons.hidden ? list : choose).focus?.();
  };

  // row puts item it in the list: its preview, its alt text, its state
  // and a button to remove it.
  const row = (it, preview, state) => {
    const altId = uid(`${name}-alt`);
    it.input = h('input', { type: 'text', id: altId, name: `${name}.alt.${it.key}`, required: true, maxlength: 200, value: it.alt, 'aria-describedby': `${altId}-hint` });
    it.input.addEventListener('input', () => {
      it.edited = true;
      it.alt = it.input.value.trim();
      it.input.removeAttribute('aria-invalid');
    });
    const remove = h('button', { type: 'button', class: 'btn ghost small photo-remove' }, t('photo.remove'));
    remove.addEventListener('click', () => drop(it));
    it.li = h('li', { class: 'photo-item card' },
      preview,
      h('div', { class: 'field stack-tight' },
        h('label', { for: altId }, t('photo.alt'), h('span', { class: 'req' }, ` (${t('form.required')})`)),
        h('p', { class: 'hint', id: `${altId}-hint` }, t('photo.alt.hint')),
        it.input, state, remove));
    if (it.id) it.li.dataset.photoId = it.id;
    items.push(it);
    list.append(it.li);
  };
  for (const p of initial.slice(0, max)) {
    const preview = h('img', { alt: '', class: 'photo-preview', width: 96, height: 96 });
    show(preview, p.thumb_url || p.url);
    row({ key: uid('ph'), id: p.id, alt: p.alt || '', edited: true, uploading: false, current: true }, preview, h('p', { class: 'meta photo-state' }, t('photo.current')));
  }
  refresh();

  const add = async (file) => {
    const it = { key: uid('ph'), id: '', alt: title(), edited: false, uploading: true };
    const preview = h('img', { alt: '', class: 'photo-preview', width: 96, height: 96 });
    const state = h('p', { class: 'meta photo-state' }, t('photo.uploading'));
    row(it, preview, state);
    refresh();
    status.textContent = t('photo.uploading');
    try {
      const { blob } = await shrink(file);
      const local = URL.createObjectURL(blob);
      preview.src = local;
      preview.addEventListener('load', () => URL.revokeObjectURL(local), { once: true });
      if (!navigator.onLine) throw new api.ApiError(0, 'offline');
      const res = await upload(sid, blob);
      if (!items.includes(it)) return; // removed while uploading
      it.id = res.id;
      it.uploading = false;
      it.li.dataset.photoId = res.id;
      state.textContent = t('photo.ready', { kb: Math.max(1, Math.round(blob.size / 1024)) });
      status.textContent = t('photo.uploaded');
    } catch (e) {
      if (items.includes(it)) drop(it);
      fail(e instanceof api.ApiError && e.offline ? t('photo.offline') : api.message(e));
    }
  };

  const picked = async (input) => {
    fail('');
    const files = [...(input.files || [])];
    input.value = '';
    const room = max - items.length;
    if (files.length > room) toast(t('photo.toomany', { max }), 'error');
    await Promise.all(files.slice(0, Math.max(0, room)).map(add));
  };
  camera.addEventListener('change', () => picked(camera));
  gallery.addEventListener('change', () => picked(gallery));

  return {
    el,
    /** value is what the API takes: [{id, alt}]. */
    value: () => items.filter((it) => it.id).map((it) => ({ id: it.id, alt: it.input.value.trim() })),
    /** pending says whether a photo is still on its way. */
    pending: () => items.some((it) => it.uploading),
    /** retitle puts the new title into the alt texts the user has not written. */
    retitle: () => {
      for (const it of items) if (!it.edited) it.input.value = title();
    },
    /** check throws a validation error when an alt text is missing or one is uploading. */
    check: () => {
      if (items.some((it) => it.uploading)) throw new api.ApiError(422, 'photo_uploading');
      const missing = items.find((it) => !it.input.value.trim());
      if (missing) {
        missing.input.setAttribute('aria-invalid', 'true');
        missing.input.focus();
        throw new api.ApiError(422, 'validation_failed', { [missing.input.name]: 'required' });
      }
    },
    reset: () => {
      for (const it of [...items]) it.li.remove();
      items.length = 0;
      fail('');
      refresh();
    },
  };
}
