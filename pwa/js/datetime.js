// Date and time fields in the app's language. The browser's own date and
// time inputs follow the browser's locale, not the app's: a phone set to
// English shows mm/dd/yyyy and a 12-hour clock to someone using Civico in
// Italian, and Chromium ignores the lang attribute on them. These are text
// fields the app labels, formats and reads itself. The form sees one
// control per name (a form-associated custom element) whose value is what
// a native input's would be (YYYY-MM-DD, HH:MM or YYYY-MM-DDTHH:MM), read
// and set the same way, so the screens using them did not change.
import { h, uid } from './dom.js';
import { t, lang } from './i18n.js';

const pad = (n) => String(n).padStart(2, '0');

// order is the app language's order of day, month and year, and the
// separator between them: the way the app writes a date is the way it asks
// for one.
function order() {
  const parts = new Intl.DateTimeFormat(lang(), { day: '2-digit', month: '2-digit', year: 'numeric' })
    .formatToParts(new Date(2001, 10, 23));
  const seq = parts.filter((p) => p.type === 'day' || p.type === 'month' || p.type === 'year').map((p) => p.type);
  const lit = parts.find((p) => p.type === 'literal');
  return { seq: seq.length === 3 ? seq : ['day', 'month', 'year'], sep: lit ? lit.value.trim() || '/' : '/' };
}

/** dateFormat is how a date is written in the app's language: "gg/mm/aaaa". */
export function dateFormat() {
  const { seq, sep } = order();
  return seq.map((p) => t(`datetime.${p}`)).join(sep);
}

/** formatDate writes YYYY-MM-DD in the app's language ("24/12/2030"). */
export function formatDate(iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || '');
  if (!m) return '';
  const v = { year: m[1], month: m[2], day: m[3] };
  const { seq, sep } = order();
  return seq.map((p) => v[p]).join(sep);
}

/** parseDate reads a date written in the app's language; '' when it is not one. */
export function parseDate(text) {
  const s = String(text || '').trim();
  if (!s) return '';
  const { seq } = order();
  let groups = s.split(/[^0-9]+/).filter(Boolean);
  if (groups.length === 1 && /^\d{8}$/.test(groups[0])) {
    // Typed without separators: two digits each, four for the year.
    let at = 0;
    groups = seq.map((p) => {
      const n = p === 'year' ? 4 : 2;
      const g = groups[0].slice(at, at + n);
      at += n;
      return g;
    });
  }
  if (groups.length !== 3) return '';
  const v = {};
  seq.forEach((p, i) => {
    v[p] = Number(groups[i]);
  });
  if (groups[seq.indexOf('year')].length === 2) v.year += 2000;
  if (groups[seq.indexOf('year')].length !== 4 && groups[seq.indexOf('year')].length !== 2) return '';
  if (v.month < 1 || v.month > 12 || v.day < 1) return '';
  if (v.day > new Date(v.year, v.month, 0).getDate()) return '';
  return `${String(v.year).padStart(4, '0')}-${pad(v.month)}-${pad(v.day)}`;
}

/** parseTime reads "19:30", "19.30", "1930" or "7:30 pm"; '' when it is not a time. */
export function parseTime(text) {
  const s = String(text || '').trim().toLowerCase().replace(/\s+/g, ' ');
  if (!s) return '';
  const m = /^(\d{1,2})(?:\s?[:.h]?\s?(\d{2}))?\s?(a\.?\s?m\.?|p\.?\s?m\.?)?$/.exec(s);
  if (!m) return '';
  let hour = Number(m[1]);
  const min = m[2] ? Number(m[2]) : 0;
  if (m[3]) {
    if (hour < 1 || hour > 12) return '';
    if (m[3].startsWith('p') && hour < 12) hour += 12;
    if (m[3].startsWith('a') && hour === 12) hour = 0;
  }
  if (hour > 23 || min > 59) return '';
  return `${pad(hour)}:${pad(min)}`;
}

/**
 * DateTimeField is the control a form sees: name, value (as a native
 * input's), focus (its first part to fix) and badInput (the field.* code
 * of a part that is not a date or a time, '' when none). Its parts are
 * plain text inputs with their own labels.
 */
class DateTimeField extends HTMLElement {
  static formAssociated = true;

  static observedAttributes = ['aria-invalid'];

  constructor() {
    super();
    this.internals = this.attachInternals();
    this.kind = 'datetime-local';
    this.date = null;
    this.time = null;
  }

  /** name is the form's name for the value. */
  get name() {
    return this.getAttribute('name') || '';
  }

  /** type is the native input type this field stands for. */
  get type() {
    return this.kind;
  }

  get parts() {
    return [this.date, this.time].filter(Boolean);
  }

  get value() {
    if (this.badInput) return '';
    const d = this.date ? parseDate(this.date.value) : '';
    const tm = this.time ? parseTime(this.time.value) : '';
    if (this.kind === 'date') return d;
    if (this.kind === 'time') return tm;
    return d && tm ? `${d}T${tm}` : '';
  }

  set value(v) {
    const s = String(v || '');
    const [d, tm] = this.kind === 'time' ? ['', s] : s.split('T');
    if (this.date) this.date.value = formatDate(d || '');
    if (this.time) this.time.value = /^\d{2}:\d{2}/.test(tm || '') ? tm.slice(0, 5) : '';
    this.sync();
  }

  get badInput() {
    const dt = this.date ? this.date.value.trim() : '';
    const tm = this.time ? this.time.value.trim() : '';
    if (dt && !parseDate(dt)) return 'date_format';
    if (tm && !parseTime(tm)) return 'time_format';
    if (this.kind === 'datetime-local' && (dt || tm)) {
      if (!dt) return 'date_format';
      if (!tm) return 'time_format';
    }
    return '';
  }

  focus(opts) {
    const code = this.badInput;
    const first = (code === 'time_format' && this.time) || this.parts.find((p) => !p.value.trim()) || this.parts[0];
    if (first) first.focus(opts);
  }

  attributeChangedCallback(name, _old, value) {
    for (const p of this.parts) {
      if (value === null) p.removeAttribute(name);
      else p.setAttribute(name, value);
    }
  }

  formResetCallback() {
    for (const p of this.parts) p.value = '';
    this.sync();
  }

  formDisabledCallback(disabled) {
    for (const p of this.parts) p.disabled = disabled;
  }

  sync() {
    this.internals.setFormValue(this.value);
  }

  // tidy writes what was typed the app's way once the part is left
  // ("24122030" becomes "24/12/2030"), or says at once what is wrong.
  tidy(part) {
    const text = part.value.trim();
    if (!text) return;
    const good = part === this.date ? parseDate(text) : parseTime(text);
    const slot = this.closest('.field')?.querySelector('.field-error');
    if (good) {
      part.value = part === this.date ? formatDate(good) : good;
      part.removeAttribute('aria-invalid');
      if (slot && slot.dataset.format) {
        slot.hidden = true;
        slot.textContent = '';
        delete slot.dataset.format;
      }
    } else {
      part.setAttribute('aria-invalid', 'true');
      if (slot) {
        slot.textContent = t(part === this.date ? 'field.date_format' : 'field.time_format');
        slot.hidden = false;
        slot.dataset.format = '1';
      }
    }
    this.sync();
  }

  /** setup builds the parts; describedBy is the field's hint and error. */
  setup({ kind, id, required, describedBy, value, attrs }) {
    this.kind = kind;
    const common = { type: 'text', autocomplete: 'off', spellcheck: 'false', 'aria-required': required ? 'true' : null };
    const part = (what, pid, text, format, extra) => {
      const fmtId = `${pid}-format`;
      const input = h('input', { ...common, ...extra, id: pid, placeholder: format,
        'aria-describedby': [fmtId, describedBy].filter(Boolean).join(' ') });
      input.addEventListener('input', () => this.sync());
      input.addEventListener('change', () => this.tidy(input));
      const labelled = text
        ? [h('label', { for: pid }, text), h('span', { class: 'hint', id: fmtId }, format)]
        : [h('span', { class: 'hint', id: fmtId }, format)];
      return { input, el: h('div', { class: `datetime-part datetime-${what}` }, labelled, input) };
    };
    const both = kind === 'datetime-local';
    const dateFmt = dateFormat();
    const items = [];
    if (kind !== 'time') {
      const d = part('date', both ? uid(`${id}-date`) : id, both ? t('datetime.date') : null, dateFmt,
        { inputmode: 'numeric', maxlength: 10, ...(both ? {} : attrs) });
      this.date = d.input;
      items.push(d.el);
    }
    if (kind !== 'date') {
      const tm = part('time', both ? uid(`${id}-time`) : id, both ? t('datetime.time') : null, t('datetime.clock'),
        { inputmode: 'numeric', maxlength: 8, ...(both ? {} : attrs) });
      this.time = tm.input;
      items.push(tm.el);
    }
    this.className = 'datetime';
    this.replaceChildren(...items);
    this.value = value || '';
    return this;
  }
}

if (!customElements.get('civico-datetime')) customElements.define('civico-datetime', DateTimeField);

/**
 * dateTime makes the control of a date, time or datetime-local field:
 * opts kind, id (the first part's id, for a label), name, required,
 * describedBy, value (as a native input's), attrs (more attributes of a
 * single part).
 */
export function dateTime(opts) {
  const el = document.createElement('civico-datetime');
  el.setAttribute('name', opts.name);
  return el.setup(opts);
}
