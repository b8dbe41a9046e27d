// The operator's console: the call banner, the appeal card bound to the
// call, and what is known of the caller (earlier appeals, repair works at
// their address, their path through the voice menu).
//
// A card is bound to a call (our call id) or to none (a walk-in, keyed
// `walkin:<id>`). What the operator types is kept as a draft in
// sessionStorage under that key, so a reload, a dropped connection or
// another call popping up loses nothing: put-aside cards are listed under
// "Unsaved cards" until saved or discarded. Signing out clears them.

import { api, ApiError } from './api.js';
import { CategoryPicker } from './categories.js';
import { $, el, listeners } from './dom.js';
import { dateTime, duration, ivrStep, t, time, tUk } from './i18n.js';
import { degrees, placeErrors } from './place.js';


/** The card's text fields, as the API names them. */
const FIELDS = ['surname', 'first_name', 'patronymic', 'address', 'contact_phone', 'other_contact', 'email', 'essence', 'latitude', 'longitude'];
const DRAFT = 'hotline.draft.';

const newWalkInKey = () => `walkin:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const isWalkIn = (key) => key.startsWith('walkin:');

/** Forgets every draft and empties the screen: on sign-out, so the next
 * person at the station sees nothing of the last one's callers. */
export function clearConsole() {
  for (const key of Object.keys(sessionStorage)) {
    if (key.startsWith(DRAFT)) sessionStorage.removeItem(key);
  }
  $('card').reset();
  $('saved').hidden = true;
  $('card').hidden = false;
  for (const id of ['earlier', 'works', 'ivr-path', 'drafts', 'found', 'my-calls', 'saved-files']) {
    $(id).replaceChildren();
  }
  $('call-caller').textContent = '';
  $('call-meta').textContent = '';
  $('call-banner').dataset.callId = '';
  $('call-banner').dataset.phase = 'idle';
}


function clear(node, ...children) {
  node.replaceChildren(...children);
}

/** Digits of a phone number; a Ukrainian number has 9 to 12 of them. */
function plausiblePhone(text) {
  const digits = text.replace(/\D/g, '');
  return /^[+\d\s()\-.]*$/.test(text.replace(/^tel:/, '')) && digits.length >= 9 && digits.length <= 15;
}

export class Console {
  constructor({ session, toast }) {
    this.session = session;
    this.toast = toast;
    this.operator = session.operator || null;
    this.role = session.user.role;
    this.call = null;          // the call on the banner
    this.cardKey = newWalkInKey(); // the call id the card is bound to, or walkin:…
    this.repeatOf = '';
    this.prefill = {};
    this.categories = [];      // [{id, section, name, code, deadline, executor}]
    this.picker = new CategoryPicker($('f-category'),
      (q) => api('GET', `/api/classifier/search?q=${encodeURIComponent(q)}`).then((r) => r.types),
      () => [el('option', { value: '', text: t('chooseCategory') })]);
    this.saving = false;
    this.timings = [];         // {type, call_id, at, receivedAt}: screen-pop latency
    this.ticker = null;
    // Every listener goes with the console (a new sign-in binds afresh).
    this.abort = new AbortController();
  }

  async start() {
    this.bind();
    $('operator-controls').hidden = !this.operator;
    // Until the server says otherwise (its first message does).
    if (this.operator && !this.state) this.renderState({ state: 'logged_out', reason: null });
    await this.loadClassifier();
    this.showIdle();
    this.openCard(this.cardKey, {});
    this.renderDrafts();
    this.refreshMyCalls();
  }

  stop() {
    clearInterval(this.ticker);
    this.abort.abort();
  }

  retranslate() {
    this.renderBanner();
    this.picker.render();
    this.renderSide();
    if (this.state) this.renderState(this.state);
  }

  // --- wiring -------------------------------------------------------------

  bind() {
    const on = listeners(this.abort);
    const form = $('card');
    on(form, 'submit', (e) => {
      e.preventDefault();
      this.save();
    });
    // Anonymous: the name and contacts are put aside and locked (and come
    // back if it is unticked); a new card starts with them open.
    const personal = ['surname', 'first_name', 'patronymic', 'contact_phone', 'other_contact', 'email'];
    const lock = (anonymous) => {
      for (const f of personal) {
        const input = $(`f-${f}`);
        if (anonymous) {
          input.dataset.putAside = input.value;
          input.value = '';
        } else if (input.disabled) {
          input.value = input.dataset.putAside || '';
        }
        input.disabled = anonymous;
      }
    };
    on($('f-anonymous'), 'change', () => lock($('f-anonymous').checked));
    on(form, 'reset', () => { for (const f of personal) $(`f-${f}`).disabled = false; });
    on(form, 'input', () => this.keepDraft());
    on($('f-essence'), 'keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        this.save();
      }
    });
    on($('f-category-filter'), 'input', (e) => this.picker.filter(e.target.value).then(() => this.showCategoryInfo()));
    on($('f-category-filter'), 'keydown', async (e) => {
      // Enter in the search takes the best match instead of saving.
      if (e.key === 'Enter') {
        e.preventDefault();
        await this.picker.takeBest();
        this.showCategoryInfo();
        this.keepDraft();
        // Only if the operator has not moved on meanwhile (Alt+E typed
        // ahead): keys meant for the essence must not land in the list.
        if (document.activeElement === e.target) $('f-category').focus();
      }
    });
    on($('f-category'), 'change', () => this.showCategoryInfo());
    on($('clear-card'), 'click', () => {
      this.dropDraft(this.cardKey);
      this.openCard(this.cardKey, this.prefill);
      this.renderDrafts();
      $('f-surname').focus();
    });
    on($('new-card'), 'click', () => this.newWalkIn());
    on($('saved-new'), 'click', () => this.newWalkIn());
    on($('repeat-clear'), 'click', () => this.setRepeat(''));
    on(document, 'keydown', (e) => this.shortcut(e));

    on($('go-available'), 'click', () => this.setState({ state: 'available' }));
    on($('wrapup-done'), 'click', () => this.setState({ state: 'available' }));
    on($('go-login'), 'click', () => this.setState({ state: 'logged_in' }));
    on($('pause-reason'), 'change', () => {
      $('pause-other-box').hidden = $('pause-reason').value !== 'other';
    });
    on($('go-pause'), 'click', () => {
      // Stored in Ukrainian whatever the page shows: supervisors read it.
      const choice = $('pause-reason').value;
      const words = { break: 'reasonBreak', lunch: 'reasonLunch', training: 'reasonTraining', technical: 'reasonTechnical' };
      const reason = choice === 'other' ? $('pause-other').value.trim() : tUk(words[choice]);
      if (!reason) {
        this.toast(t('pauseNeedsReason'), 'error');
        $('pause-other').focus();
        return;
      }
      this.setState({ state: 'paused', reason });
    });

    on($('block-caller'), 'click', () => {
      $('block-reason').value = '';
      $('block-error').textContent = '';
      $('block-dialog').showModal();
      $('block-reason').focus();
    });
    on($('block-cancel'), 'click', () => $('block-dialog').close());
    on($('block-form'), 'submit', (e) => {
      e.preventDefault();
      this.block();
    });

    on($('attach-open'), 'click', () => {
      $('attach-number').value = '';
      $('attach-error').textContent = '';
      $('attach-dialog').showModal();
      $('attach-number').focus();
    });
    on($('attach-cancel'), 'click', () => $('attach-dialog').close());
    on($('attach-form'), 'submit', async (e) => {
      e.preventDefault();
      const number = $('attach-number').value.trim();
      if (!number) {
        $('attach-error').textContent = t('regNumber');
        return;
      }
      const ok = await this.attachCall(number, $('attach-error'));
      if (ok) $('attach-dialog').close();
    });

    on($('find'), 'submit', (e) => {
      e.preventDefault();
      this.find($('find-number').value.trim());
    });
  }

  shortcut(e) {
    if ($('view-console').hidden || !e.altKey || e.ctrlKey || e.metaKey) return;
    const key = e.code;
    if (key === 'KeyE') {
      e.preventDefault();
      this.showForm();
      $('f-essence').focus();
    } else if (key === 'KeyK') {
      e.preventDefault();
      this.showForm();
      $('f-category-filter').focus();
    } else if (key === 'KeyN') {
      e.preventDefault();
      this.newWalkIn();
    }
  }

  // --- the websocket ------------------------------------------------------

  onMessage(m, receivedAt) {
    switch (m.type) {
      case 'hello':
        // The server starts us afresh: the current call, if any, follows.
        if (this.call && (this.call.phase === 'offered' || this.call.phase === 'answered')) {
          this.call = { ...this.call, phase: 'ended', ended_by: null };
          this.renderBanner();
        }
        break;
      case 'call_offered':
      case 'call_answered': {
        this.timings.push({ type: m.type, call_id: m.call.id, at: m.at, receivedAt });
        if (this.timings.length > 50) this.timings.shift();
        const phase = m.type === 'call_offered' ? 'offered' : 'answered';
        const since = m.type === 'call_answered' ? Date.parse(m.at) : null;
        const known = this.call && this.call.id === m.call.id;
        this.call = { ...m.call, phase, answeredAt: since ?? (known ? this.call.answeredAt : null) };
        if (this.cardKey !== m.call.id) this.popCard(m.call);
        this.renderBanner();
        this.renderSide();
        break;
      }
      case 'call_withdrawn':
        if (this.call && this.call.id === m.call_id) {
          this.call = { ...this.call, phase: 'withdrawn' };
          if (this.cardKey === m.call_id) {
            if (this.isDirty()) {
              // Never taken, so not this operator's call to file against:
              // what was typed stays, as a card without a call.
              const values = { ...this.values(), repeat_of: this.repeatOf };
              this.dropDraft(m.call_id);
              const key = newWalkInKey();
              sessionStorage.setItem(DRAFT + key, JSON.stringify(values));
              this.openCard(key, {}, { quiet: true });
              this.toast(t('draftMovedToWalkIn'));
            } else {
              this.dropDraft(m.call_id);
              this.openCard(newWalkInKey(), {});
            }
          }
          this.renderBanner();
          this.renderSide();
        }
        break;
      case 'call_ended':
        if (this.call && this.call.id === m.call_id) {
          this.call = { ...this.call, phase: 'ended', ended_by: m.ended_by };
          this.renderBanner();
        }
        this.refreshMyCalls();
        break;
      case 'operator_state':
        this.state = { state: m.state, reason: m.reason };
        this.renderState(this.state);
        break;
      default:
        break;
    }
  }

  onConnection() {}

  // --- the banner and the operator's state --------------------------------

  showIdle() {
    this.call = null;
    this.renderBanner();
    this.renderSide();
  }

  renderBanner() {
    const banner = $('call-banner');
    const call = this.call;
    clearInterval(this.ticker);
    const phase = call ? call.phase : 'idle';
    banner.className = `call-banner ${phase}`;
    banner.dataset.callId = call ? call.id : '';
    banner.dataset.phase = phase;
    const state = $('call-state');
    const meta = $('call-meta');
    $('call-caller').textContent = call ? call.caller || '—' : '';
    const live = call && (phase === 'offered' || phase === 'answered');
    $('block-caller').hidden = !(call && phase === 'answered');
    // Only a call the operator took can be attached to a card.
    $('attach-open').hidden = !this.took(call);
    if (!call) {
      state.textContent = t('noCall');
      meta.textContent = '';
      return;
    }
    const queue = t('queueWait', { q: call.queue_title || call.queue, w: duration(call.waited_ms) });
    const sip = call.sip_call_id ? ` · SIP ${call.sip_call_id}` : '';
    if (phase === 'offered') state.textContent = t('callRinging');
    if (phase === 'answered') state.textContent = t('callAnswered');
    if (phase === 'withdrawn') state.textContent = t('callWithdrawn');
    if (phase === 'ended') {
      state.textContent = call.ended_by ? `${t('callEnded')}: ${t(`endedBy_${call.ended_by}`)}` : t('callEnded');
    }
    const tick = () => {
      const talk = phase === 'answered' && call.answeredAt ? ` · ${duration(Date.now() - call.answeredAt)}` : '';
      meta.textContent = `${queue}${talk}${sip}`;
    };
    tick();
    if (live && phase === 'answered') this.ticker = setInterval(tick, 1000);
  }

  /** Whether the operator took this call (answered it, now or before). */
  took(call) {
    return !!(call && (call.phase === 'answered' || (call.phase === 'ended' && call.answeredAt)));
  }

  renderState({ state, reason }) {
    const badge = $('my-state');
    badge.textContent = t(`state_${state}`) + (reason ? ` · ${reason}` : '');
    badge.className = `state-badge s-${state}`;
    badge.dataset.state = state;
    $('go-login').hidden = state !== 'logged_out';
    $('go-available').hidden = state !== 'paused';
    $('wrapup-done').hidden = state !== 'wrap_up';
    const canPause = state === 'available' || state === 'wrap_up';
    $('go-pause').hidden = !canPause;
    $('pause-box').hidden = !canPause;
    $('pause-other-box').hidden = !canPause || $('pause-reason').value !== 'other';
  }

  async setState(body) {
    if (!this.operator) return;
    try {
      const view = await api('PUT', `/api/operators/${encodeURIComponent(this.operator)}/state`, body);
      this.state = { state: view.state, reason: view.reason };
      this.renderState(this.state);
    } catch (e) {
      this.toast(t('stateFailed', { m: e.message }), 'error');
    }
  }

  // --- the side panels ----------------------------------------------------

  renderSide() {
    const call = this.call;
    const earlier = $('earlier');
    const appeals = (call && call.earlier_appeals) || [];
    clear(earlier, ...(appeals.length ? appeals.map((a) => this.appealItem(a)) : [el('li', { class: 'muted', text: '—' })]));
    const works = (call && call.repair_works) || [];
    clear($('works'), ...(works.length
      ? works.map((w) => el('li', { class: w.kind === 'emergency' ? 'work emergency' : 'work' },
        el('b', { text: `${t(`work_${w.kind}`)} · ${t(`service_${w.service}`)}` }), ' ',
        el('span', { text: w.description }), ' ',
        el('span', { class: 'muted', text: t('until', { d: dateTime(w.expected_end) }) })))
      : [el('li', { class: 'muted', text: '—' })]));
    const path = (call && call.ivr_steps) || [];
    clear($('ivr-path'), ...(path.length ? path.map((p) => el('li', { text: ivrStep(p), title: p.node })) : [el('li', { class: 'muted', text: '—' })]));
  }

  /** An earlier or found appeal, with what can be done with it. */
  appealItem(a, target) {
    const actions = el('span', { class: 'item-actions' });
    if (this.took(this.call)) {
      actions.append(el('button', {
        type: 'button', class: 'small', text: t('attachCall'),
        onclick: () => this.attachCall(a.registration_number, target || null),
      }));
    }
    actions.append(el('button', {
      type: 'button', class: 'small', text: t('makeRepeat'),
      onclick: () => this.repeat(a.registration_number),
    }));
    return el('li', { class: 'appeal', 'data-number': a.registration_number },
      el('b', { class: 'mono', text: a.registration_number }), ' ',
      el('span', { class: 'muted', text: dateTime(a.date || a.created_at) }), el('br'),
      el('span', { text: a.category }), ' · ',
      el('span', { class: `status st-${a.status}`, text: t(`status_${a.status}`) }),
      actions);
  }

  async find(number) {
    const found = $('found');
    if (!number) return;
    try {
      const card = await api('GET', `/api/appeals/${encodeURIComponent(number)}`);
      const who = [card.surname, card.first_name, card.patronymic].filter(Boolean).join(' ');
      // Who has it and by when: what a caller asking about it wants to hear.
      const life = card.life || {};
      const late = life.overdue;
      const due = life.deadline_runs === false ? t('deadlineStopped') : dateTime(card.deadline);
      clear(found, el('ul', { class: 'list' }, this.appealItem({ ...card, date: card.created_at }, found)),
        el('p', { class: 'small found-facts' },
          el('span', { text: `${t('executor')}: ${card.executor_name || card.executor}` }), ' · ',
          el('span', { class: late ? 'late' : '', text: `${t('deadline')}: ${due}${late ? ` · ${t('overdueShort')}` : ''}` })),
        el('p', { class: 'small', text: [who, card.address, card.essence].filter(Boolean).join(' · ') }));
      if (this.role === 'supervisor' || this.role === 'admin') {
        // A disputed card (and its calls' recordings) kept past retention.
        const reason = el('input', { maxlength: '500', 'aria-label': t('holdReason'), placeholder: t('holdReason') });
        const form = el('form', { class: 'find', novalidate: '' }, reason,
          el('button', { type: 'submit', class: 'small', text: t('hold') }));
        form.addEventListener('submit', async (e) => {
          e.preventDefault();
          if (!reason.value.trim()) {
            this.toast(t('blockNeedsReason'), 'error');
            return;
          }
          try {
            await api('POST', `/api/appeals/${encodeURIComponent(card.registration_number)}/hold`, { reason: reason.value.trim() });
            reason.value = '';
            this.toast(t('cardHeld', { n: card.registration_number }));
          } catch (err) {
            this.toast(err.message, 'error');
          }
        });
        found.append(form);
      }
    } catch (e) {
      clear(found, el('p', { class: 'error', text: e.status === 404 ? t('notFound', { n: number }) : e.message }));
    }
  }

  async attachCall(number, errorTarget) {
    if (!this.call) return false;
    try {
      const r = await api('POST', `/api/appeals/${encodeURIComponent(number)}/calls`, { call_id: this.call.id });
      this.toast(t(r.attached ? 'attached' : 'alreadyAttached', { n: r.registration_number }));
      return true;
    } catch (e) {
      const message = e.status === 404 && /number/.test(e.message) ? t('notFound', { n: number }) : e.message;
      if (errorTarget) errorTarget.textContent = message;
      else this.toast(message, 'error');
      return false;
    }
  }

  async refreshMyCalls() {
    const body = $('my-calls');
    if (this.role !== 'operator') {
      body.closest('section').hidden = true;
      return;
    }
    try {
      const { calls } = await api('GET', '/api/my/calls');
      clear(body, ...calls.map((c) => el('tr', {},
        el('td', { text: time(c.answered_at) }),
        el('td', { class: 'mono', text: c.caller }),
        el('td', { text: c.queue_title || c.queue }),
        el('td', { text: duration(c.waited_ms) }))));
    } catch {
      // Shown again on the next call.
    }
  }

  // --- the card -----------------------------------------------------------

  async loadClassifier() {
    try {
      const tree = await api('GET', '/api/classifier');
      $('anonymous-box').hidden = !tree.anonymous_allowed;
      this.categories = tree.sections.flatMap((s) => s.types.map((ty) => ({
        id: ty.id, code: ty.code, name: ty.name, section: s.name, deadline: ty.deadline, executor: ty.executor,
      })));
      $('e-category').textContent = '';
    } catch (e) {
      this.categories = [];
      $('e-category').textContent = e.status === 404 ? t('noClassifier') : e.message;
    }
    this.picker.setTypes(this.categories.map((c) => ({ id: c.id, section: c.section, label: c.name })));
    this.showCategoryInfo();
  }

  showCategoryInfo() {
    const c = this.categories.find((x) => x.id === $('f-category').value);
    $('category-info').textContent = c ? t('categoryInfo', { e: c.executor, d: t(`deadline_${c.deadline}`) }) : '';
  }

  values() {
    const v = {};
    for (const f of FIELDS) v[f] = $(`f-${f}`).value;
    v.category_id = $('f-category').value;
    v.kind = $('f-kind').value;
    v.anonymous = $('f-anonymous').checked;
    return v;
  }

  isDirty() {
    const v = this.values();
    return FIELDS.some((f) => v[f].trim() !== (this.prefill[f] || '').trim()) || !!v.category_id || !!this.repeatOf;
  }

  keepDraft() {
    if (!this.isDirty()) {
      this.dropDraft(this.cardKey);
      return;
    }
    sessionStorage.setItem(DRAFT + this.cardKey, JSON.stringify({
      ...this.values(), repeat_of: this.repeatOf, saved_at: Date.now(),
      caller: isWalkIn(this.cardKey) ? '' : (this.prefill.contact_phone || ''),
    }));
  }

  /** The cards put aside (drafts other than the open one). */
  renderDrafts() {
    const items = [];
    for (const storageKey of Object.keys(sessionStorage)) {
      if (!storageKey.startsWith(DRAFT)) continue;
      const key = storageKey.slice(DRAFT.length);
      if (key === this.cardKey) continue;
      let draft;
      try {
        draft = JSON.parse(sessionStorage.getItem(storageKey));
      } catch {
        continue;
      }
      const who = [draft.surname, draft.first_name].filter(Boolean).join(' ') || '—';
      const what = isWalkIn(key) ? t('draftWalkIn') : t('draftOfCall', { c: draft.caller || key.slice(0, 8) });
      items.push({ at: draft.saved_at || 0, node: el('li', { class: 'draft', 'data-key': key },
        el('b', { text: who }), ' ', el('span', { class: 'muted', text: `${what} · ${time(new Date(draft.saved_at || 0).toISOString())}` }),
        el('span', { class: 'item-actions' },
          el('button', { type: 'button', class: 'small', text: t('open'), onclick: () => this.reopen(key) }),
          el('button', { type: 'button', class: 'small', text: t('discard'), onclick: () => { this.dropDraft(key); this.renderDrafts(); } }))) });
    }
    items.sort((a, b) => b.at - a.at);
    clear($('drafts'), ...items.map((i) => i.node));
    $('drafts-box').hidden = items.length === 0;
  }

  /** Opens a put-aside card (the open one is put aside in turn). */
  reopen(key) {
    this.keepDraft();
    this.openCard(key, {});
    this.renderDrafts();
    $('f-surname').focus();
  }

  dropDraft(key) {
    sessionStorage.removeItem(DRAFT + key);
  }

  /** Binds the card to `key` (a call id or walkin:…): its draft, or
   * `prefill`. */
  openCard(key, prefill, { quiet = false } = {}) {
    this.cardKey = key;
    this.prefill = prefill;
    let draft = null;
    try {
      draft = JSON.parse(sessionStorage.getItem(DRAFT + key) || 'null');
    } catch {
      draft = null;
    }
    const source = draft || prefill;
    for (const f of FIELDS) $(`f-${f}`).value = source[f] || '';
    $('f-category-filter').value = '';
    this.picker.filter('');
    $('f-category').value = source.category_id || '';
    this.showCategoryInfo();
    $('f-files').value = '';
    this.setRepeat(source.repeat_of || '');
    this.clearErrors();
    $('card-channel').textContent = isWalkIn(key) ? t('channel_walk_in') : t('channel_phone');
    $('card').dataset.callId = isWalkIn(key) ? '' : key;
    this.showForm();
    if (draft && !quiet) this.toast(t('draftRestored'));
  }

  showForm() {
    if (!$('saved').hidden) {
      $('saved').hidden = true;
      $('card').hidden = false;
    }
  }

  /** The card pops up for a call: prefilled, the first field focused. */
  popCard(call) {
    if (!$('card').hidden && this.isDirty()) {
      this.keepDraft();
      this.toast(t('draftKept'));
    }
    this.openCard(call.id, { contact_phone: call.caller || '', address: call.address || '' });
    this.renderDrafts();
    $('f-surname').focus();
  }

  newWalkIn() {
    if (!$('card').hidden) this.keepDraft();
    $('saved').hidden = true;
    $('card').hidden = false;
    this.openCard(newWalkInKey(), {});
    this.renderDrafts();
    $('f-surname').focus();
  }

  setRepeat(number) {
    this.repeatOf = number;
    $('repeat-chip').hidden = !number;
    $('repeat-number').textContent = number;
  }

  /** A repeat appeal: the original's citizen, address and category. */
  async repeat(number) {
    try {
      const card = await api('GET', `/api/appeals/${encodeURIComponent(number)}`);
      this.showForm();
      for (const f of ['surname', 'first_name', 'patronymic', 'address', 'other_contact', 'email']) {
        if (card[f] && !$(`f-${f}`).value.trim()) $(`f-${f}`).value = card[f];
      }
      if (!$('f-contact_phone').value.trim() && card.contact_phone) $('f-contact_phone').value = card.contact_phone;
      if (card.category_id && this.categories.some((c) => c.id === card.category_id)) {
        $('f-category').value = card.category_id;
        this.showCategoryInfo();
      }
      this.setRepeat(card.registration_number);
      this.keepDraft();
      $('f-essence').focus();
    } catch (e) {
      this.toast(e.status === 404 ? t('notFound', { n: number }) : e.message, 'error');
    }
  }

  clearErrors() {
    for (const node of document.querySelectorAll('#card .field-error')) node.textContent = '';
    for (const node of document.querySelectorAll('#card [aria-invalid]')) node.removeAttribute('aria-invalid');
    $('form-error').textContent = '';
  }

  showErrors(errors) {
    this.clearErrors();
    let first = null;
    const other = [];
    for (const { field, message } of errors) {
      const id = field === 'category' ? 'category' : field;
      const slot = $(`e-${id}`);
      const input = $(field === 'category' ? 'f-category' : `f-${field}`);
      if (slot && input) {
        slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
        input.setAttribute('aria-invalid', 'true');
        first = first || input;
      } else {
        other.push(message);
      }
    }
    $('form-error').textContent = [t('fixFields'), ...other].join(' ');
    if (first) first.focus();
  }

  /** The browser's own checks, the same as the server's. */
  check(v) {
    const errors = [];
    const need = (field, key) => { if (!v[field].trim()) errors.push({ field, message: t(key) }); };
    // An anonymous appeal has no name and no contact (the fields are
    // cleared and locked when it is ticked).
    if (!v.anonymous) {
      need('surname', 'err_surname');
      need('first_name', 'err_first_name');
      need('patronymic', 'err_patronymic');
    }
    need('address', 'err_address');
    if (v.anonymous) {
      // Nothing to check: no contact.
    } else if (!v.contact_phone.trim() && !v.other_contact.trim()) {
      errors.push({ field: 'contact_phone', message: t('err_contact') });
    } else if (v.contact_phone.trim() && !plausiblePhone(v.contact_phone.trim())) {
      errors.push({ field: 'contact_phone', message: t('err_phone') });
    }
    const email = v.email.trim();
    if (email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) errors.push({ field: 'email', message: t('err_email') });
    if (!v.category_id) errors.push({ field: 'category', message: t('err_category') });
    need('essence', 'err_essence');
    for (const f of ['surname', 'first_name', 'patronymic', 'address']) {
      if ([...v[f]].length > 200) errors.push({ field: f, message: t('err_long', { n: 200 }) });
    }
    if ([...v.essence].length > 4000) errors.push({ field: 'essence', message: t('err_long', { n: 4000 }) });
    errors.push(...placeErrors(v.latitude, v.longitude));
    return errors;
  }

  async save() {
    if (this.saving || $('card').hidden) return;
    const v = this.values();
    const errors = this.check(v);
    if (errors.length) {
      this.showErrors(errors);
      return;
    }
    const key = this.cardKey;
    const body = { ...v, category_id: v.category_id, latitude: degrees(v.latitude), longitude: degrees(v.longitude) };
    if (!isWalkIn(key)) body.call_id = key;
    body.channel = isWalkIn(key) ? 'walk_in' : 'phone';
    if (this.repeatOf) body.repeat_of = this.repeatOf;
    const files = [...$('f-files').files];
    this.saving = true;
    const button = $('save');
    button.disabled = true;
    button.textContent = t('saving');
    try {
      const appeal = await api('POST', '/api/appeals', body);
      this.dropDraft(key);
      if (this.cardKey === key) {
        this.showSaved(appeal);
      } else {
        // Another call popped up meanwhile: its card stays on screen.
        this.toast(t('savedElsewhere', { n: appeal.registration_number }));
        this.renderDrafts();
      }
      await this.upload(appeal.registration_number, files);
      this.refreshMyCalls();
    } catch (e) {
      if (this.cardKey !== key) {
        // The card was put aside meanwhile; its draft keeps it.
        this.toast(t('saveFailed', { m: e.message }), 'error');
      } else if (e instanceof ApiError && e.status === 422 && e.body && Array.isArray(e.body.errors)) {
        this.showErrors(e.body.errors);
      } else {
        $('form-error').textContent = t('saveFailed', { m: e.message });
      }
    } finally {
      this.saving = false;
      button.disabled = false;
      button.textContent = t('save');
    }
  }

  showSaved(appeal) {
    $('saved-number').textContent = appeal.registration_number;
    $('saved-details').textContent = t('savedDetails', { e: appeal.executor_name || appeal.executor, d: dateTime(appeal.deadline) });
    clear($('saved-files'));
    $('card').hidden = true;
    $('saved').hidden = false;
    $('saved').dataset.number = appeal.registration_number;
    $('saved').focus();
  }

  async upload(number, files) {
    const list = $('saved-files');
    for (const file of files) {
      const item = el('li', { text: `${file.name}…` });
      // Shown under the number, or (the card was put aside) in a toast.
      if (!$('saved').hidden && $('saved').dataset.number === number) list.append(item);
      const form = new FormData();
      form.append('file', file, file.name);
      try {
        await api('POST', `/api/appeals/${encodeURIComponent(number)}/attachments`, form);
        item.textContent = t('uploadDone', { f: file.name });
        item.className = 'ok';
      } catch (e) {
        item.textContent = t('uploadFailed', { f: file.name, m: e.message });
        item.className = 'error';
        if (!item.isConnected) this.toast(item.textContent, 'error');
      }
    }
  }

  async block() {
    const reason = $('block-reason').value.trim();
    if (!reason) {
      $('block-error').textContent = t('blockNeedsReason');
      $('block-reason').focus();
      return;
    }
    if (!this.call) return;
    try {
      await api('POST', `/api/calls/${this.call.id}/block`, { reason });
      $('block-dialog').close();
      this.toast(t('blocked'));
    } catch (e) {
      $('block-error').textContent = e.message;
    }
  }
}
