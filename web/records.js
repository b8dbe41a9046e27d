// Recordings (search, play with seeking, details, legal holds), the block
// list (add, lift), and the recordings' access log (admins, with a CSV
// export). Each view only asks the API; what a role may see is the
// server's to decide.

import { api, ApiError } from './api.js';
import { $, el, listeners } from './dom.js';
import { dateTime, duration, ivrStep, t } from './i18n.js';

/** What the three views share: listeners removed when the view stops, no
 * use for the websocket, and failures told to the user. */
class View {
  constructor({ toast }) {
    this.toast = toast;
    this.abort = new AbortController();
  }

  stop() {
    this.abort.abort();
  }

  onMessage() {}

  retranslate() {
    this.load();
  }

  /** Runs `work`; a failure is shown as a toast. */
  async attempt(work) {
    try {
      await work();
    } catch (e) {
      this.toast(e.message, 'error');
    }
  }
}

/** The query string of a form's filled fields. */
function formQuery(pairs) {
  const q = new URLSearchParams();
  for (const [name, value] of pairs) if (value && String(value).trim()) q.set(name, String(value).trim());
  return q;
}

export class RecordingsView extends View {
  constructor({ session, toast }) {
    super({ toast });
    this.session = session;
    this.page = 1;
    this.perPage = 25;
    this.canHold = ['supervisor', 'admin'].includes(session.user.role);
  }

  async start() {
    const on = listeners(this.abort);
    on($('rec-search'), 'submit', (e) => {
      e.preventDefault();
      this.page = 1;
      this.search();
    });
    on($('rec-prev'), 'click', () => { if (this.page > 1) { this.page -= 1; this.search(); } });
    on($('rec-next'), 'click', () => { this.page += 1; this.search(); });
    on($('rec-hold-form'), 'submit', (e) => {
      e.preventDefault();
      this.hold();
    });
    $('rec-hold-form').hidden = !this.canHold;
    // Arriving with ?caller=… (a link from elsewhere) searches at once.
    const given = new URLSearchParams(location.search);
    for (const [name, id] of [['caller', 'rs-caller'], ['appeal', 'rs-appeal'], ['call_id', 'rs-call']]) {
      if (given.get(name)) $(id).value = given.get(name);
    }
    await this.search();
    $('rs-caller').focus();
  }

  stop() {
    super.stop();
    $('rec-audio').removeAttribute('src');
  }

  load() {
    return this.search();
  }

  query() {
    const q = formQuery([
      ['from', $('rs-from').value], ['to', $('rs-to').value], ['caller', $('rs-caller').value],
      ['operator', $('rs-operator').value], ['queue', $('rs-queue').value], ['appeal', $('rs-appeal').value],
      ['call_id', $('rs-call').value], ['min_secs', $('rs-min').value], ['max_secs', $('rs-max').value],
    ]);
    q.set('page', String(this.page));
    q.set('per_page', String(this.perPage));
    return q;
  }

  async search() {
    $('rec-error').textContent = '';
    for (const input of document.querySelectorAll('#rec-search [aria-invalid]')) input.removeAttribute('aria-invalid');
    try {
      const found = await api('GET', `/api/recordings?${this.query()}`);
      $('rec-total').textContent = String(found.total);
      const pages = Math.max(1, Math.ceil(found.total / found.per_page));
      $('rec-page').textContent = `${found.page} / ${pages}`;
      $('rec-prev').disabled = found.page <= 1;
      $('rec-next').disabled = found.page >= pages;
      $('rec-list').replaceChildren(...(found.recordings.length ? found.recordings.map((r) => this.row(r))
        : [el('tr', {}, el('td', { colspan: '6', class: 'muted empty', text: t('noRecordingsFound') }))]));
    } catch (e) {
      if (e instanceof ApiError && e.body && Array.isArray(e.body.errors)) {
        const names = {
          from: 'rs-from', to: 'rs-to', call_id: 'rs-call', min_secs: 'rs-min', max_secs: 'rs-max',
          queue: 'rs-queue', operator: 'rs-operator', appeal: 'rs-appeal', caller: 'rs-caller',
        };
        $('rec-list').replaceChildren();
        $('rec-total').textContent = '—';
        $('rec-error').textContent = e.body.errors.map((x) => x.message).join(' ');
        for (const x of e.body.errors) $(names[x.field])?.setAttribute('aria-invalid', 'true');
      } else {
        $('rec-error').textContent = e.message;
      }
    }
  }

  row(r) {
    const open = () => this.open(r.id);
    const tr = el('tr', { class: 'clickable', tabindex: '0', 'data-id': r.id, onclick: open },
      el('td', { text: dateTime(r.started_at) }),
      el('td', { class: 'mono', text: r.caller }),
      el('td', { text: r.queue_title || r.queue || '—' }),
      el('td', { text: r.operator_name || r.operator || '—' }),
      el('td', { class: 'num', text: r.duration_ms != null ? duration(r.duration_ms) : '…' }),
      el('td', { class: 'mono', text: r.appeals.join(', ') || '—' }));
    tr.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(); } });
    if (r.purged_at) tr.classList.add('muted');
    return tr;
  }

  open(id) {
    return this.attempt(async () => {
      const r = await api('GET', `/api/recordings/${id}`);
      this.current = r;
      const audio = $('rec-audio');
      if (r.audio_url) {
        audio.src = r.audio_url;
        audio.hidden = false;
        $('rec-download').href = `${r.audio_url}?download=1`;
        $('rec-download').hidden = false;
      } else {
        audio.removeAttribute('src');
        audio.hidden = true;
        $('rec-download').hidden = true;
      }
      const facts = [
        ['caller', r.caller], ['time', dateTime(r.started_at)],
        ['duration', r.duration_ms != null ? duration(r.duration_ms) : '…'],
        ['queue', r.queue_title || r.queue || '—'], ['wait', r.waited_ms != null ? duration(r.waited_ms) : '—'],
        ['operator', r.operator_name ? `${r.operator_name} (${r.operator})` : r.operator || '—'], ['appeal', r.appeals.join(', ') || '—'],
        ['callId', r.call_id], ['sipCallId', r.sip_call_id],
        ['disposition', r.call?.disposition ? t(`disp_${r.call.disposition}`) : '—'],
      ];
      if (r.purged_at) facts.push(['purged', dateTime(r.purged_at)]);
      $('rec-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', { text: t(k) }), el('dd', { text: v })]));
      $('rec-ivr').replaceChildren(...(r.ivr_steps.length ? r.ivr_steps.map((p) => el('li', { text: ivrStep(p), title: p.node })) : [el('li', { class: 'muted', text: '—' })]));
      this.renderHolds(r.holds);
      $('rec-detail').hidden = false;
      $('rec-detail').dataset.id = id;
    });
  }

  renderHolds(holds) {
    const items = holds.map((h) => {
      const li = el('li', {},
        el('b', { text: h.reason }), ' ',
        el('span', { class: 'muted', text: `${h.on === 'appeal' ? t('holdOnCard') : ''} ${h.set_by || ''} · ${dateTime(h.set_at)}` }),
        h.released_at ? el('span', { class: 'muted', text: ` · ${t('released')} ${dateTime(h.released_at)}` }) : null);
      if (!h.released_at && this.canHold) {
        li.append(' ', el('button', { type: 'button', class: 'small', text: t('release'), onclick: () => this.release(h.id) }));
      }
      return li;
    });
    $('rec-holds').replaceChildren(...(items.length ? items : [el('li', { class: 'muted', text: t('noHolds') })]));
  }

  async hold() {
    const reason = $('rec-hold-reason').value.trim();
    if (!reason || !this.current) {
      this.toast(t('blockNeedsReason'), 'error');
      return;
    }
    await this.attempt(async () => {
      await api('POST', `/api/recordings/${this.current.id}/hold`, { reason });
      $('rec-hold-reason').value = '';
      await this.open(this.current.id);
    });
  }

  release(id) {
    return this.attempt(async () => {
      await api('DELETE', `/api/holds/${id}`);
      await this.open(this.current.id);
    });
  }
}

/** A blocked contact as people read it: the number, the address, or the
 * messenger and the account's id. */
function contactText(b) {
  const [, rest] = b.number.split(/:(.*)/s);
  switch (b.kind) {
    case 'email': return rest;
    case 'telegram': return `Telegram ${rest}`;
    case 'viber': return `Viber ${rest}`;
    default: return b.number;
  }
}

export class BlockedView extends View {

  async start() {
    const on = listeners(this.abort);
    on($('block-add'), 'submit', (e) => {
      e.preventDefault();
      this.add();
    });
    on($('blocked-history'), 'change', () => this.load());
    await this.load();
  }

  load() {
    return this.attempt(async () => {
      const history = $('blocked-history').checked ? '?history=1' : '';
      const { blocked } = await api('GET', `/api/blocked${history}`);
      $('blocked-list').replaceChildren(...blocked.map((b) => {
        const ended = b.end_reason ? `${t(`ended_${b.end_reason}`)} ${dateTime(b.ended_at)}` : '';
        const tr = el('tr', { 'data-number': b.number, 'data-kind': b.kind },
          el('td', { class: 'mono', text: contactText(b) }),
          el('td', { text: b.reason }),
          el('td', { text: b.blocked_by || '—' }),
          el('td', { text: dateTime(b.blocked_at) }),
          el('td', { text: ended || (b.until ? dateTime(b.until) : t('untilLifted')) }),
          el('td', { class: 'num', text: String(b.attempts) }),
          el('td', {}, b.end_reason ? null : el('button', {
            type: 'button', class: 'small', text: t('unblock'), onclick: (e) => this.askLift(b, e.target.parentNode),
          })));
        if (b.end_reason) tr.classList.add('muted');
        return tr;
      }));
    });
  }

  async add() {
    for (const id of ['e-ba-number', 'e-ba-reason', 'e-ba-until']) $(id).textContent = '';
    const number = $('ba-number').value.trim();
    const reason = $('ba-reason').value.trim();
    const errors = [];
    if (!number) errors.push(['number', t('err_contact')]);
    if (!reason) errors.push(['reason', t('blockNeedsReason')]);
    const body = { number, reason };
    if ($('ba-until').value) body.until = $('ba-until').value;
    try {
      if (errors.length) throw new ApiError(422, { errors: errors.map(([field, message]) => ({ field, message })) });
      const b = await api('POST', '/api/blocked', body);
      this.toast(t('numberBlocked', { n: contactText(b) }));
      $('ba-number').value = '';
      $('ba-reason').value = '';
      $('ba-until').value = '';
      await this.load();
    } catch (e) {
      if (e instanceof ApiError && e.body && Array.isArray(e.body.errors)) {
        for (const x of e.body.errors) {
          const slot = $(`e-ba-${x.field}`);
          if (slot) slot.textContent = x.message;
        }
        const first = e.body.errors[0];
        if (first) $(`ba-${first.field}`)?.focus();
      } else {
        this.toast(e.message, 'error');
      }
    }
  }

  /** Lifting a block lets the caller through at once: asked once more in
   * the row, with the contact named. */
  askLift(b, cell) {
    const no = el('button', { type: 'button', class: 'small', text: t('no') });
    const yes = el('button', { type: 'button', class: 'small danger', text: t('yesUnblock') });
    cell.replaceChildren(el('span', { class: 'confirm', text: t('unblockSure', { n: contactText(b) }) }), ' ', yes, ' ', no);
    yes.addEventListener('click', () => this.lift(b));
    no.addEventListener('click', () => this.load());
    no.focus();
  }

  lift(b) {
    return this.attempt(async () => {
      await api('DELETE', `/api/blocked/${encodeURIComponent(b.number)}`);
      this.toast(t('numberUnblocked', { n: contactText(b) }));
      await this.load();
    });
  }
}

export class AccessView extends View {

  async start() {
    const on = listeners(this.abort);
    on($('access-form'), 'submit', (e) => {
      e.preventDefault();
      this.load();
    });
    await this.load();
  }

  load() {
    const q = formQuery([['from', $('ac-from').value], ['to', $('ac-to').value]]);
    $('ac-csv').href = `/api/recording-access?${q}&format=csv`;
    return this.attempt(async () => {
      const { access } = await api('GET', `/api/recording-access?${q}&limit=500`);
      $('access-list').replaceChildren(...access.map((a) => el('tr', {},
        el('td', { text: dateTime(a.at) }),
        el('td', { text: `${a.login} (${a.role})` }),
        el('td', { text: t(`access_${a.action}`) }),
        el('td', {}, el('a', { href: `/recordings?call_id=${a.call_id}`, class: 'mono', text: a.recording_id.slice(0, 8) })),
        el('td', { class: 'mono', text: a.range || '—' }),
        el('td', { class: 'mono', text: a.address }))));
    });
  }
}

/** Who opened which card, when and from where (supervisors, admins). */
export class CardAccessView extends View {
  async start() {
    listeners(this.abort)($('card-access-form'), 'submit', (e) => {
      e.preventDefault();
      this.load();
    });
    await this.load();
  }

  load() {
    const q = formQuery([['number', $('ca-number').value]]);
    return this.attempt(async () => {
      const { openings } = await api('GET', `/api/card-access?${q}&limit=500`);
      const rows = openings.map((o) => el('tr', {},
        el('td', { text: dateTime(o.at) }),
        el('td', { text: `${o.login} (${o.role})` }),
        el('td', { class: 'mono', text: o.registration_number }),
        el('td', { class: 'mono', text: o.address }),
        el('td', { class: 'small muted', text: o.user_agent || '—' })));
      if (!rows.length) rows.push(el('tr', {}, el('td', { colspan: '5', class: 'muted', text: t('nothingHere') })));
      $('card-access-list').replaceChildren(...rows);
    });
  }
}
