// Shared pieces of every screen: loading, empty and error states, form
// fields with their error messages, dialogs asking for a reason, toasts.
import { h, mount, uid } from './dom.js';
import { t } from './i18n.js';
import { ApiError, message, fieldMessage } from './api.js';
import { dateTime } from './datetime.js';

/** loading is the state shown while something loads. */
export function loading(text) {
  return h('p', { class: 'state loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text || t('state.loading'));
}

/** empty is the state of a list with nothing in it, with an optional action. */
export function empty(text, action) {
  return h('div', { class: 'state empty' }, h('p', null, text), action || null);
}

/** failure shows what went wrong, with a retry button when retry is given. */
export function failure(err, retry) {
  return h('div', { class: 'state error', role: 'alert' },
    h('p', null, message(err)),
    retry ? h('button', { type: 'button', class: 'btn', onclick: retry }, t('action.retry')) : null);
}

/** page is a screen's heading and intro. */
export function heading(title, ...after) {
  return h('div', { class: 'heading' }, h('h1', { tabindex: '-1' }, title), ...after);
}

let toastTimer = 0;

// typingIn is the field being written in, if any: the toast must never
// cover it (on a phone the keyboard brings it down to where the toast is).
function typingIn() {
  const a = document.activeElement;
  if (!a || a === document.body) return null;
  if (a.matches('textarea, select, [contenteditable=""], [contenteditable="true"]')) return a;
  if (a.matches('input') && !['checkbox', 'radio', 'button', 'submit', 'reset', 'file', 'range', 'color'].includes(a.type)) return a;
  return null;
}

// placeToast puts the toast at the bottom, or at the top when at the
// bottom it would cover the field being written in (whichever covers less
// when a tall field spans both).
function placeToast() {
  const el = document.getElementById('toast');
  if (!el || !el.classList.contains('show')) return;
  const f = typingIn();
  if (!f) {
    el.classList.remove('top');
    return;
  }
  const r = f.getBoundingClientRect();
  const vh = window.visualViewport ? window.visualViewport.height : document.documentElement.clientHeight;
  const margin = 24; // the toast's offset from the edge, and some air
  const band = el.offsetHeight + margin;
  const overlap = (from, to) => Math.max(0, Math.min(r.bottom, to) - Math.max(r.top, from));
  const below = overlap(vh - band, vh);
  const above = overlap(0, band);
  el.classList.toggle('top', below > 0 && above < below);
}

// What can bring a field under the toast while it shows.
const moves = ['focusin', 'focusout', 'scroll', 'resize'];
function followFocus(on) {
  for (const type of moves) {
    if (on) window.addEventListener(type, placeToast, { passive: true, capture: true });
    else window.removeEventListener(type, placeToast, { capture: true });
  }
  if (window.visualViewport) {
    if (on) window.visualViewport.addEventListener('resize', placeToast);
    else window.visualViewport.removeEventListener('resize', placeToast);
  }
}

/**
 * toast says something briefly, to screen readers too. It stays clear of
 * the field being written in, and moves when one is focused or scrolled
 * under it.
 */
export function toast(text, kind = 'info') {
  const el = document.getElementById('toast');
  el.textContent = text;
  el.dataset.kind = kind;
  el.classList.add('show');
  placeToast();
  followFocus(true);
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    followFocus(false);
    el.classList.remove('show', 'top');
    el.textContent = '';
  }, 6000);
}

/**
 * field is a labelled control with a hint and an error slot.
 * opts: label, name, type (text, email, password, textarea, select, …),
 * value, required, options ([[value, label]]), hint, and any attribute.
 */
export function field(opts) {
  const { label, name, type = 'text', value, options, hint, required, ...attrs } = opts;
  const id = uid(`f-${name}`);
  const hintId = hint ? `${id}-hint` : null;
  const errId = `${id}-err`;
  const describedBy = [hintId, errId].filter(Boolean).join(' ');
  let control;
  const common = { id, name, required: required || null, 'aria-describedby': describedBy, ...attrs };
  const req = required ? h('span', { class: 'req' }, ` (${t('form.required')})`) : null;
  if (type === 'date' || type === 'time' || type === 'datetime-local') {
    // The app's own date and time fields: the browser's follow its locale, not the app's.
    control = dateTime({ kind: type, id, name, required, describedBy, value, attrs });
    const hintEl = hint ? h('p', { class: 'hint', id: hintId }, hint) : null;
    const err = h('p', { class: 'field-error', id: errId, hidden: true });
    if (type === 'datetime-local') return h('fieldset', { class: 'field field-datetime' }, h('legend', null, label, req), hintEl, control, err);
    return h('div', { class: `field field-${type}` }, h('label', { for: id }, label, req), hintEl, control, err);
  }
  if (type === 'textarea') {
    control = h('textarea', { rows: 4, ...common });
    if (value !== undefined) control.value = value;
  } else if (type === 'select') {
    control = h('select', common, (options || []).map(([v, l]) => h('option', { value: v, selected: String(v) === String(value ?? '') }, l)));
  } else {
    control = h('input', { type, ...common, value: value ?? null });
  }
  return h('div', { class: `field field-${type}` },
    h('label', { for: id }, label, req),
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    control,
    h('p', { class: 'field-error', id: errId, hidden: true }));
}

/** check is a labelled checkbox. */
export function check({ label, name, checked, value, hint }) {
  const id = uid(`c-${name}`);
  return h('div', { class: 'check' },
    h('input', { type: 'checkbox', id, name, checked: !!checked, value: value ?? null }),
    h('label', { for: id }, label, hint ? h('span', { class: 'hint' }, hint) : null));
}

/**
 * radios is a group of labelled radio buttons in a fieldset, with an
 * optional hint; stacked puts one choice under the other (long labels).
 */
export function radios({ legend, name, value, options, hint, stacked }) {
  const hintId = hint ? uid(`h-${name}`) : null;
  return h('fieldset', { class: stacked ? 'radios stacked' : 'radios', 'aria-describedby': hintId }, h('legend', null, legend),
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    options.map(([v, l]) => {
      const id = uid(`r-${name}`);
      return h('div', { class: 'radio' }, h('input', { type: 'radio', id, name, value: v, checked: v === value }), h('label', { for: id }, l));
    }));
}

/** clearErrors hides a form's error messages. */
export function clearErrors(form) {
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  for (const el of form.querySelectorAll('.field-error')) {
    el.hidden = true;
    el.textContent = '';
  }
  const box = form.querySelector('.form-error');
  if (box) box.remove();
}

/** showErrors puts err's message on the form and each field's next to it. */
export function showErrors(form, err) {
  clearErrors(form);
  let focus = null;
  for (const [name, code] of Object.entries((err && err.fields) || {})) {
    const control = form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (!control) continue;
    control.setAttribute('aria-invalid', 'true');
    const slot = control.closest('.field')?.querySelector('.field-error');
    if (slot) {
      slot.textContent = fieldMessage(code);
      slot.hidden = false;
    }
    focus = focus || control;
  }
  const box = h('div', { class: 'form-error', role: 'alert', tabindex: '-1' }, message(err));
  form.prepend(box);
  (focus || box).focus();
}

/**
 * submitting runs fn while the form's buttons are disabled, so a double tap
 * sends once; errors are shown on the form. It resolves to fn's result, or
 * undefined when fn failed.
 */
export async function submitting(form, fn) {
  const buttons = [...form.querySelectorAll('button')];
  if (form.dataset.busy) return undefined;
  form.dataset.busy = '1';
  form.setAttribute('aria-busy', 'true');
  for (const b of buttons) b.disabled = true;
  clearErrors(form);
  try {
    return await fn();
  } catch (err) {
    if (err && err.name === 'AbortError') return undefined;
    showErrors(form, err);
    return undefined;
  } finally {
    delete form.dataset.busy;
    form.removeAttribute('aria-busy');
    for (const b of buttons) b.disabled = false;
  }
}

/** busy runs fn with button disabled; errors become a toast. */
export async function busy(button, fn) {
  if (button.disabled) return undefined;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } catch (err) {
    if (err && err.name !== 'AbortError') toast(message(err), 'error');
    return undefined;
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

/**
 * values reads a form's named controls into an object (checkboxes as
 * booleans). A date or a time that cannot be read is refused here, as a
 * field error, rather than sent as nothing.
 */
export function values(form) {
  const out = {};
  const bad = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled) continue;
    if (el.badInput && typeof el.badInput === 'string') bad[el.name] = el.badInput;
    if (el.type === 'checkbox') out[el.name] = el.checked;
    else if (el.type === 'radio') {
      if (el.checked) out[el.name] = el.value;
    } else out[el.name] = el.value.trim();
  }
  if (Object.keys(bad).length) throw new ApiError(422, 'validation_failed', bad);
  return out;
}

/**
 * ask opens a modal dialog with a text field (a reason) and resolves to the
 * text, or null when cancelled. opts: title, text, label, confirm, required,
 * danger, choices ([[value,label]] shown as radios, resolved as {choice, text}).
 */
export function ask(opts) {
  return new Promise((resolve) => {
    const form = h('form', { method: 'dialog', class: 'stack' });
    const title = h('h2', { id: uid('dlg') }, opts.title);
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': title.id }, form);
    const choice = opts.choices ? radios({ legend: opts.choicesLegend || opts.title, name: 'choice', value: opts.choices[0][0], options: opts.choices }) : null;
    const type = opts.type || 'textarea';
    const reason = opts.label ? field({ label: opts.label, name: 'text', type, required: opts.required, maxlength: opts.maxlength || 500, rows: type === 'textarea' ? 3 : null, hint: opts.hint, autocomplete: type === 'password' ? 'current-password' : null }) : null;
    const cancel = h('button', { type: 'button', class: 'btn ghost', value: 'cancel' }, t('action.cancel'));
    const ok = h('button', { type: 'submit', class: `btn ${opts.danger ? 'danger' : 'primary'}`, value: 'ok' }, opts.confirm || t('action.confirm'));
    mount(form, title, opts.text ? h('p', null, opts.text) : null, choice, reason, h('div', { class: 'actions' }, cancel, ok));
    let result = null;
    cancel.addEventListener('click', () => dlg.close());
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const v = values(form);
      if (opts.required && reason && !v.text) {
        showErrors(form, { fields: { text: 'required' } });
        return;
      }
      result = opts.choices ? { choice: v.choice, text: v.text || '' } : (reason ? v.text : true);
      dlg.close();
    });
    dlg.addEventListener('close', () => {
      dlg.remove();
      resolve(result);
    });
    document.body.appendChild(dlg);
    dlg.showModal();
    const first = dlg.querySelector('textarea, input');
    if (first) first.focus();
  });
}

/** badge is a small label; kind picks its colour. */
export function badge(text, kind = '') {
  return h('span', { class: `badge ${kind}` }, text);
}

/** tabs is a row of links for a screen's sections; current is the active href. */
export function tabs(label, items, current) {
  return h('nav', { class: 'tabs', 'aria-label': label },
    h('ul', null, items.map(([href, text]) => h('li', null,
      h('a', { href, 'aria-current': href === current ? 'page' : null }, text)))));
}

/** more is a "load more" button that calls fn, or nothing when there is no cursor. */
export function more(cursor, fn) {
  if (!cursor) return null;
  const b = h('button', { type: 'button', class: 'btn ghost more' }, t('action.more'));
  b.addEventListener('click', () => busy(b, () => fn(cursor)));
  return b;
}

/**
 * answerBox is a question answered with one tap (the warm hand-off's "how
 * did it go?", a referral's "did it help?"): a button per answer, the
 * likeliest first. chosen, one of answers, is an answer picked beforehand
 * (a notification's button, as ?answer=): its button is the primary one,
 * with a line asking to confirm it, and nothing is sent until a button is
 * tapped — anyone can send such a link. opts: answers, label(answer), ask
 * (the question), chosen, send(answer) (async), cls (the box's class, also
 * the prefix of the confirmation's: "<cls>-confirm"… for the hand-off,
 * "handoff-box" and "handoff-confirm"), before (nodes between question and
 * buttons).
 */
export function answerBox(opts) {
  const { answers, label, ask: question, chosen, send, cls = 'answer-box', confirmCls = 'answer-confirm', before } = opts;
  const picked = answers.includes(chosen) ? chosen : '';
  const askId = uid('answer-ask');
  const confirmId = uid('answer-confirm');
  const buttons = answers.map((a, i) => {
    const primary = picked ? a === picked : i === 0;
    const b = h('button', { type: 'button', class: primary ? 'btn primary' : 'btn', 'data-answer': a,
      'aria-describedby': a === picked ? `${askId} ${confirmId}` : null }, label(a));
    b.addEventListener('click', () => busy(b, () => send(a)));
    return b;
  });
  return h('div', { class: cls },
    h('p', { id: askId }, question),
    before || null,
    picked ? h('p', { id: confirmId, class: confirmCls }, t('handoff.confirm', { answer: label(picked) })) : null,
    h('div', { class: 'actions' }, buttons));
}

/** focusPicked focuses box's button for answer, once the router has settled the screen. */
export function focusPicked(ctx, box, answer) {
  const pick = answer && box.querySelector(`button[data-answer="${CSS.escape(answer)}"]`);
  // After the router has settled the screen (it focuses the heading).
  if (pick) setTimeout(() => { if (ctx.current() && pick.isConnected) pick.focus(); });
}
