// Sharing a link: the phone's own share sheet where the browser has one
// (navigator.share: WhatsApp, Telegram, mail, …), else the link is copied
// and the app says so ("link copied"); where copying is refused too, the
// link is shown, selected, for the person to copy by hand.
import { h } from './dom.js';
import { t } from './i18n.js';
import { toast } from './ui.js';

/**
 * share offers {url, title, text} to the share sheet, or copies url. It
 * resolves to 'shared', 'copied', 'cancelled' (the person closed the
 * sheet) or 'failed' (nothing worked: show the link).
 */
export async function share({ url, title, text }) {
  if (typeof navigator.share === 'function') {
    try {
      await navigator.share({ title, text, url });
      return 'shared';
    } catch (err) {
      if (err && err.name === 'AbortError') return 'cancelled';
      // Refused (no user gesture left, a type it cannot share): copy instead.
    }
  }
  try {
    await navigator.clipboard.writeText(url);
    toast(t('share.copied'));
    return 'copied';
  } catch {
    return 'failed';
  }
}

/**
 * shareButton is a button that shares a link. opts: url (a string, or a
 * function giving it when pressed), title, text, label (default "Share"),
 * id, cls (more classes), describedBy (the id of what it shares). When
 * nothing works the link appears under the button, selected.
 */
export function shareButton(opts) {
  const { title, text, label, id, cls = '', describedBy } = opts;
  const b = h('button', { type: 'button', class: `btn share ${cls}`.trim(), id, 'aria-describedby': describedBy || null }, label || t('share.button'));
  const wrap = h('span', { class: 'share-wrap' }, b);
  b.addEventListener('click', async () => {
    const url = typeof opts.url === 'function' ? opts.url() : opts.url;
    const res = await share({ url, title, text });
    if (res !== 'failed') return;
    let box = wrap.querySelector('.share-manual');
    if (!box) {
      box = h('input', { type: 'text', readonly: true, class: 'share-manual invite-link', 'aria-label': t('share.manual') });
      wrap.append(box);
    }
    box.value = url;
    box.focus();
    box.select();
    toast(t('share.manual'));
  });
  return wrap;
}
