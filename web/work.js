// The card's life after the call: an executor's inbox (tabs by what needs
// doing, cards by deadline with the time left) and the contact centre's
// decisions queue, each with the card open beside the list: its facts, its
// executors, the pending request, its files and history, and a form for each
// step the server offers this user now (`life.actions`). What may be done is
// the server's to decide; the page offers, the rules check.

import { api, ApiError } from './api.js';
import { CategoryPicker } from './categories.js';
import { $, el, listeners } from './dom.js';
import { cityEndOfDay, cityMoment, dateTime, t } from './i18n.js';

/** The classifier's executors ({code, name}), read once: cards carry an
 * executor's code, people read its name. */
let executors = [];
let executorsRead = null;
function readExecutors() {
  executorsRead ??= api('GET', '/api/executors').then((list) => {
    executors = list;
  }, () => {
    executorsRead = null;
  });
  return executorsRead;
}

let categories = [];
let categoriesRead = null;
/** The classifier's sections and types, read once (the triage's form). */
function readCategories() {
  categoriesRead ??= api('GET', '/api/classifier').then((tree) => {
    categories = tree.sections;
  }, () => {
    categoriesRead = null;
  });
  return categoriesRead;
}

/** An executor's name, or its code if the classifier no longer has it. */
function executorName(code) {
  return executors.find((e) => e.code === code)?.name || code;
}

const TABS = ['new', 'in_progress', 'overdue', 'due_soon', 'awaiting', 'long_term', 'closed'];

/** Time left as people say it: "2 дн 4 год", "35 хв", or overdue. */
export function timeLeft(seconds) {
  const s = Math.abs(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const span = d > 0 ? t('spanDays', { d, h }) : h > 0 ? t('spanHours', { h, m }) : t('spanMinutes', { m });
  return seconds < 0 ? t('overdueBy', { span }) : span;
}

/** The class of a time left: overdue, due soon (under a day) or calm. */
function urgency(card) {
  if (card.deadline_runs === false) return 'muted';
  if (card.overdue || card.seconds_left < 0) return 'late';
  if ((card.tabs || []).includes('due_soon') || card.seconds_left < 86400) return 'soon';
  return '';
}

/** The request awaiting a decision, in words. */
function requestText(pending) {
  if (!pending) return '';
  const r = pending.request;
  const what = {
    change_executor: () => t('req_change_executor', { to: r.suggested ? executorName(r.suggested) : '—' }),
    extension: () => t('req_extension', { until: dateTime(r.until) }),
    long_term: () => t('req_long_term', { planned: r.planned }),
    closure: () => t('req_closure'),
  }[r.kind];
  return what ? what() : r.kind;
}

/** A refusal in the user's words: the rules' code translated, the field
 * errors listed, else the server's message. */
function refusalText(e) {
  if (!(e instanceof ApiError)) return e.message;
  const body = e.body || {};
  if (body.code && t(`refusal_${body.code}`) !== `refusal_${body.code}`) {
    return `${t(`refusal_${body.code}`)} (${body.error})`;
  }
  if (Array.isArray(body.errors)) return body.errors.map((x) => x.message).join(' ');
  return e.message;
}

/** The fields each step's form asks for. */
const FORMS = {
  accept: [{ name: 'responsible', kind: 'text', required: true, max: 200 }],
  comment: [{ name: 'text', kind: 'area', required: true, max: 2000 }],
  ask_citizen: [{ name: 'question', kind: 'area', required: true, max: 2000 }],
  attach: [{ name: 'files', kind: 'files', required: true }, { name: 'proof', kind: 'check' }],
  request_change: [{ name: 'reason', kind: 'area', required: true, max: 2000 }, { name: 'suggested', kind: 'executor' }],
  not_ours: [{ name: 'reason', kind: 'area', required: true, max: 2000 }],
  request_extension: [
    { name: 'until', kind: 'date', required: true },
    { name: 'reason', kind: 'area', required: true, max: 2000 },
    { name: 'documents', kind: 'files', required: true },
  ],
  request_long_term: [
    { name: 'planned', kind: 'date', required: true },
    { name: 'reason', kind: 'area', required: true, max: 2000 },
    { name: 'documents', kind: 'files', required: true },
  ],
  propose_closure: [
    { name: 'summary', kind: 'area', required: true, max: 2000 },
    { name: 'proof', kind: 'files', required: true },
  ],
  withdraw: [],
  approve: [{ name: 'note', kind: 'text', max: 2000 }],
  reject: [{ name: 'reason', kind: 'area', required: true, max: 2000 }],
  reassign: [{ name: 'executor', kind: 'executor', required: true }, { name: 'reason', kind: 'area', required: true, max: 2000 }],
  classify: [{ name: 'category', kind: 'category', required: true }],
  dismiss: [{ name: 'reason', kind: 'area', required: true, max: 2000 }],
  mark_contested: [{ name: 'reason', kind: 'area', required: true, max: 2000 }],
  direct_control: [{ name: 'reason', kind: 'area', required: true, max: 2000 }],
  verify: [
    { name: 'result', kind: 'select', required: true, options: ['confirmed', 'not_confirmed', 'no_answer'] },
    { name: 'rating', kind: 'select', options: ['', '5', '4', '3', '2', '1'] },
    { name: 'citizen_reason', kind: 'area', max: 2000 },
  ],
};

/** The control rule's decision in words: "total: confirmation rate 72 %
 * in 11.2026 (18 of 25; below 80 %)". */
export function controlText(decision) {
  if (!decision) return '';
  const r = decision.reason || {};
  const spanText = (span) => (span ? `${span.start} – ${span.end}` : '');
  const pct = (bp) => `${Math.round(bp / 100)} %`;
  const why = {
    emergency: () => t('why_emergency'),
    low_confirmation: () => t('why_low_confirmation', {
      rate: r.answered ? `${Math.round((100 * r.confirmed) / r.answered)} %` : '—',
      confirmed: r.confirmed, answered: r.answered, threshold: pct(r.threshold_bp), span: spanText(r.span),
    }),
    frequent_repeats: () => t('why_frequent_repeats', { repeats: r.repeats, closed: r.closed, span: spanText(r.span) }),
    contested: () => t('why_contested'),
    drawn: () => t('why_drawn', { share: pct(r.share_bp) }),
    not_drawn: () => t('why_not_drawn', { share: pct(r.share_bp) }),
    anonymous: () => t('why_anonymous'),
  }[r.why];
  return `${t(`level_${decision.level}`)}: ${why ? why() : r.why}`;
}

/** An attempt to ask the citizen, in words. */
function verificationText(v) {
  if (!v) return '';
  const bits = [t(`channel_${v.channel}`), t(`result_${v.result}`)];
  if (v.rating) bits.push(t('ratingIs', { n: v.rating }));
  if (v.next) bits.push(t('nextAttemptIs', { who: t(`mode_${v.next.mode}`), at: dateTime(v.next.next_at) }));
  return bits.join(' · ');
}

/**
 * A card open beside a list: everything on it and the steps offered.
 * `onChanged()` is called after a step was taken.
 */
/** A citizen's channel as the history names it: `web`, `chatbot`, or
 * `open311:<application>`. */
function viaText(login) {
  const [channel, app] = login.split(/:(.*)/s);
  const name = t(`via_${channel}`);
  return app ? `${name} · ${app}` : name;
}

class CardPanel {
  constructor(root, { toast, onChanged, extra }) {
    this.root = root;
    this.toast = toast;
    this.onChanged = onChanged;
    // Something a view puts above the steps (the verification page's call).
    this.extra = extra;
    this.number = null;
  }

  clear() {
    this.number = null;
    this.root.replaceChildren(el('p', { class: 'muted', text: t('pickCard') }));
  }

  async open(number) {
    this.number = number;
    let card;
    let history;
    try {
      [card, history] = await Promise.all([
        api('GET', `/api/appeals/${encodeURIComponent(number)}`),
        api('GET', `/api/appeals/${encodeURIComponent(number)}/history`),
      ]);
    } catch (e) {
      this.root.replaceChildren(el('p', { class: 'error', role: 'alert', text: refusalText(e) }));
      return;
    }
    if (this.number !== number) return;
    this.render(card, history);
  }

  /** Reads the open card again (after a change someone else made). */
  refresh() {
    if (this.number) this.open(this.number);
  }

  render(card, history) {
    const life = card.life || { actions: [], executors: [] };
    const name = [card.surname, card.first_name, card.patronymic].filter(Boolean).join(' ');
    const facts = el('dl', { class: 'facts' });
    const fact = (label, value, cls) => {
      if (value == null || value === '') return;
      facts.append(el('dt', { text: t(label) }), el('dd', { class: cls || '', text: value }));
    };
    fact('state', t(`status_${card.status}`));
    fact('kind', t(`kind_${card.kind}`));
    fact('deadline', life.deadline_runs === false ? `${dateTime(card.deadline)} · ${t('deadlineStopped')}`
      : `${dateTime(card.deadline)} · ${timeLeft(life.seconds_left ?? 0)}`, urgency(life));
    fact('control', t(`control_${life.control}`));
    if (life.extensions) fact('extensions', String(life.extensions));
    if (life.planned) fact('plannedDate', life.planned);
    fact('category', card.category);
    fact('address', card.address);
    if (card.latitude != null && card.longitude != null) {
      const point = `${card.latitude.toFixed(5)}, ${card.longitude.toFixed(5)}`;
      const map = `https://www.openstreetmap.org/?mlat=${card.latitude}&mlon=${card.longitude}#map=18/${card.latitude}/${card.longitude}`;
      facts.append(el('dt', { text: t('placeOnMap') }),
        el('dd', {}, el('a', { href: map, target: '_blank', rel: 'noopener noreferrer', text: point })));
    }
    fact('applicant', card.anonymous ? t('anonymousApplicant') : name);
    fact('contactPhone', card.contact_phone);
    fact('otherContact', card.other_contact);
    fact('registeredAt', dateTime(card.created_at));
    if (card.channel) {
      fact('channelIs', card.open311
        ? `${t('channel_open311')} · ${card.open311.application}` : t(`channel_${card.channel}`));
    }
    if (card.open311?.media_url && /^https?:\/\//.test(card.open311.media_url)) {
      facts.append(el('dt', { text: t('appPhoto') }),
        el('dd', {}, el('a', { href: card.open311.media_url, target: '_blank', rel: 'noopener noreferrer nofollow', text: t('openLink') })));
    }
    if (life.delivery_at) fact('deliveryAt', dateTime(life.delivery_at));

    const parts = el('ul', { class: 'list small' });
    for (const p of life.executors || []) {
      const bits = [executorName(p.executor), p.lead ? t('lead') : t('coExecutor')];
      if (p.responsible) bits.push(t('responsibleIs', { who: p.responsible }));
      else if (p.declined) bits.push(t('declined', { why: p.declined }));
      else bits.push(t('notAccepted'));
      parts.append(el('li', { text: bits.join(' · ') }));
    }

    const pending = life.pending
      ? el('div', { class: 'pending', role: 'status' },
        el('strong', { text: requestText(life.pending) }),
        el('span', { text: ` · ${executorName(life.pending.by)} · ${(life.seconds_to_decide ?? 0) < 0
          ? t('decisionLate', { span: timeLeft(-life.seconds_to_decide) })
          : t('decideWithin', { span: timeLeft(life.seconds_to_decide ?? 0) })}` }),
        life.pending.needs_curator ? el('span', { class: 'muted', text: ` · ${t('needsCurator')}` }) : null)
      : null;

    const files = el('ul', { class: 'list small' });
    for (const a of card.attachments || []) {
      files.append(el('li', {}, el('a', { href: a.url, text: a.file_name }), el('span', { class: 'muted', text: ` · ${dateTime(a.uploaded_at)}` })));
    }
    if (!files.children.length) files.append(el('li', { class: 'muted', text: t('noFiles') }));

    const steps = el('ol', { class: 'list small history' });
    for (const h of history) {
      const who = h.role === 'citizen' ? t('citizenVia', { via: viaText(h.login) })
        : h.executor ? `${h.login} (${executorName(h.executor)})` : h.login;
      // The state after the step, unless the step's name says it.
      const named = ['delivered', 'closure_proposed', 'closed', 'dismissed', 'moved_to_long_term'].includes(h.kind);
      const moved = h.from !== h.to && !named ? ` → ${t(`status_${h.to}`)}` : '';
      const extra = [];
      if (h.details?.deadline && h.details.deadline.from !== h.details.deadline.to) extra.push(t('newDeadline', { at: dateTime(h.details.deadline.to) }));
      if (h.details?.responsible) extra.push(t('responsibleIs', { who: h.details.responsible }));
      if (h.details?.request) extra.push(requestText({ request: h.details.request }));
      if (h.details?.proof) extra.push(t('asProof'));
      if (h.details?.control) extra.push(controlText(h.details.control));
      if (h.details?.verification) extra.push(verificationText(h.details.verification));
      if (h.details?.repeat) extra.push(t('repeatIs', { number: h.details.repeat }));
      steps.append(el('li', {},
        el('span', { class: 'muted', text: `${dateTime(h.at)} · ${who} · ` }),
        el('strong', { text: t(`entry_${h.kind}`) + moved }),
        extra.length ? el('span', { text: ` · ${extra.join(' · ')}` }) : null,
        h.text ? el('div', { class: 'quote', text: h.text }) : null));
    }

    const actions = el('div', { class: 'step-buttons' });
    const formBox = el('div', { class: 'step-form' });
    for (const action of life.actions || []) {
      actions.append(el('button', {
        type: 'button', class: action === 'propose_closure' || action === 'approve' || action === 'accept' ? 'primary' : '',
        'data-action': action, text: t(`act_${action}`),
        onclick: () => this.showForm(formBox, card, action),
      }));
    }

    this.root.replaceChildren(...[
      el('h2', { text: `${t('appeal')} ${card.registration_number}` }),
      facts,
      card.essence ? el('p', { class: 'essence', text: card.essence }) : null,
      pending,
      this.extra ? this.extra(card) : null,
      el('h2', { text: t('steps') }),
      life.actions?.length ? actions : el('p', { class: 'muted', text: t('noSteps') }),
      formBox,
      el('h2', { text: t('executors') }), parts,
      el('h2', { text: t('files') }), files,
      el('h2', { text: t('history') }), steps,
    ].filter(Boolean));
  }

  showForm(box, card, action) {
    const form = el('form', { class: 'step', novalidate: '', 'data-form': action });
    const inputs = {};
    for (const f of FORMS[action] || []) {
      const id = `step-${action}-${f.name}`;
      let input;
      // A search box above the field (the classifier's long list).
      let above = null;
      if (f.kind === 'area') input = el('textarea', { id, rows: '3', maxlength: String(f.max) });
      else if (f.kind === 'date') input = el('input', { id, type: 'date' });
      else if (f.kind === 'files') input = el('input', { id, type: 'file', multiple: '' });
      else if (f.kind === 'check') input = el('input', { id, type: 'checkbox' });
      else if (f.kind === 'executor') {
        // The card's own executors are not where it would go.
        const own = (card.life?.executors || []).map((p) => p.executor);
        input = el('select', { id }, el('option', { value: '', text: '—' }),
          ...executors.filter((e) => !own.includes(e.code))
            .map((e) => el('option', { value: e.code, text: e.name })));
      } else if (f.kind === 'category') {
        // The classifier's types by section, each with its executor,
        // narrowed (best first) by the words typed above it.
        input = el('select', { id });
        const picker = new CategoryPicker(input,
          (q) => api('GET', `/api/classifier/search?q=${encodeURIComponent(q)}`).then((r) => r.types),
          () => [el('option', { value: '', text: t('chooseCategory') })]);
        picker.setTypes(categories.flatMap((s) => s.types.map((x) => ({ id: x.id, section: s.name, label: `${x.name} · ${x.executor}` }))));
        const filter = el('input', {
          id: `${id}-filter`, type: 'search', placeholder: t('categoryFilter'), 'aria-label': t('categoryFilter'),
          autocomplete: 'off', oninput: () => picker.filter(filter.value),
          // Enter takes the best match rather than sending the form.
          onkeydown: async (e) => {
            if (e.key !== 'Enter') return;
            e.preventDefault();
            await picker.takeBest();
            if (document.activeElement === filter) input.focus();
          },
        });
        above = filter;
      } else if (f.kind === 'select') {
        input = el('select', { id });
        for (const o of f.options) input.append(el('option', { value: o, text: o ? t(`${f.name}_${o}`) : '—' }));
      }
      else input = el('input', { id, maxlength: String(f.max) });
      if (f.required) input.setAttribute('aria-required', 'true');
      inputs[f.name] = input;
      const label = el('label', { for: id, text: t(`field_${f.name}`) + (f.required ? ' *' : '') });
      form.append(f.kind === 'check' ? el('div', { class: 'inline-check' }, input, label) : el('div', {}, label, above, input));
    }
    const error = el('p', { class: 'error', role: 'alert' });
    const submit = el('button', { type: 'submit', class: 'primary', text: t(`act_${action}`) });
    form.append(error, el('div', { class: 'row' }, submit,
      el('button', { type: 'button', text: t('cancel'), onclick: () => box.replaceChildren() })));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      error.textContent = '';
      const missing = (FORMS[action] || []).find((f) => f.required && (f.kind === 'files' ? !inputs[f.name].files.length : !inputs[f.name].value.trim()));
      if (missing) {
        error.textContent = t('fillField', { field: t(`field_${missing.name}`) });
        inputs[missing.name].setAttribute('aria-invalid', 'true');
        inputs[missing.name].focus();
        return;
      }
      submit.disabled = true;
      try {
        await this.take(card, action, inputs);
        box.replaceChildren();
        this.toast(t('stepDone'), 'info');
        this.onChanged?.();
        await this.open(card.registration_number);
      } catch (e) {
        error.textContent = refusalText(e);
      } finally {
        submit.disabled = false;
      }
    });
    box.replaceChildren(form);
    form.querySelector('input, select, textarea, button')?.focus();
  }

  /** Uploads the files a step needs, then takes the step. */
  async take(card, action, inputs) {
    const number = encodeURIComponent(card.registration_number);
    const upload = async (input, proof) => {
      const ids = [];
      for (const file of input.files) {
        const data = new FormData();
        data.append('proof', proof ? 'true' : 'false');
        data.append('file', file);
        const stored = await api('POST', `/api/appeals/${number}/attachments`, data);
        ids.push(stored.id);
      }
      return ids;
    };
    const value = (name) => inputs[name].value.trim();
    // A file added is a step of its own (attached, in the history).
    if (action === 'attach') {
      await upload(inputs.files, inputs.proof.checked);
      return;
    }
    const body = { action };
    switch (action) {
      case 'accept': body.responsible = value('responsible'); break;
      case 'comment': body.text = value('text'); break;
      case 'ask_citizen': body.text = value('question'); break;
      case 'request_change':
        body.reason = value('reason');
        if (value('suggested')) body.suggested = value('suggested');
        break;
      case 'not_ours': case 'reject': case 'dismiss': case 'mark_contested': case 'direct_control':
        body.reason = value('reason');
        break;
      case 'verify':
        body.result = value('result');
        body.channel = 'operator';
        if (value('rating')) body.rating = Number(value('rating'));
        if (value('citizen_reason')) body.reason = value('citizen_reason');
        // The click-to-call made from this card, if any.
        if (this.calls?.[card.registration_number]) body.call = this.calls[card.registration_number];
        break;
      case 'request_extension':
        body.until = cityEndOfDay(value('until'));
        body.reason = value('reason');
        body.documents = await upload(inputs.documents, false);
        break;
      case 'request_long_term':
        body.planned = value('planned');
        body.reason = value('reason');
        body.documents = await upload(inputs.documents, false);
        break;
      case 'propose_closure':
        body.summary = value('summary');
        body.proof = await upload(inputs.proof, true);
        break;
      case 'approve':
        if (value('note')) body.note = value('note');
        break;
      case 'classify':
        body.category = value('category');
        break;
      case 'reassign':
        body.executors = [{ executor: value('executor'), lead: true }];
        body.reason = value('reason');
        break;
      default: break;
    }
    await api('POST', `/api/appeals/${number}/actions`, body);
  }
}

/** The rows of a list of cards; `onPick(number)` opens one. */
function cardRows(tbody, cards, { onPick, selected, decisions }) {
  tbody.replaceChildren();
  for (const c of cards) {
    const pick = () => onPick(c.registration_number);
    const row = el('tr', {
      tabindex: '0', class: c.registration_number === selected ? 'selected' : '',
      'data-number': c.registration_number,
      onclick: pick, onkeydown: (e) => { if (e.key === 'Enter') pick(); },
    },
    el('td', { class: 'mono nowrap', text: c.registration_number }),
    el('td', { text: c.category }),
    el('td', { text: c.address || '' }),
    el('td', { text: decisions ? requestText(c.pending) : t(`status_${c.status}`) },
      // Filed outside the executor's hours: when it is delivered.
      !decisions && c.delivery_at ? el('div', { class: 'small muted', text: t('deliveredAt', { at: dateTime(c.delivery_at) }) }) : null),
    decisions ? el('td', { text: c.pending?.by ? executorName(c.pending.by) : '' }) : null,
    el('td', { text: dateTime(decisions ? c.pending?.due : c.deadline) }),
    el('td', { class: `left ${decisions ? ((c.seconds_to_decide ?? 0) < 0 ? 'late' : '') : urgency(c)}`, text: decisions ? timeLeft(c.seconds_to_decide ?? 0) : c.deadline_runs ? timeLeft(c.seconds_left) : '—' }));
    tbody.append(row);
  }
  if (!cards.length) {
    tbody.append(el('tr', {}, el('td', { colspan: decisions ? '7' : '6', class: 'muted', text: t('nothingHere') })));
  }
}

/**
 * A list of cards with the one picked open beside it, kept current by the
 * websocket: `list` is the table's body, `panel` the card's place; the
 * subclass's `load()` reads the list.
 */
class CardsBeside {
  constructor({ toast, list, panel, extra }) {
    this.toast = toast;
    this.list = list;
    this.selected = null;
    this.abort = new AbortController();
    this.panel = new CardPanel($(panel), { toast, onChanged: () => this.load(), extra });
  }

  async start() {
    this.panel.clear();
    await readExecutors();
    await this.load();
  }

  stop() {
    this.abort.abort();
  }

  retranslate() {
    this.load();
    this.panel.refresh();
  }

  onMessage(message) {
    // A console that fell behind gets hello again: read everything afresh.
    if (message.type !== 'card_changed' && message.type !== 'hello') return;
    this.load();
    if (message.type === 'hello' || message.registration_number === this.selected) this.panel.refresh();
  }

  /** Shows the rows, the picked one marked. */
  rows(cards, decisions = false) {
    cardRows($(this.list), cards, { decisions, selected: this.selected, onPick: (n) => this.pick(n) });
  }

  pick(number) {
    this.selected = number;
    for (const row of $(this.list).querySelectorAll('tr')) row.classList.toggle('selected', row.dataset.number === number);
    this.panel.open(number);
  }
}

/** An executor's inbox: tabs with counts, its cards by deadline. */
export class InboxView extends CardsBeside {
  constructor({ toast }) {
    super({ toast, list: 'inbox-list', panel: 'inbox-card' });
    this.tab = 'new';
  }

  async start() {
    listeners(this.abort)($('inbox-tabs'), 'click', (e) => {
      const button = e.target.closest('button[data-tab]');
      if (!button) return;
      this.tab = button.dataset.tab;
      this.load();
    });
    await super.start();
  }

  async load() {
    let inbox;
    try {
      inbox = await api('GET', `/api/inbox?tab=${this.tab}`);
    } catch (e) {
      $('inbox-error').textContent = refusalText(e);
      return;
    }
    $('inbox-error').textContent = '';
    $('inbox-org').textContent = inbox.executor_name || inbox.executor;
    const tabs = $('inbox-tabs');
    tabs.replaceChildren();
    for (const name of TABS) {
      const count = inbox.counts.find((c) => c.tab === name)?.count ?? 0;
      tabs.append(el('button', {
        type: 'button', role: 'tab', 'data-tab': name,
        'aria-selected': String(name === this.tab),
        class: `tab ${name === 'overdue' && count ? 'late' : ''}`,
      }, t(`tab_${name}`), el('span', { class: 'count', text: String(count) })));
    }
    this.rows(inbox.cards);
  }
}

/** The contact centre's decisions: requests and closure proposals, the
 * soonest due first (a curator sees the extensions awaiting them). */
export class DecisionsView extends CardsBeside {
  constructor({ toast }) {
    super({ toast, list: 'decisions-list', panel: 'decision-card' });
  }

  async load() {
    let cards;
    try {
      cards = await api('GET', '/api/decisions');
    } catch (e) {
      $('decisions-error').textContent = refusalText(e);
      return;
    }
    $('decisions-error').textContent = '';
    $('decisions-count').textContent = String(cards.length);
    this.rows(cards, true);
  }
}

/** Verification: the cards whose citizens are to be called back, the
 * longest waiting first; the card open beside with "Call" (the operator's
 * softphone rings, then the citizen) and the outcome form. Supervisors
 * also see the cards under direct control and the confirmation rates. */
/** The cards sent without a subject: the contact centre classifies them. */
export class TriageView extends CardsBeside {
  constructor({ toast }) {
    super({ toast, list: 'triage-list', panel: 'triage-card' });
  }

  async start() {
    await readCategories();
    await super.start();
  }

  async load() {
    let cards;
    try {
      cards = await api('GET', '/api/triage');
    } catch (e) {
      $('triage-error').textContent = refusalText(e);
      return;
    }
    $('triage-error').textContent = '';
    $('triage-count').textContent = String(cards.length);
    for (const c of cards) c.category = t('noSubjectYet');
    this.rows(cards);
  }
}

export class VerificationView extends CardsBeside {
  constructor({ session, toast }) {
    super({ toast, list: 'verification-list', panel: 'verification-card', extra: (card) => this.callBox(card) });
    this.role = session.user.role;
    this.panel.calls = {};
  }

  /** "Call" for an operator, on a card awaiting verification. */
  callBox(card) {
    if (this.role !== 'operator' || card.status !== 'verification') return null;
    const status = el('span', { class: 'muted', role: 'status' });
    const placed = this.panel.calls[card.registration_number];
    if (placed) status.textContent = t('callPlaced');
    const button = el('button', {
      type: 'button', class: 'primary', id: 'call-citizen', text: t('callCitizen'),
      onclick: async () => {
        button.disabled = true;
        status.textContent = t('callOperatorRinging');
        try {
          const r = await api('POST', `/api/verification/${encodeURIComponent(card.registration_number)}/call`);
          this.panel.calls[card.registration_number] = r.call;
          status.textContent = t('callPlaced');
        } catch (e) {
          // The console's own words for why no call was made.
          const why = !(e instanceof ApiError) ? e.message
            : e.status === 409 && /softphone/.test(e.message) ? t('callNoSoftphone')
              : e.status === 409 ? t('callNotDue')
                : e.status === 403 ? t('callNotOperator')
                  : e.status === 503 ? t('callUnavailable') : refusalText(e);
          status.textContent = why;
          status.className = 'error';
        } finally {
          button.disabled = false;
        }
      },
    });
    return el('div', { class: 'call-box' }, button, ' ', status,
      el('p', { class: 'small muted', text: t('callHow') }));
  }

  async load() {
    let cards;
    try {
      cards = await api('GET', '/api/verification');
    } catch (e) {
      $('verification-error').textContent = refusalText(e);
      return;
    }
    $('verification-error').textContent = '';
    $('verification-count').textContent = String(cards.length);
    const tbody = $(this.list);
    tbody.replaceChildren();
    for (const c of cards) {
      const marks = [c.emergency ? t('markEmergency') : null, c.contested ? t('markContested') : null,
        c.direct_control ? t('markDirectControl') : null].filter(Boolean).join(' · ');
      const row = el('tr', { 'data-number': c.registration_number, tabindex: '0', class: c.registration_number === this.selected ? 'selected' : '' },
        el('td', {}, el('strong', { text: c.registration_number }),
          marks ? el('div', { class: 'small late', text: marks }) : null),
        el('td', { text: c.category }),
        el('td', { class: 'small', text: `${c.report || '—'}${c.proof_files ? ` · ${t('proofFiles', { n: c.proof_files })}` : ''}` }),
        el('td', { text: c.mode ? t(`mode_${c.mode}`) : '—' }),
        el('td', { text: String(c.attempts) }),
        el('td', { text: c.next_at ? dateTime(c.next_at) : '—' }));
      const pick = () => this.pick(c.registration_number);
      row.addEventListener('click', pick);
      row.addEventListener('keydown', (e) => { if (e.key === 'Enter') pick(); });
      tbody.append(row);
    }
    if (!cards.length) tbody.append(el('tr', {}, el('td', { colspan: '6', class: 'muted', text: t('nothingHere') })));
    if (this.role === 'supervisor' || this.role === 'admin') await this.loadControl();
  }

  async loadControl() {
    let control;
    try {
      control = await api('GET', '/api/verification/control');
    } catch (e) {
      $('verification-error').textContent = refusalText(e);
      return;
    }
    $('verification-control').hidden = false;
    const dc = $('direct-control-list');
    dc.replaceChildren();
    for (const c of control.direct_control) {
      const row = el('tr', { 'data-number': c.registration_number, tabindex: '0' },
        el('td', { text: c.registration_number }), el('td', { text: c.category }),
        el('td', { text: c.address || '' }), el('td', { text: t(`status_${c.status}`) }),
        el('td', { text: dateTime(c.created_at) }));
      row.addEventListener('click', () => this.pick(c.registration_number));
      dc.append(row);
    }
    if (!control.direct_control.length) dc.append(el('tr', {}, el('td', { colspan: '5', class: 'muted', text: t('nothingHere') })));
    // The previous period drives the control rule; this one, until it has
    // answers, shows how things go.
    const previous = control.previous.executors.length > 0;
    const period = previous ? control.previous : control.current;
    const day = (iso) => iso.split('-').reverse().join('.');
    const last = new Date(`${period.span.end}T12:00:00Z`);
    last.setUTCDate(last.getUTCDate() - 1);
    $('rates-span').textContent = `(${t(previous ? 'periodPrevious' : 'periodCurrent', {
      from: day(period.span.start), to: day(last.toISOString().slice(0, 10)),
    })})`;
    const rates = $('rates-list');
    rates.replaceChildren();
    for (const r of period.executors) {
      rates.append(el('tr', {},
        el('td', { text: r.name || r.executor }), el('td', { text: String(r.closed) }),
        el('td', { text: String(r.confirmed) }), el('td', { text: String(r.not_confirmed) }),
        el('td', { class: r.below ? 'late' : '', text: r.rate == null ? '—' : `${Math.round(r.rate * 100)} %` }),
        el('td', { text: String(r.repeats) })));
    }
    if (!period.executors.length) rates.append(el('tr', {}, el('td', { colspan: '6', class: 'muted', text: t('nothingHere') })));
  }
}

/** "вул. Соборна, 10-20" → {street, house}: the street, then after the first
 * comma the houses (a number, a range, a list); a line without a comma is
 * the whole street. */
function parseAddress(line) {
  const at = line.indexOf(',');
  if (at < 0) return { street: line.trim() };
  const house = line.slice(at + 1).trim();
  return house ? { street: line.slice(0, at).trim(), house } : { street: line.slice(0, at).trim() };
}

/** The repair works registry: every work in progress or planned; an
 * executor's users register their organisation's, extend and close them. */
export class WorksView {
  constructor({ session, toast }) {
    this.toast = toast;
    this.abort = new AbortController();
    this.executor = session.user.role === 'executor';
    this.staff = ['supervisor', 'admin'].includes(session.user.role);
  }

  async start() {
    $('works-form').hidden = !this.executor;
    $('ann-block').hidden = this.executor;
    $('ann-form').hidden = !this.staff;
    const on = listeners(this.abort);
    on($('ann-form'), 'submit', (e) => {
      e.preventDefault();
      this.publish();
    });
    on($('works-form'), 'submit', (e) => {
      e.preventDefault();
      this.register();
    });
    on($('wf-kind'), 'change', () => this.kindChanged());
    this.kindChanged();
    await readExecutors();
    await this.load();
  }

  /** Publishes the announcement the form holds. */
  async publish() {
    for (const f of ['title', 'body', 'until']) $(`e-an-${f}`).textContent = '';
    const body = { title: $('an-title').value, body: $('an-body').value };
    if ($('an-until').value) body.until = $('an-until').value;
    try {
      await api('POST', '/api/announcements', body);
      $('ann-form').reset();
      this.toast(t('annPublished_'), 'info');
      await this.loadAnnouncements();
    } catch (e) {
      const errors = e.body?.errors;
      if (Array.isArray(errors)) {
        for (const x of errors) ($(`e-an-${x.field}`) || $('e-an-body')).textContent = x.message;
        $(`an-${errors[0].field}`)?.focus();
      } else {
        this.toast(e.message, 'error');
      }
    }
  }

  async withdraw(a) {
    if (!window.confirm(t('annWithdrawSure', { title: a.title }))) return;
    try {
      await api('POST', `/api/announcements/${a.id}/withdraw`, {});
      await this.loadAnnouncements();
    } catch (e) {
      this.toast(e.message, 'error');
    }
  }

  async loadAnnouncements() {
    if (this.executor) return;
    let announcements;
    try {
      ({ announcements } = await api('GET', '/api/announcements'));
    } catch (e) {
      this.toast(e.message, 'error');
      return;
    }
    const now = Date.now();
    const rows = announcements.map((a) => {
      const ended = a.withdrawn_at || (a.until && Date.parse(a.until) <= now);
      const state = a.withdrawn_at ? t('annWithdrawnBy', { who: a.withdrawn_by, at: dateTime(a.withdrawn_at) })
        : (a.until ? dateTime(a.until) : t('untilLifted'));
      return el('tr', { 'data-announcement': a.id, class: ended ? 'muted' : '' },
        el('td', { text: a.title }),
        el('td', { text: a.body }),
        el('td', { text: dateTime(a.published_at) }),
        el('td', { text: state }),
        el('td', { text: a.author }),
        el('td', {}, this.staff && !ended
          ? el('button', { type: 'button', class: 'small', text: t('annWithdraw'), onclick: () => this.withdraw(a) })
          : null));
    });
    if (!rows.length) rows.push(el('tr', {}, el('td', { colspan: '6', class: 'muted', text: t('nothingHere') })));
    $('ann-list').replaceChildren(...rows);
  }

  stop() {
    this.abort.abort();
  }

  onMessage() {}

  retranslate() {
    this.load();
  }

  kindChanged() {
    // An emergency began now: its start is optional.
    $('wf-start-req').hidden = $('wf-kind').value === 'emergency';
  }

  async register() {
    for (const id of ['e-wf-kind', 'e-wf-description', 'e-wf-starts_at', 'e-wf-expected_end', 'e-wf-addresses']) $(id).textContent = '';
    const body = {
      kind: $('wf-kind').value,
      service: $('wf-service').value,
      description: $('wf-description').value,
      expected_end: $('wf-end').value ? cityMoment($('wf-end').value) : null,
      addresses: $('wf-addresses').value.split('\n').map((l) => l.trim()).filter(Boolean).map(parseAddress),
    };
    if ($('wf-start').value) body.starts_at = cityMoment($('wf-start').value);
    try {
      await api('POST', '/api/works', body);
      $('works-form').reset();
      this.kindChanged();
      this.toast(t('workRegistered'), 'info');
      await this.load();
    } catch (e) {
      const errors = e.body?.errors;
      if (Array.isArray(errors)) {
        for (const x of errors) {
          const slot = $(`e-wf-${x.field}`) || $('e-wf-description');
          slot.textContent = x.message;
        }
      } else {
        this.toast(e.message, 'error');
      }
    }
  }

  async act(work, what, until) {
    try {
      if (what === 'extend') {
        await api('POST', `/api/works/${work.id}/extend`, { until: cityMoment(until) });
      } else {
        await api('POST', `/api/works/${work.id}/close`, {});
      }
      await this.load();
    } catch (e) {
      this.toast(e.body?.errors?.[0]?.message || e.message, 'error');
    }
  }

  /** The work's own controls: a new end to extend it to, and closing it. */
  controls(work) {
    const until = el('input', { type: 'datetime-local', 'aria-label': t('workExtendTo'), class: 'until' });
    return el('span', { class: 'row' },
      until,
      el('button', {
        type: 'button', class: 'small', text: t('workExtend'),
        onclick: () => {
          if (!until.value) {
            until.setAttribute('aria-invalid', 'true');
            until.focus();
            this.toast(t('workExtendTo'), 'error');
            return;
          }
          this.act(work, 'extend', until.value);
        },
      }),
      el('button', { type: 'button', class: 'small', text: t('workClose'), onclick: () => this.act(work, 'close') }));
  }

  async load() {
    let works;
    try {
      ({ works } = await api('GET', '/api/works'));
    } catch (e) {
      this.toast(e.message, 'error');
      return;
    }
    const rows = works.map((w) => el('tr', { 'data-work': w.id, class: w.in_progress ? 'now' : '' },
      el('td', { class: w.kind === 'emergency' ? 'late' : '', text: t(`work_${w.kind}`) }),
      el('td', { text: t(`service_${w.service}`) }),
      el('td', { text: w.description }),
      el('td', { text: w.addresses.map((a) => (a.house ? `${a.street}, ${a.house}` : a.street)).join('; ') }),
      el('td', { text: `${dateTime(w.starts_at)} – ${dateTime(w.expected_end)}` }),
      el('td', { text: w.in_progress ? t('workNow') : t('workPlanned') }),
      el('td', { class: 'muted', text: w.executor ? executorName(w.executor) : '' }),
      el('td', {}, w.yours ? this.controls(w) : null)));
    if (!rows.length) rows.push(el('tr', {}, el('td', { colspan: '8', class: 'muted', text: t('nothingHere') })));
    $('works-list').replaceChildren(...rows);
    await this.loadAnnouncements();
  }
}
