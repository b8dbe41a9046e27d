// The supervisors' live view: every queue (callers waiting, the longest
// wait, today's figures) and every operator's state, kept current from the
// websocket's event stream. It starts from GET /api/live (the queue
// service's own view) and GET /api/queues (today's figures); after a gap in
// the stream it reloads them.

import { api } from './api.js';
import { $ } from './dom.js';
import { duration, t, time } from './i18n.js';

const EVENTS_SHOWN = 60;

function cell(text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

export class LiveView {
  constructor({ toast }) {
    this.toast = toast;
    this.queues = new Map();    // name -> {callers: Map(call -> joinedAtMs), stats}
    this.operators = new Map(); // login -> {name, extension, state, reason, since}
    this.events = [];
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
    this.ticker = setInterval(() => this.renderQueues(), 1000);
    // Today's figures (answered, abandoned, service level) are computed by
    // the server from stored events: fetched again now and then.
    this.refreshTimer = setInterval(() => this.reloadStats(), 15000);
  }

  stop() {
    clearInterval(this.ticker);
    clearInterval(this.refreshTimer);
  }

  retranslate() {
    this.render();
  }

  async reload() {
    if (this.reloading) return this.reloading;
    this.pending = [];
    this.reloading = (async () => {
      try {
        const [live, operators] = await Promise.all([api('GET', '/api/live'), api('GET', '/api/operators')]);
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
            name: o.name, extension: o.extension, state: o.state, reason: o.reason || '', since: null,
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
      const { queues } = await api('GET', '/api/queues');
      for (const s of queues) {
        const q = this.queues.get(s.name) || { callers: new Map(), stats: null };
        q.stats = s;
        this.queues.set(s.name, q);
      }
      this.renderQueues();
    } catch {
      // The live part stays; figures come with the next reload.
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
      case 'queue_answered':
      case 'queue_abandoned':
      case 'call_ended':
        leave(e.call);
        this.scheduleStats();
        break;
      case 'storage':
        this.showStorage({ level: e.level, free_bytes: e.free_bytes });
        break;
      case 'operator_state': {
        const o = this.operators.get(e.operator) || { name: e.operator, extension: '', state: '', reason: '' };
        this.operators.set(e.operator, { ...o, state: e.state, reason: e.reason || '', since: at });
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

  renderOperators() {
    const body = $('live-operators');
    const rows = [...this.operators.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([login, o]) => {
        const tr = document.createElement('tr');
        tr.dataset.operator = login;
        tr.dataset.state = o.state;
        const state = t(`state_${o.state}`) + (o.reason ? ` · ${o.reason}` : '');
        tr.append(cell(o.name || login), cell(o.extension), cell(state, `state s-${o.state}`), cell(o.since ? time(new Date(o.since).toISOString()) : ''));
        return tr;
      });
    body.replaceChildren(...rows);
  }

  renderEvents() {
    const list = $('live-events');
    const items = this.events.map((e) => {
      const li = document.createElement('li');
      const words = t(`ev_${e.type}`, {
        q: e.queue, p: e.position, r: e.reason, o: e.operator, t: e.target,
        b: e.ended_by ? t(`endedBy_${e.ended_by}`) : '', s: e.state ? t(`state_${e.state}`) : '',
      });
      li.textContent = `${time(e.at)} ${words}`;
      return li;
    });
    list.replaceChildren(...items);
  }
}
