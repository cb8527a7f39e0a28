// Translations: Italian by default, English when the browser prefers it or
// the user chooses it. Every string the app shows comes from i18n/*.json.
const KEY = 'civico.lang';

/** The languages the app speaks, the first is the default. */
export const languages = ['it', 'en'];

let strings = {};
let current = 'it';

/** preferred is the saved choice, else the browser's, else Italian. */
export function preferred() {
  const saved = localStorage.getItem(KEY);
  if (languages.includes(saved)) return saved;
  for (const l of navigator.languages || [navigator.language || '']) {
    const base = String(l).slice(0, 2).toLowerCase();
    if (languages.includes(base)) return base;
  }
  return languages[0];
}

/** load fetches one language's strings and makes it current. */
export async function load(lang) {
  const res = await fetch(`/i18n/${lang}.json`);
  if (!res.ok) throw new Error(`i18n ${lang}: ${res.status}`);
  strings = await res.json();
  current = lang;
  document.documentElement.lang = lang;
}

/** choose switches language and remembers the choice. */
export async function choose(lang) {
  if (!languages.includes(lang)) return;
  localStorage.setItem(KEY, lang);
  await load(lang);
}

/** lang is the current language. */
export function lang() {
  return current;
}

/** has says whether key is translated. */
export function has(key) {
  return Object.prototype.hasOwnProperty.call(strings, key);
}

/** t translates key, filling {placeholders} from vars. */
export function t(key, vars) {
  let s = has(key) ? strings[key] : key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] === undefined ? m : String(vars[k])));
  return s;
}

/** tn picks the plural form key.one / key.other for n. */
export function tn(key, n, vars) {
  const form = new Intl.PluralRules(current).select(n);
  const k = has(`${key}.${form}`) ? `${key}.${form}` : `${key}.other`;
  return t(k, { n, ...vars });
}

/** when formats a timestamp as a date and time. */
export function when(iso) {
  if (!iso) return '';
  return new Intl.DateTimeFormat(current, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
}

/** day formats a date only. */
export function day(iso) {
  if (!iso) return '';
  return new Intl.DateTimeFormat(current, { dateStyle: 'medium' }).format(new Date(iso));
}

/** ago says how long ago iso was, in words ("5 minuti fa"). */
export function ago(iso) {
  if (!iso) return '';
  const secs = (new Date(iso).getTime() - Date.now()) / 1000;
  const rtf = new Intl.RelativeTimeFormat(current, { numeric: 'auto' });
  const steps = [[60, 'second'], [3600, 'minute'], [86400, 'hour'], [604800, 'day']];
  for (const [limit, unit] of steps) {
    if (Math.abs(secs) < limit) {
      const div = { second: 1, minute: 60, hour: 3600, day: 86400 }[unit];
      return rtf.format(Math.round(secs / div), unit);
    }
  }
  return day(iso);
}

/** money formats cents as euros. */
export function money(cents) {
  return new Intl.NumberFormat(current, { style: 'currency', currency: 'EUR' }).format((cents || 0) / 100);
}
