// The supervisors' live view: every queue (callers waiting, the longest
// wait, today's figures) and every operator's state, kept current from the
// websocket's event stream. It starts from GET /api/live (the queue
// service's own view) and GET /api/queues (today's figures); after a gap in
// the stream it reloads them.

import { api, ApiError } from './api.js';
import { $, el, listeners } from './dom.js';
import { CITY_ZONE, duration, t, time } from './i18n.js';

/** Today on the city's clock, `YYYY-MM-DD`. */
const cityToday = () => new Intl.DateTimeFormat('en-CA', { timeZone: CITY_ZONE }).format(new Date());

const EVENTS_SHOWN = 60;

function cell(text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

/** A supervisor's ways of joining a conversation (the API's modes). */
const MODES = ['listen', 'whisper', 'barge'];

export class LiveView {
  constructor({ toast, session }) {
    this.toast = toast;
    this.me = session?.user?.login || null;
    // Only supervisors have a softphone to listen in with.
    this.listens = session?.user?.role === 'supervisor';
    this.monitors = new Map();  // call -> {supervisor, state}
    this.queues = new Map();    // name -> {callers: Map(call -> joinedAtMs), stats}
    this.operators = new Map(); // login -> {name, extension, state, reason, since}
    this.events = [];
    this.figures = new Map();   // login -> today's figures
    this.showsFigures = true;
    this.control = null;        // {login, action, reason, error}: a form open
    this.abort = new AbortController();
    this.ticker = null;
    this.refreshTimer = null;
    this.reloading = null;
    // Events that arrive while the snapshot is fetched, applied after it.
    this.pending = null;
  }

  /** The figures come once the websocket is open (see onConnection), so
   * no event falls between the snapshot and the stream. */
  async start() {
    this.render();
    // Waits and times in state tick.
    this.ticker = setInterval(() => this.tick(), 1000);
    this.startExtras();
  }

  tick() {
    this.renderQueues();
    this.tickOperators();
  }

  /** The period figures' form: the live view's own. */
  startExtras() {
    const on = listeners(this.abort);
    on($('fig-form'), 'submit', (e) => { e.preventDefault(); this.showFigures(); });
    $('fig-from').value ||= cityToday();
    $('fig-to').value ||= cityToday();
    this.showFigures();
    // Today's figures (answered, abandoned, service level) are computed by
    // the server from stored events: fetched again now and then.
    this.refreshTimer = setInterval(() => this.reloadStats(), 15000);
  }

  stop() {
    clearInterval(this.ticker);
    clearInterval(this.refreshTimer);
    this.abort.abort();
  }

  retranslate() {
    this.render();
  }

  async reload() {
    if (this.reloading) return this.reloading;
    this.pending = [];
    this.reloading = (async () => {
      try {
        const [live, operators, monitors] = await Promise.all([api('GET', '/api/live'), api('GET', '/api/operators'),
          api('GET', '/api/calls/monitors').catch(() => ({ monitors: [] }))]);
        this.monitors = new Map(monitors.monitors.map((m) => [m.call, { supervisor: m.supervisor, state: m.state }]));
        const now = Date.now();
        const pending = this.pending || [];
        this.pending = null;
        this.queues = new Map();
        for (const q of live.queues) {
          const callers = new Map(q.callers.map((c) => [c.call, now - c.waited_ms]));
          this.queues.set(q.name, { callers, stats: null, title: q.title });
        }
        this.operators = new Map();
        for (const o of operators.operators) {
          this.operators.set(o.login, {
            name: o.name, extension: o.extension, state: o.state, reason: o.reason || '',
            since: o.in_state_ms != null ? now - o.in_state_ms : null, call: o.call || null,
          });
        }
        // What happened while the snapshot was on its way (events from
        // its number on may not be in it; the rest are applied twice,
        // which changes nothing).
        for (const [m, receivedAt] of pending) {
          if (m.event.seq >= live.seq) this.apply(m.event, receivedAt);
        }
        $('live-warning').textContent = '';
        this.showStorage(live.storage);
        await this.reloadStats();
      } catch (e) {
        this.pending = null;
        $('live-warning').textContent = t('serverError', { m: e.message });
      } finally {
        this.reloading = null;
      }
      this.render();
    })();
    return this.reloading;
  }

  async reloadStats() {
    try {
      // The operators' figures only where they are shown.
      const [{ queues }, today] = await Promise.all([api('GET', '/api/queues'),
        this.showsFigures ? api('GET', '/api/operators/figures') : { operators: [] }]);
      for (const s of queues) {
        const q = this.queues.get(s.name) || { callers: new Map(), stats: null };
        q.stats = s;
        this.queues.set(s.name, q);
      }
      this.figures = new Map(today.operators.map((o) => [o.login, o]));
      this.renderQueues();
      this.renderOperators();
    } catch {
      // The live part stays; figures come with the next reload.
    }
  }

  /** The figures of a chosen period of days, below. */
  async showFigures() {
    $('e-fig').textContent = '';
    const q = new URLSearchParams({ from: $('fig-from').value, to: $('fig-to').value });
    try {
      const { operators } = await api('GET', `/api/operators/figures?${q}`);
      $('fig-list').replaceChildren(...operators.map((o) => el('tr', { 'data-operator': o.login },
        el('td', { text: o.name || o.login }),
        el('td', { class: 'num', text: String(o.answered) }),
        el('td', { class: 'num', text: duration(o.talk_ms) }),
        el('td', { class: 'num', text: duration(o.wrap_up_ms) }),
        el('td', { class: 'num', text: duration(o.paused_ms) }),
        el('td', { class: 'num', text: duration(o.signed_in_ms) }),
        el('td', { class: 'num', text: o.average_handle_ms != null ? duration(o.average_handle_ms) : '—' }),
        el('td', { class: 'num', text: String(o.missed_offers) }))));
    } catch (e) {
      $('e-fig').textContent = e instanceof ApiError && e.body?.errors ? e.body.errors.map((x) => x.message).join(' ') : e.message;
    }
  }

  onConnection(open) {
    // On every (re)connection: the stream is on, so start from a snapshot.
    if (open) this.reload();
  }

  onMessage(m, receivedAt) {
    if (m.type === 'missed') {
      this.toast(t('missed', { n: m.events }));
      this.reload();
      return;
    }
    if (m.type !== 'event') return;
    if (this.pending) {
      this.pending.push([m, receivedAt]);
      return;
    }
    this.apply(m.event, receivedAt);
    this.render();
  }

  /** One event. Times are this browser's (when the event arrived), like
   * the snapshot's, so the two clocks never mix. */
  apply(e, receivedAt) {
    const at = receivedAt || Date.now();
    const queue = (name) => {
      if (!this.queues.has(name)) this.queues.set(name, { callers: new Map(), stats: null });
      return this.queues.get(name);
    };
    const leave = (call) => {
      for (const q of this.queues.values()) q.callers.delete(call);
    };
    switch (e.type) {
      case 'queue_joined':
        queue(e.queue).callers.set(e.call, at);
        break;
      case 'queue_answered': {
        const o = this.operators.get(e.operator);
        if (o) o.call = e.call;
        leave(e.call);
        this.scheduleStats();
        break;
      }
      case 'queue_abandoned':
      case 'call_ended':
        leave(e.call);
        this.monitors.delete(e.call);
        this.scheduleStats();
        break;
      case 'call_monitored':
        if (e.state === 'ended') this.monitors.delete(e.call);
        else this.monitors.set(e.call, { supervisor: e.supervisor, state: e.state });
        break;
      case 'storage':
        this.showStorage({ level: e.level, free_bytes: e.free_bytes });
        break;
      case 'operator_state': {
        const o = this.operators.get(e.operator) || { name: e.operator, extension: '', state: '', reason: '' };
        const call = e.state === 'on_call' ? o.call : null;
        this.operators.set(e.operator, { ...o, state: e.state, reason: e.reason || '', since: at, call });
        break;
      }
      default:
        break;
    }
    if (!this.events.some((x) => x.seq === e.seq)) {
      this.events.unshift(e);
      if (this.events.length > EVENTS_SHOWN) this.events.pop();
    }
  }

  /** A banner when the recordings volume runs low. */
  showStorage(storage) {
    const banner = $('storage-warning');
    if (!storage || storage.level === 'ok') {
      banner.hidden = true;
      return;
    }
    banner.textContent = t(`storage_${storage.level}`, { m: Math.floor((storage.free_bytes || 0) / 1048576) });
    banner.className = `banner ${storage.level}`;
    banner.dataset.level = storage.level;
    banner.hidden = false;
  }

  /** Today's figures again, once the burst of events has passed. */
  scheduleStats() {
    clearTimeout(this.statsSoon);
    this.statsSoon = setTimeout(() => this.reloadStats(), 1000);
  }

  render() {
    this.renderQueues();
    this.renderOperators();
    this.renderEvents();
  }

  renderQueues() {
    const body = $('live-queues');
    const now = Date.now();
    const rows = [...this.queues.entries()].map(([name, q]) => {
      const waits = [...q.callers.values()].map((joined) => now - joined);
      const longest = waits.length ? Math.max(...waits) : 0;
      const s = q.stats || {};
      const tr = document.createElement('tr');
      tr.dataset.queue = name;
      tr.append(
        cell(q.title || name),
        cell(String(q.callers.size), q.callers.size ? 'num busy' : 'num'),
        cell(waits.length ? duration(longest) : '—', 'num'),
        cell(s.answered != null ? String(s.answered) : '—', 'num'),
        cell(s.abandoned != null ? String(s.abandoned) : '—', 'num'),
        cell(s.service_level_pct != null ? `${Math.round(s.service_level_pct)} %` : '—', 'num'),
      );
      return tr;
    });
    body.replaceChildren(...rows);
  }

  /** Only the times in state, each second: the rest (and a form being
   * typed in) stays as it is. */
  tickOperators() {
    const now = Date.now();
    for (const td of document.querySelectorAll('#live-operators td.in-state')) {
      const o = this.operators.get(td.parentNode.dataset.operator);
      if (o) td.textContent = o.since != null ? duration(now - o.since) : '—';
    }
  }

  renderOperators() {
    const body = $('live-operators');
    const now = Date.now();
    const focused = document.activeElement?.id === 'op-reason';
    const rows = [...this.operators.entries()]
      .sort(([a, x], [b, y]) => (x.name || a).localeCompare(y.name || b))
      .flatMap(([login, o]) => {
        const tr = document.createElement('tr');
        tr.dataset.operator = login;
        tr.dataset.state = o.state;
        const f = this.figures.get(login);
        const monitor = o.state === 'on_call' && o.call ? this.monitors.get(o.call) : null;
        const state = t(`state_${o.state}`) + (o.reason ? ` · ${o.reason}` : '')
          + (monitor ? ` · ${t('monitorBy', { s: monitor.supervisor, m: t(`monitor_${monitor.state}`) })}` : '');
        const actions = el('td', { class: 'row-actions' });
        if (this.listens && o.state === 'on_call' && o.call) actions.append(...this.monitorButtons(o.call, monitor));
        if (o.state !== 'logged_out') {
          if (o.state !== 'paused') actions.append(el('button', { type: 'button', class: 'small', text: t('opPause'), onclick: () => this.openControl(login, 'paused') }));
          else actions.append(el('button', { type: 'button', class: 'small', text: t('opAvailable'), onclick: () => this.setState(login, 'available', null) }));
          actions.append(el('button', { type: 'button', class: 'small', text: t('opLogOut'), onclick: () => this.openControl(login, 'logged_out') }));
        }
        tr.append(cell(o.name || login), cell(o.extension), cell(state, `state s-${o.state}`), cell(o.since != null ? duration(now - o.since) : '—', 'num in-state'),
          cell(f ? String(f.answered) : '—', 'num'), cell(f?.average_handle_ms != null ? duration(f.average_handle_ms) : '—', 'num'),
          cell(f ? duration(f.paused_ms) : '—', 'num'), cell(f ? String(f.missed_offers) : '—', f?.missed_offers ? 'num late' : 'num'), actions);
        if (this.control?.login !== login) return [tr];
        return [tr, this.controlRow(login)];
      });
    body.replaceChildren(...rows);
    if (focused) $('op-reason')?.focus();
  }

  /** Listen, whisper, barge on a conversation; once joined, the other
   * modes and "stop" for the supervisor who listens. */
  monitorButtons(call, monitor) {
    const button = (key, cls, onclick) => el('button', { type: 'button', class: `small ${cls}`, text: t(key), 'data-monitor': key, onclick });
    if (!monitor) {
      return MODES.map((mode) => button(`monitor_do_${mode}`, '', () => this.monitor('POST', call, mode)));
    }
    if (monitor.supervisor !== this.me) return [];
    return [
      ...MODES.filter((mode) => mode !== monitor.state && monitor.state !== 'ringing')
        .map((mode) => button(`monitor_do_${mode}`, '', () => this.monitor('PUT', call, mode))),
      button('monitorStop', 'danger', () => this.monitor('DELETE', call)),
    ];
  }

  async monitor(method, call, mode) {
    try {
      await api(method, `/api/calls/${call}/monitor`, mode ? { mode } : undefined);
      if (method === 'POST') this.toast(t('monitorRinging'));
    } catch (e) {
      this.toast(e.message, 'error');
    }
  }

  openControl(login, action) {
    this.control = { login, action, reason: '', error: '' };
    this.renderOperators();
    $('op-reason').focus();
  }

  /** The form under an operator's row: a reason, then the change. */
  controlRow(login) {
    const c = this.control;
    const reason = el('input', { id: 'op-reason', maxlength: '200', placeholder: t('opReason'), 'aria-label': t('opReason') });
    reason.value = c.reason;
    reason.addEventListener('input', () => { c.reason = reason.value; });
    const form = el('form', { class: 'inline-form', novalidate: '' }, reason,
      el('button', { type: 'submit', class: c.action === 'logged_out' ? 'danger small' : 'primary small', text: t(c.action === 'logged_out' ? 'opDoLogOut' : 'opDoPause') }),
      el('button', { type: 'button', class: 'small', text: t('cancel'), onclick: () => { this.control = null; this.renderOperators(); } }),
      el('span', { class: 'field-error', role: 'alert', text: c.error }));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (!c.reason.trim()) {
        c.error = t('opNeedReason');
        this.renderOperators();
        return;
      }
      this.setState(login, c.action, c.reason.trim());
    });
    return el('tr', { class: 'control-row', 'data-control': login }, el('td', { colspan: '9' }, form));
  }

  async setState(login, state, reason) {
    try {
      await api('PUT', `/api/operators/${encodeURIComponent(login)}/state`, reason ? { state, reason } : { state });
      this.control = null;
      const o = this.operators.get(login);
      this.toast(t('opDone', { o: o?.name || login, s: t(`state_${state}`) }));
      this.renderOperators();
    } catch (e) {
      if (this.control) {
        this.control.error = e.message;
        this.renderOperators();
      } else {
        this.toast(e.message, 'error');
      }
    }
  }

  renderEvents() {
    const list = $('live-events');
    const items = this.events.map((e) => {
      const li = document.createElement('li');
      // Queues and operators as people name them.
      const words = t(`ev_${e.type}`, {
        q: this.queues.get(e.queue)?.title || e.queue, p: e.position, r: e.reason,
        o: this.operators.get(e.operator)?.name || e.operator, t: e.target,
        b: e.ended_by ? t(`endedBy_${e.ended_by}`) : '',
        s: e.state ? t(e.type === 'call_monitored' ? `monitor_${e.state}` : `state_${e.state}`) : '', v: e.supervisor,
      });
      li.textContent = `${time(e.at)} ${words}`;
      return li;
    });
    list.replaceChildren(...items);
  }
}

/** The wallboard: the same live state, drawn for a big screen across the
 * room (`/wallboard`): each queue's callers waiting, longest wait and
 * service level in large type, the operators counted by state, the city's
 * clock. */
export class WallboardView extends LiveView {
  constructor(options) {
    super(options);
    this.showsFigures = false;
  }

  startExtras() {
    const on = listeners(this.abort);
    on($('wb-full'), 'click', () => document.documentElement.requestFullscreen?.());
  }

  tick() {
    this.render();
  }

  renderQueues() {
    this.render();
  }

  renderOperators() {}

  renderEvents() {}

  render() {
    const now = Date.now();
    $('wb-clock').textContent = new Intl.DateTimeFormat('uk-UA', {
      timeZone: CITY_ZONE, hour: '2-digit', minute: '2-digit', second: '2-digit',
    }).format(new Date(now));
    const tiles = [...this.queues.entries()].map(([name, q]) => {
      const waits = [...q.callers.values()].map((joined) => now - joined);
      const longest = waits.length ? Math.max(...waits) : 0;
      const s = q.stats || {};
      // Late: someone has waited past the queue's service-level time.
      const late = s.service_level_secs != null && longest > s.service_level_secs * 1000;
      const level = s.service_level_pct != null ? Math.round(s.service_level_pct) : null;
      return el('section', { class: `wb-queue${q.callers.size ? ' busy' : ''}${late ? ' late' : ''}`, 'data-queue': name },
        el('h2', { text: q.title || name }),
        el('div', { class: 'wb-big', 'data-waiting': String(q.callers.size), text: String(q.callers.size) }),
        el('div', { class: 'wb-label', text: t('waiting') }),
        el('div', { class: 'wb-mid', text: waits.length ? duration(longest) : '—' }),
        el('div', { class: 'wb-label', text: t('longest') }),
        el('dl', { class: 'wb-facts' },
          el('dt', { text: t('serviceLevel') }), el('dd', { class: level != null && level < 80 ? 'late' : '', text: level != null ? `${level} %` : '—' }),
          el('dt', { text: t('answeredToday') }), el('dd', { text: s.answered != null ? String(s.answered) : '—' }),
          el('dt', { text: t('abandonedToday') }), el('dd', { text: s.abandoned != null ? String(s.abandoned) : '—' })));
    });
    $('wb-queues').replaceChildren(...tiles);
    const counts = new Map();
    for (const o of this.operators.values()) counts.set(o.state, (counts.get(o.state) || 0) + 1);
    $('wb-operators').replaceChildren(...['available', 'ringing', 'on_call', 'wrap_up', 'paused'].map((state) =>
      el('div', { class: `wb-state s-${state}`, 'data-state': state },
        el('div', { class: 'wb-big', text: String(counts.get(state) || 0) }),
        el('div', { class: 'wb-label', text: t(`state_${state}`) }))));
  }
}
