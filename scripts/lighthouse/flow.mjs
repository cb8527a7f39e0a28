// Lighthouse mobile scores of the PWA's main screens, on a running server
// (started by ./run): seeds a street through the API, then drives Debian's
// chromium with puppeteer-core through Lighthouse user flows. The landing is
// visited cold and signed out; the other screens keep the storage (the
// refresh cookie, the service worker) of the sign-in done through the PWA's
// own screen, as a resident coming back would.
//
//   node flow.mjs --base http://127.0.0.1:PORT --out DIR --mail DATA/mail [--chromium /usr/bin/chromium] [--min 95] [--runs 3] [--unverified]
//
// Each screen is measured --runs times (3) and scored by the median: total
// blocking time is observed CPU time times 4, which a busy machine inflates.
// Both people confirm their address with the link of the mail the server
// wrote under --mail, as residents who have used Civico for a while have;
// --unverified measures a first session instead, with the banner asking to
// confirm it. Prints a table screen x category and exits 1 if any median
// score is below --min.

import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import puppeteer from 'puppeteer-core';
import { startFlow, generateReport } from 'lighthouse';

const { values: args } = parseArgs({
  options: {
    base: { type: 'string' },
    out: { type: 'string' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    min: { type: 'string', default: '95' },
    mail: { type: 'string' },
    unverified: { type: 'boolean', default: false },
    runs: { type: 'string', default: '3' },
  },
});
if (!args.base || !args.out || (!args.mail && !args.unverified)) {
  console.error('usage: node flow.mjs --base URL --out DIR --mail DIR [--chromium PATH] [--min 95] [--runs 3] [--unverified]');
  process.exit(2);
}
const base = args.base.replace(/\/$/, '');
const min = Number(args.min);
const runs = Math.max(1, Number(args.runs));
const categories = ['performance', 'accessibility', 'best-practices', 'seo'];
const password = 'lighthouse-password-1';

/** api calls the server as a non-browser client and fails loudly. */
async function api(method, url, body, token) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(base + '/api/v1' + url, { method, headers, body: body && JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** verify confirms an address with the token of the verification mail the server wrote for it. */
async function verify(email) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const names = await fs.readdir(args.mail).catch(() => []);
    for (const name of names.filter((n) => n.endsWith('.eml'))) {
      // Quoted-printable: soft line breaks and the encoded '='.
      const text = (await fs.readFile(path.join(args.mail, name), 'utf8')).replace(/=\r?\n/g, '').replace(/=3D/g, '=');
      if (!new RegExp(`^To:.*<${email.replace(/[.+]/g, '\\$&')}>`, 'mi').test(text)) continue;
      const token = text.match(/\/verify\?token=([A-Za-z0-9._~-]+)/);
      if (token) return api('POST', '/auth/email/verify', { token: token[1] });
    }
    if (Date.now() > deadline) throw new Error(`no verification mail for ${email} in ${args.mail}`);
    // The mail is written in the background: look again shortly.
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** seed makes an admin, a resident, a street with posts and replies, and a conversation. */
async function seed() {
  const stamp = Date.now().toString(36);
  const adminEmail = `admin-${stamp}@example.org`;
  const register = (name, email) => api('POST', '/auth/register',
    { name, email, password, locale: 'it', time_zone: 'Europe/Rome' });
  const admin = await register('Giulia Bianchi', adminEmail);
  const residentEmail = `resident-${stamp}@example.org`;
  const resident = await register('Marco Rossi', residentEmail);
  if (!args.unverified) {
    await verify(adminEmail);
    await verify(residentEmail);
  }
  const A = admin.access_token;
  const R = resident.access_token;
  const street = await api('POST', '/streets', {
    name: 'Via dei Mille', city: 'Bologna',
    description: 'I vicini di via dei Mille: richieste, offerte e piccoli aiuti tra porte accanto.',
  }, A);
  const invite = await api('POST', `/streets/${street.id}/invites`, { max_uses: 5 }, A);
  await api('POST', `/streets/${street.id}/join`, { invite_code: invite.code }, R);

  const posts = [];
  const post = async (token, kind, category, title, body) => {
    const p = await api('POST', `/streets/${street.id}/posts`, { kind, category, title, body }, token);
    posts.push(p);
    return p;
  };
  const trapano = await post(R, 'request', 'lending', 'Mi prestate un trapano per sabato?',
    'Devo appendere due mensole in cucina. Lo riporto domenica sera, con le punte pulite.');
  await post(A, 'offer', 'lessons', 'Ripetizioni di matematica per le medie',
    'Sono un\'insegnante in pensione: il martedì e il giovedì pomeriggio ho tempo per due ragazzi.');
  await post(R, 'request', 'dog_walking', 'Qualcuno può portare fuori Lillo mercoledì?',
    'Lavoro fino a tardi: basta un giro di mezz\'ora verso le 18, è un cane tranquillo.');
  await post(A, 'offer', 'gardening', 'Piantine di basilico da regalare',
    'Ne ho seminate troppe: passate a prenderle al civico 12, c\'è anche del prezzemolo.');
  await api('POST', `/posts/${trapano.id}/replies`, { body: 'Ce l\'ho io, un Bosch a percussione: passa pure venerdì sera.' }, A);
  await api('POST', `/posts/${trapano.id}/replies`, { body: 'Perfetto, grazie! Passo verso le 19.' }, R);
  await api('POST', `/posts/${posts[1].id}/replies`, { body: 'Mia figlia fa la seconda media, il martedì andrebbe benissimo.' }, R);

  const started = await api('POST', '/conversations', {
    user_id: admin.user.id, street_id: street.id,
    body: 'Ciao Giulia, ti scrivo qui per non intasare la bacheca: per la festa di via ti serve una mano?',
  }, R);
  await api('POST', `/conversations/${started.conversation.id}/messages`,
    { body: 'Sì, grazie! Ci vediamo giovedì alle 18 davanti al forno.' }, A);
  return { email: adminEmail, street, post: trapano };
}

/** signIn uses the PWA's own sign-in screen, where the signed-out landing leaves the page. */
async function signIn(page, email) {
  if (!new URL(page.url()).pathname.startsWith('/signin')) {
    await page.goto(`${base}/signin`, { waitUntil: 'load' });
  }
  await page.waitForSelector('#signin-form input[name=email]');
  await page.type('#signin-form input[name=email]', email);
  await page.type('#signin-form input[name=password]', password);
  await page.click('#signin-form button[type=submit]');
  // Home lists the street once the session is there.
  await page.waitForFunction(() => location.pathname === '/' && document.querySelector('[data-street-id]'),
    { timeout: 60_000 });
}

const data = await seed();
await fs.mkdir(args.out, { recursive: true });
const browser = await puppeteer.launch({
  executablePath: args.chromium,
  headless: true,
  userDataDir: path.join(args.out, 'profile'),
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run'],
  protocolTimeout: 300_000,
});

/** median is the middle value (the lower one of an even count: the stricter). */
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const score = (lhr, c) => (lhr.categories[c]?.score == null ? NaN : Math.round(lhr.categories[c].score * 100));

let failed = false;
try {
  const config = {
    extends: 'lighthouse:default',
    settings: { formFactor: 'mobile', onlyCategories: categories, maxWaitForLoad: 90_000 },
  };
  const signedIn = [
    ['feed', `/streets/${data.street.id}`],
    ['post', `/posts/${data.post.id}`],
    ['inbox', '/conversations'],
    ['admin', `/streets/${data.street.id}/admin`],
  ];
  const screens = [['landing', '/'], ...signedIn];
  const measured = new Map(screens.map(([name]) => [name, []])); // screen -> its lhrs
  // One flow and one tab for the signed-out visits, each cold (storage
  // reset), then the sign-in; then one flow and a new tab for each round over
  // the signed-in screens (the profile keeps the session), so that neither a
  // busy moment of the machine nor a tab grown old weighs on one screen only.
  const rounds = [['landing', [['landing', '/']]]];
  // Each round starts at another screen: the first visit of a tab's flow is
  // the slowest (Lighthouse attaching), and a median must not count it twice.
  for (let r = 1; r <= runs; r++) {
    const k = (r - 1) % signedIn.length;
    rounds.push([`round-${r}`, [...signedIn.slice(k), ...signedIn.slice(0, k)]]);
  }
  for (const [label, visits] of rounds) {
    const page = await browser.newPage();
    if (label !== 'landing') {
      // A new tab's first page pays for starting its renderer (half a second
      // of blocking time on a 4x slower CPU): not the app's, so open home first.
      await page.goto(`${base}/`, { waitUntil: 'load' });
      await page.waitForSelector('[data-street-id]', { timeout: 60_000 });
    }
    const flow = await startFlow(page, { name: `Civico PWA, mobile: ${label}`, config });
    const names = [];
    for (let r = 1; r <= (label === 'landing' ? runs : 1); r++) {
      for (const [name, url] of visits) {
        console.error(`lighthouse: ${label} ${name} ${url}${label === 'landing' ? ` (${r}/${runs})` : ''}`);
        await flow.navigate(base + url, { name, disableStorageReset: name !== 'landing' });
        names.push(name);
      }
    }
    if (label === 'landing') await signIn(page, data.email);
    const result = await flow.createFlowResult();
    result.steps.forEach((step, i) => measured.get(names[i]).push(step.lhr));
    await fs.writeFile(path.join(args.out, `flow-${label}.html`), await flow.generateReport());
    await page.close();
  }

  const rows = [];
  for (const [name, url] of screens) {
    const lhrs = measured.get(name);
    for (const lhr of lhrs) {
      if (lhr.runtimeError) console.error(`${name}: ${lhr.runtimeError.code} ${lhr.runtimeError.message}`);
    }
    const scores = categories.map((c) => median(lhrs.map((l) => score(l, c))));
    const perf = lhrs.map((l) => score(l, 'performance'));
    // The run whose performance is the median is the screen's report.
    const lhr = lhrs[perf.indexOf(scores[0])] || lhrs[0];
    await fs.writeFile(path.join(args.out, `${name}.json`), JSON.stringify(lhr, null, 1));
    await fs.writeFile(path.join(args.out, `${name}.html`), generateReport(lhr, 'html'));
    rows.push([name, url.replace(/[0-9a-f]{24}/g, ':id'), ...scores, perf.join(' ')]);
    // The audits that cost points, to find the cause without opening the report.
    for (const [j, c] of categories.entries()) {
      if (!(scores[j] < min)) continue;
      for (const ref of lhr.categories[c]?.auditRefs || []) {
        const a = lhr.audits[ref.id];
        if (ref.weight > 0 && a.score != null && a.score < 1) {
          console.error(`  ${name} ${c}: ${a.id} score ${a.score} (weight ${ref.weight})${a.displayValue ? ' ' + a.displayValue : ''}`);
        }
      }
    }
  }
  const head = ['screen', 'path', ...categories, 'performance runs'];
  const table = [head, ...rows].map((r) => r.map((v) => (Number.isNaN(v) ? 'n/a' : String(v))));
  const widths = head.map((_, j) => Math.max(...table.map((r) => r[j].length)));
  for (const r of table) console.log(r.map((v, j) => v.padEnd(widths[j])).join('  ').trimEnd());
  failed = rows.some((r) => r.slice(2, 2 + categories.length).some((s) => !(s >= min)));
  console.log(failed ? `FAIL: a median score is below ${min}` : `ok: every median score is at least ${min}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
