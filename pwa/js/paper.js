// The street on paper: the board printed for the neighbours who never open
// the app (street admins, and the volunteers of a linked desk), an invite's
// flyer to cut in two, and its QR code to share in a chat. The API's files
// need the user's token, so they are fetched here and handed to the browser
// as object URLs, never as plain links.
import { h, uid } from './dom.js';
import { t, lang } from './i18n.js';
import * as api from './api.js';
import { busy, toast } from './ui.js';

/** slug makes a street's name fit a file name: "Via dell'Orsa" → "via-dell-orsa". */
export function slug(name) {
  const s = String(name || '').normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase()
    .replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60).replace(/-+$/, '');
  return s || 'civico';
}

// show saves a PDF, to open and print from the device's viewer.
function show(blob, filename) {
  // Saved, not opened in a tab: a tab opened from this page's object URL
  // inherits its security policy (object-src 'none'), which can leave the
  // browser's PDF viewer blank; a phone opens a saved PDF in its viewer.
  const pdf = blob.type ? blob : new Blob([blob], { type: 'application/pdf' });
  api.save(pdf, filename);
  toast(t('paper.saved', { file: filename }));
}

/**
 * boardButton is "print the board" for street sid (named name, for the
 * file): the street's open requests and offers on an A4 sheet, in the
 * app's language.
 */
export function boardButton(sid, name, attrs = {}) {
  const b = h('button', { type: 'button', class: 'btn ghost print-board', 'data-street-id': sid, ...attrs }, t('paper.board.print'));
  b.addEventListener('click', () => busy(b, async () => {
    const pdf = await api.file(`/streets/${sid}/board.pdf`, { lang: lang() }, 'application/pdf');
    show(pdf, t('paper.board.file', { street: slug(name) }));
  }));
  return b;
}

/** flyerButton is "print a flyer" for invite code of street sid. */
export function flyerButton(sid, code, name, attrs = {}) {
  const b = h('button', { type: 'button', class: 'btn ghost print-flyer', ...attrs }, t('paper.flyer.print'));
  b.addEventListener('click', () => busy(b, async () => {
    const pdf = await api.file(`/streets/${sid}/invites/${encodeURIComponent(code)}/flyer.pdf`, { lang: lang() }, 'application/pdf');
    show(pdf, t('paper.flyer.file', { street: slug(name) }));
  }));
  return b;
}

/** qrButton shows the QR code of invite code (whose link is link) in a dialog, to save or share. */
export function qrButton(sid, code, link, name, attrs = {}) {
  const b = h('button', { type: 'button', class: 'btn ghost show-qr', ...attrs }, t('paper.qr.show'));
  b.addEventListener('click', () => busy(b, async () => {
    const png = await api.file(`/streets/${sid}/invites/${encodeURIComponent(code)}/qr.png`, undefined, 'image/png');
    qrDialog(png, link, t('paper.qr.file', { street: slug(name) }), b);
  }));
  return b;
}

// qrDialog shows the QR code png with its link written out, and saves or
// shares it (as an image: a chat shows it, a phone's camera reads it).
function qrDialog(png, link, filename, opener) {
  const href = URL.createObjectURL(png);
  const title = h('h2', { id: uid('qr') }, t('paper.qr.title'));
  const img = h('img', { src: href, class: 'qr', width: 256, height: 256, alt: t('paper.qr.alt', { link }) });
  const file = typeof File === 'function' ? new File([png], filename, { type: png.type || 'image/png' }) : null;
  const canShare = !!(file && navigator.canShare && navigator.canShare({ files: [file] }));
  const share = canShare ? h('button', { type: 'button', class: 'btn', id: 'qr-share' }, t('admin.invite.share')) : null;
  const save = h('button', { type: 'button', class: 'btn', id: 'qr-save' }, t('paper.qr.save'));
  const close = h('button', { type: 'button', class: 'btn primary', id: 'qr-close' }, t('action.close'));
  const dlg = h('dialog', { class: 'dialog qr-dialog', 'aria-labelledby': title.id },
    h('div', { class: 'stack' }, title, h('p', null, t('paper.qr.text')), img, h('p', { class: 'meta qr-link' }, link),
      h('div', { class: 'actions' }, share, save, close)));
  if (share) share.addEventListener('click', () => navigator.share({ files: [file], title: t('paper.qr.title'), text: link }).catch(() => {}));
  save.addEventListener('click', () => api.save(png, filename));
  close.addEventListener('click', () => dlg.close());
  dlg.addEventListener('close', () => {
    dlg.remove();
    URL.revokeObjectURL(href);
    if (opener && opener.isConnected) opener.focus();
  });
  document.body.appendChild(dlg);
  dlg.showModal();
  close.focus();
}
