// The banner asking a signed-in resident to confirm their email address,
// with "send the link again". It is a status region drawn only when what it
// says changes (not on every screen), so a screen reader announces it once;
// closed, it stays away until the browser tab is closed.
import { h, mount } from './dom.js';
import { t, lang } from './i18n.js';
import * as api from './api.js';
import * as session from './session.js';

const CLOSED = 'civico.verify.closed';
// Screens where the banner would only get in the way: the link's own.
const quiet = new Set(['/verify', '/reset']);

let shown = '';
let sent = false;

function closedFor(id) {
  try {
    return sessionStorage.getItem(CLOSED) === id;
  } catch {
    return false;
  }
}

function close(id) {
  try {
    sessionStorage.setItem(CLOSED, id);
  } catch {
    // Without storage it closes for this page only.
  }
  shown = '';
  draw();
}

/** draw shows or hides the banner for the current user and screen. */
export function draw() {
  const box = document.getElementById('verify-banner');
  if (!box) return;
  const me = session.signedIn() ? session.state.me : null;
  // Only an explicit false: a saved offline copy or an older server say
  // nothing about it, and nothing should be asked then.
  const ask = !!me && me.email_verified === false && !closedFor(me.id) && !quiet.has(location.pathname);
  if (!ask) {
    if (shown) mount(box);
    shown = '';
    sent = false;
    box.hidden = true;
    return;
  }
  const address = me.pending_email || me.email || '';
  const key = [me.id, address, lang(), sent].join('|');
  if (key === shown) return;
  shown = key;
  const again = h('button', { type: 'button', class: 'btn small', id: 'verify-again' }, t('verify.banner.again'));
  again.addEventListener('click', async () => {
    if (again.disabled) return;
    again.disabled = true;
    again.setAttribute('aria-busy', 'true');
    try {
      await api.post('/me/email/verification');
      sent = true;
      draw();
      // The button is gone: keep the keyboard in the banner.
      document.getElementById('verify-close')?.focus();
    } catch (err) {
      again.disabled = false;
      again.removeAttribute('aria-busy');
      mount(box.querySelector('.banner-text'), api.message(err));
    }
  });
  const hide = h('button', { type: 'button', class: 'btn small ghost', id: 'verify-close' }, t('verify.banner.close'));
  hide.addEventListener('click', () => close(me.id));
  mount(box,
    h('p', { class: 'banner-text' }, sent ? t('verify.banner.sent', { email: address }) : t('verify.banner.text', { email: address })),
    h('div', { class: 'banner-actions' }, sent ? null : again, hide));
  box.hidden = false;
}
