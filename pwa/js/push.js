// Web push on this device: permission is asked only from a button the user
// pressed after reading why; the subscription is sent to the server.
import * as api from './api.js';

/** supported says whether this browser can receive pushes. */
export function supported() {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

/** permission is 'default', 'granted' or 'denied' ('unsupported' when none). */
export function permission() {
  return supported() ? Notification.permission : 'unsupported';
}

function bytes(b64url) {
  const pad = '='.repeat((4 - (b64url.length % 4)) % 4);
  const raw = atob((b64url + pad).replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

/** subscription is this device's push subscription, or null. */
export async function subscription() {
  if (!supported()) return null;
  const reg = await navigator.serviceWorker.getRegistration();
  return reg ? reg.pushManager.getSubscription() : null;
}

/** endpoint is this device's push endpoint, or ''. */
export async function endpoint() {
  try {
    const sub = await subscription();
    return sub ? sub.endpoint : '';
  } catch {
    return '';
  }
}

/**
 * enable asks for permission (call it straight from a click), subscribes
 * and registers the subscription. It resolves to the permission.
 */
export async function enable() {
  const perm = await Notification.requestPermission();
  if (perm !== 'granted') return perm;
  const reg = await navigator.serviceWorker.ready;
  let sub = await reg.pushManager.getSubscription();
  if (!sub) {
    const { key } = await api.get('/push/vapid-public-key', undefined, { auth: false });
    sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: bytes(key) });
  }
  const json = sub.toJSON();
  await api.post('/push/subscriptions', { endpoint: json.endpoint, keys: { p256dh: json.keys.p256dh, auth: json.keys.auth } });
  return perm;
}

/** disable stops pushes to this device. */
export async function disable() {
  const sub = await subscription();
  if (!sub) return;
  try {
    await api.del('/push/subscriptions', { endpoint: sub.endpoint });
  } finally {
    await sub.unsubscribe();
  }
}
