// Profiles: my own (a presentation, the skills I offer as chips, and my
// consent to show them to my streets), mounted in the account screen; a
// neighbour's profile, read through a street we share; and the street's
// skills directory, "who can do what", made of the skills of the members
// who consented. The server decides who sees what (internal/profiles):
// both people must be active members of the street, and a profile never
// holds an email or a phone number.
import { h, mount, uid } from './dom.js';
import { t, day } from './i18n.js';
import * as api from './api.js';
import * as session from './session.js';
import { avatar, memberName } from './avatar.js';
import { writeLink } from './mailbox.js';
import { empty, failure, field, heading, loading, more, clearErrors, submitting, toast } from './ui.js';

// The bounds the server applies (internal/auth/profile.go).
const MAX_BIO = 280;
const MAX_SKILLS = 10;
const MAX_SKILL = 40;

const skillKey = (s) => s.trim().replace(/\s+/g, ' ').toLowerCase();

/**
 * profileSection is "my profile" on the account screen: what the
 * neighbours of my streets see of me. Skills are chips: typed in a field
 * and added (Enter or the button), each removed with its own button; a
 * skill still in the field when saving is added too.
 */
export function profileSection() {
  const me = session.state.me || session.state.user || {};
  let skills = Array.isArray(me.skills) ? [...me.skills] : [];

  const said = h('p', { class: 'sr-only', 'aria-live': 'polite', id: 'profile-said' });
  const chips = h('ul', { class: 'chips', id: 'skill-chips', 'aria-label': t('profile.skills') });
  const drawChips = () => {
    mount(chips, skills.length ? skills.map((s, i) => h('li', { class: 'chip', 'data-skill': s },
      h('span', null, s),
      h('button', { type: 'button', class: 'chip-remove', 'aria-label': t('profile.skills.remove', { skill: s }),
        onclick: () => remove(i) }, h('span', { 'aria-hidden': 'true' }, '×'))))
      : h('li', { class: 'chip-none' }, t('profile.skills.none')));
  };

  const bio = field({ label: t('profile.bio'), name: 'bio', type: 'textarea', rows: 3, maxlength: MAX_BIO, value: me.bio || '',
    hint: t('profile.bio.hint', { n: MAX_BIO }) });
  const skill = field({ label: t('profile.skills.new'), name: 'skills', maxlength: MAX_SKILL, autocomplete: 'off' });
  const input = skill.querySelector('input');
  // The hint spans the fieldset, above the field and its button.
  const skillsHint = h('p', { class: 'hint', id: uid('skills-hint') }, t('profile.skills.hint', { n: MAX_SKILLS, len: MAX_SKILL }));
  input.setAttribute('aria-describedby', `${skillsHint.id} ${input.getAttribute('aria-describedby')}`);
  const addButton = h('button', { type: 'button', class: 'btn', id: 'skill-add' }, t('profile.skills.add'));
  const consentId = uid('share-skills');
  const consentHint = `${consentId}-hint`;
  const consent = h('input', { type: 'checkbox', id: consentId, name: 'share_skills', checked: !!me.share_skills, 'aria-describedby': consentHint });

  const form = h('form', { class: 'stack card', id: 'profile-form', novalidate: true },
    bio,
    h('fieldset', { class: 'stack skills-editor' },
      h('legend', null, t('profile.skills')),
      skillsHint,
      chips,
      h('div', { class: 'skill-new' }, skill, addButton)),
    h('div', { class: 'consent' },
      h('div', { class: 'check' }, consent, h('label', { for: consentId }, t('profile.share'))),
      h('p', { class: 'hint', id: consentHint }, t('profile.share.hint'))),
    h('button', { type: 'submit', class: 'btn primary' }, t('profile.save')),
    said);

  // problem says what is wrong with adding text as a skill, or ''.
  const problem = (text) => {
    if (!text) return 'required';
    if ([...text].length > MAX_SKILL) return 'too_long';
    if (skills.some((s) => skillKey(s) === skillKey(text))) return 'duplicate';
    if (skills.length >= MAX_SKILLS) return 'too_many';
    return '';
  };
  // refuse says why the typed skill cannot be added, next to its field.
  const slot = skill.querySelector('.field-error');
  const refuse = (code) => {
    input.setAttribute('aria-invalid', 'true');
    slot.textContent = api.fieldMessage(code);
    slot.hidden = false;
    input.focus();
  };
  const add = () => {
    const text = input.value.trim().replace(/\s+/g, ' ');
    clearErrors(form);
    const p = problem(text);
    if (p) {
      refuse(p);
      return false;
    }
    skills.push(text);
    input.value = '';
    drawChips();
    said.textContent = t('profile.skills.added', { skill: text });
    input.focus();
    return true;
  };
  function remove(i) {
    const [gone] = skills.splice(i, 1);
    drawChips();
    said.textContent = t('profile.skills.removed', { skill: gone });
    // The button pressed is gone: the focus goes to the next chip's, or to the field.
    const next = chips.querySelectorAll('.chip-remove')[Math.min(i, skills.length - 1)];
    (next || input).focus();
  }
  addButton.addEventListener('click', add);
  // Enter in the field adds the skill; it never submits the form (a
  // keypress may still come, from a keyboard that sends it on its own).
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      add();
    }
  });
  input.addEventListener('keypress', (e) => {
    if (e.key === 'Enter') e.preventDefault();
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (input.value.trim() && !add()) return;
    submitting(form, async () => {
      const res = await api.patch('/me', { bio: form.elements.bio.value.trim(), skills, share_skills: consent.checked });
      skills = Array.isArray(res.skills) ? [...res.skills] : skills;
      drawChips();
      await session.loadMe().catch(() => {});
      toast(t('profile.saved'));
      said.textContent = t('profile.saved');
    });
  });
  drawChips();

  return h('section', { class: 'stack', id: 'profile-section', 'aria-labelledby': 'profile-heading' },
    h('div', { class: 'profile-head' }, avatar(me.id, me.name, 'large'),
      h('div', null, h('h2', { id: 'profile-heading' }, t('profile.title')), h('p', { class: 'hint' }, t('profile.lead')))),
    form);
}

function back(sid) {
  return h('p', null, h('a', { href: `/streets/${sid}`, class: 'back' }, t('profile.member.back')));
}

/** member shows a neighbour's profile: /streets/:sid/members/:uid. */
export async function member(ctx) {
  const { sid, uid: id } = ctx.params;
  mount(ctx.main, heading(t('profile.member.loading')), loading());
  let p;
  try {
    p = await api.get(`/streets/${sid}/members/${id}/profile`, undefined, { signal: ctx.signal });
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.current()) return;
    const gone = err instanceof api.ApiError && err.status === 404;
    mount(ctx.main, heading(t('profile.member.loading')), back(sid),
      gone ? h('div', { class: 'state error', role: 'alert' }, h('p', null, t('profile.member.notfound'))) : failure(err, () => member(ctx)));
    return;
  }
  if (!ctx.current()) return;
  const mine = session.state.user && session.state.user.id === p.id;
  const street = session.street(sid);
  const skills = Array.isArray(p.skills) ? p.skills : [];
  mount(ctx.main,
    back(sid),
    h('div', { class: 'profile-head', id: 'member-profile', 'data-user-id': p.id },
      avatar(p.id, p.name, 'large'),
      h('div', null, h('h1', { tabindex: '-1' }, p.name),
        h('p', { class: 'meta' }, street ? `${street.name} · ` : '', t('profile.member.since', { when: day(p.member_since) })))),
    mine ? h('p', { class: 'notice' }, t('profile.member.you'), ' ', h('a', { href: '/account' }, t('profile.member.edit'))) : null,
    h('section', { class: 'stack', 'aria-labelledby': 'member-bio-heading' },
      h('h2', { id: 'member-bio-heading' }, t('profile.bio')),
      p.bio ? h('p', { class: 'bio', id: 'member-bio' }, p.bio) : h('p', { class: 'hint', id: 'member-bio' }, t('profile.member.nobio'))),
    skills.length ? h('section', { class: 'stack', 'aria-labelledby': 'member-skills-heading' },
      h('h2', { id: 'member-skills-heading' }, t('profile.member.skills')),
      h('ul', { class: 'chips', id: 'member-skills' }, skills.map((s) => h('li', { class: 'chip' }, s)))) : null,
    h('div', { class: 'actions' },
      mine ? null : writeLink({ to: p.id, name: p.name, street: sid, id: 'write-member' }),
      h('a', { href: `/streets/${sid}/neighbours`, class: 'btn ghost', id: 'to-directory' }, t('profile.directory.title'))));
}

/** directory is the street's skills directory: /streets/:sid/neighbours. */
export async function directory(ctx) {
  const sid = ctx.params.sid;
  const street = session.street(sid);
  const list = h('ul', { class: 'list cards skills-directory', id: 'skills-directory', 'aria-busy': 'true' });
  const status = h('div', null, loading());
  const pager = h('div', { class: 'pager' });
  mount(ctx.main,
    heading(t('profile.directory.title'), street ? h('p', { class: 'lead' }, street.name) : null),
    back(sid),
    h('p', null, t('profile.directory.lead')),
    h('p', null, h('a', { href: '/account', id: 'my-skills' }, t('profile.directory.mine'))),
    status, list, pager);
  const page = async (cursor) => {
    const res = await api.get(`/streets/${sid}/skills`, { cursor, limit: 30 }, { signal: ctx.signal });
    if (!ctx.current()) return;
    for (const it of res.items || []) {
      list.append(h('li', { class: 'card skill-line', 'data-skill': it.skill },
        h('h2', null, it.skill),
        h('ul', { class: 'neighbours' }, (it.members || []).map((m) => h('li', null, memberName(sid, m.id, m.name))))));
    }
    list.setAttribute('aria-busy', 'false');
    mount(pager, more(res.next_cursor, page));
    mount(status, list.children.length ? null : empty(t('profile.directory.empty')));
  };
  try {
    await page('');
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.current()) return;
    list.setAttribute('aria-busy', 'false');
    mount(status, failure(err, () => directory(ctx)));
  }
}
