// The reports page ("Звіти"): pick a report of the regulation's set and a
// period, see its tables and charts, download it as XLSX, PDF or CSV.
// Supervisors and admins see the city's; an executor's user their own
// organisation's (the server decides). The report itself is written by the
// server, in Ukrainian, as the city's documents are; the page only draws
// it. Charts: Chart.js with its matrix controller for the heat map
// (web/vendor/, loaded as classic scripts before this module).

import { api } from './api.js';
import { $, el, listeners } from './dom.js';
import { dateTime, t } from './i18n.js';

/** A cell as the server's report prints it (document.rs `Cell::display`). */
export function cellText(cell, kind) {
  if (cell === null || cell === undefined) return '';
  if (typeof cell === 'string') return cell;
  // `Cell::Of`: a number that says its own kind.
  if (Array.isArray(cell)) return cellText(cell[0], cell[1]);
  switch (kind) {
    case 'percent': return (Math.round(cell * 10) / 10).toFixed(1).replace('.', ',');
    case 'duration': return durationText(cell);
    case 'change': return cell > 0 ? `+${cell}` : String(cell);
    default: return String(Math.round(cell));
  }
}

function durationText(secs) {
  const minutes = Math.floor(secs / 60);
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor(minutes / 60) % 24;
  const mins = minutes % 60;
  const two = (n) => String(n).padStart(2, '0');
  if (days > 0) return `${days} ${t('unitD')} ${two(hours)} ${t('unitH')}`;
  if (hours > 0) return `${hours} ${t('unitH')} ${two(mins)} ${t('unitM')}`;
  if (minutes > 0) return `${mins} ${t('unitM')}`;
  return `${secs} ${t('unitS')}`;
}

/** The most rows a table on the page shows (a year's overdue list can be
 * tens of thousands). */
const PAGE_ROWS = 1000;

const PALETTE = ['#2e7d32', '#f9a825', '#c62828', '#1565c0', '#6a1b9a'];

/** A schedule's days (`DayRule::config_text`) in words. */
function daysText(days) {
  const [rule, arg] = days.split(' ');
  if (rule === 'working' || rule === 'every') return t(`days_${rule}`);
  if (rule === 'day') return t('days_month', { n: arg });
  if (rule === 'fortnight') return t('days_fortnight', { day: t(`wd_${arg}`) });
  return t('days_weekly', { day: t(`wd_${rule}`) });
}

/** A table of `rows` (arrays of cells: text or nodes) under `titles`. */
function table(titles, rows, empty) {
  const body = rows.length ? rows.map((cells) => el('tr', {}, ...cells.map((c) => el('td', {}, c))))
    : [el('tr', {}, el('td', { colspan: String(titles.length), class: 'muted', text: empty }))];
  return el('div', { class: 'report-table' }, el('table', { class: 'table small' },
    el('thead', {}, el('tr', {}, ...titles.map((h) => el('th', { scope: 'col', text: t(h) })))),
    el('tbody', {}, ...body)));
}

/** Deliveries with their executors (`executors`); the skipped ones of one
 * occurrence (the daily report's executors whose heads have no address)
 * folded into one. The server lists them failed, waiting, then by due
 * time, sent before skipped. */
function groupSkipped(deliveries) {
  const rows = [];
  for (const d of deliveries) {
    const last = rows[rows.length - 1];
    if (d.status === 'skipped' && last?.status === 'skipped' && last.kind === d.kind
      && last.due_at === d.due_at && last.period_first === d.period_first && d.executor) {
      last.executors.push(d.executor);
    } else {
      rows.push({ ...d, executors: d.executor ? [d.executor] : [] });
    }
  }
  return rows;
}

export class ReportsView {
  constructor({ session, toast }) {
    this.session = session;
    this.toast = toast;
    this.abort = new AbortController();
    this.charts = [];
    this.kinds = [];
  }

  stop() {
    this.abort.abort();
    this.dropCharts();
  }

  onMessage() {}

  retranslate() {
    this.fillKinds();
  }

  dropCharts() {
    for (const c of this.charts) c.destroy();
    this.charts = [];
  }

  async start() {
    const on = listeners(this.abort);
    const { kinds, executors, own_executor: own } = await api('GET', '/api/reports');
    this.kinds = kinds;
    this.own = own;
    this.executorNames = Object.fromEntries(executors.map((e) => [e.code, e.name]));
    const executor = $('report-executor');
    executor.replaceChildren(
      ...(own ? [] : [el('option', { value: '', text: t('allExecutors') })]),
      ...executors.map((e) => el('option', { value: e.code, text: e.name })));
    if (own) executor.value = own;
    executor.disabled = Boolean(own);
    this.fillKinds();
    // The city's week for the contact centre; one's own day for an executor.
    $('report-kind').value = own ? 'daily' : 'weekly';
    on($('report-kind'), 'change', () => this.kindChanged());
    on($('report-form'), 'submit', (e) => {
      e.preventDefault();
      this.load();
    });
    this.kindChanged();
    await this.load();
    // The e-mailed reports: the contact centre's, not an executor's.
    if (!own) await this.mailing();
  }

  /** The schedule and the latest deliveries, with why one failed; admins
   * may send a failed one again. */
  async mailing() {
    const { mail, schedules, deliveries } = await api('GET', '/api/report-deliveries');
    $('report-mailing').hidden = false;
    $('mailing-server').textContent = mail
      ? `${t('mailingServer')}: ${mail.host}:${mail.port} (${mail.security}), ${mail.from}`
      : t('mailingOff');
    $('mailing-schedules').replaceChildren(table(
      ['reportKind', 'mailingDays', 'mailingAt', 'mailingFormat', 'mailingTo'],
      schedules.map((s) => [s.title, daysText(s.days), s.at, s.format.toUpperCase(),
        [...(s.report === 'daily' ? [t('mailingHeads')] : []), ...s.to].join(', ')]),
      t('mailingNoSchedules')));
    const admin = this.session.user.role === 'admin';
    const kinds = Object.fromEntries(this.kinds.map((k) => [k.kind, k.title]));
    const date = (d) => `${d.slice(8, 10)}.${d.slice(5, 7)}.${d.slice(0, 4)}`;
    $('mailing-deliveries').replaceChildren(table(
      ['mailingStatus', 'reportKind', 'mailingPeriod', 'mailingTo', 'mailingDue', 'mailingAttempts', 'mailingResult'],
      groupSkipped(deliveries).map((d) => {
        const status = el('span', { class: `delivery delivery-${d.status}`, text: t(`delivery_${d.status}`) });
        const period = d.period_first === d.period_last ? date(d.period_first)
          : `${date(d.period_first)} – ${date(d.period_last)}`;
        const names = d.executors.map((code) => this.executorNames[code] || code);
        let what = kinds[d.kind] || d.kind;
        if (names.length === 1) what += ` · ${names[0]}`;
        if (names.length > 1) what += ` · ${t('mailingExecutors', { n: names.length })}`;
        return [status, what, period, d.recipients.join(', ') || '—', dateTime(d.due_at),
          String(d.attempts), this.deliveryResult(d, names, admin)];
      }),
      t('mailingNone')));
  }

  /** What became of a delivery: when and which file, the server's words,
   * or, for the skipped, whose heads lack an address. */
  deliveryResult(d, names, admin) {
    if (d.status === 'sent') return el('span', {}, `${dateTime(d.sent_at)} · ${d.file_name}`);
    if (d.status === 'skipped') {
      if (!names.length) return el('span', { text: t('mailingNoRecipients') });
      const why = el('span', { text: t('mailingNoHeadAddress') });
      if (names.length === 1) return why;
      return el('details', {}, el('summary', {}, why), el('span', { class: 'muted', text: names.join('; ') }));
    }
    const result = el('span', {}, d.last_error || '',
      d.status === 'pending' && d.next_attempt_at && d.attempts > 0
        ? ` · ${t('mailingNext')} ${dateTime(d.next_attempt_at)}` : '');
    if (admin && d.status === 'failed') {
      result.append(' ', el('button', {
        type: 'button', class: 'small', text: t('mailingRetry'),
        onclick: async () => {
          try {
            await api('POST', `/api/report-deliveries/${d.id}/retry`);
            this.toast(t('mailingRetried'));
            await this.mailing();
          } catch (e) {
            this.toast(e.message, 'error');
          }
        },
      }));
    }
    return result;
  }

  fillKinds() {
    const select = $('report-kind');
    const chosen = select.value;
    select.replaceChildren(...this.kinds.map((k) => el('option', { value: k.kind, text: k.title })));
    if (chosen) select.value = chosen;
  }

  kind() {
    return this.kinds.find((k) => k.kind === $('report-kind').value) || this.kinds[0];
  }

  /** A new kind: its own default period, and an executor if it needs one. */
  kindChanged() {
    const k = this.kind();
    if (!k) return;
    $('report-from').value = k.from;
    $('report-to').value = k.to;
    // The daily report is of one day, for one executor.
    $('report-to').disabled = k.per_executor;
    const executor = $('report-executor');
    const city = ['fortnight', 'unresolved', 'calls'].includes(k.kind);
    $('report-executor-box').hidden = city && !this.own;
    if (this.own) return;
    // One executor for the daily report; the whole city otherwise.
    if (k.per_executor && !executor.value && executor.options.length > 1) {
      executor.selectedIndex = 1;
    } else if (!k.per_executor) {
      executor.value = '';
    }
  }

  query(format) {
    const k = this.kind();
    const q = new URLSearchParams();
    q.set('from', $('report-from').value);
    if (!k.per_executor) q.set('to', $('report-to').value);
    const executor = $('report-executor').value;
    if (executor && !$('report-executor-box').hidden) q.set('executor', executor);
    // The page draws a long list's first rows; the files hold them all.
    if (format) q.set('format', format); else q.set('rows', String(PAGE_ROWS));
    return `/api/reports/${encodeURIComponent(k.kind)}?${q}`;
  }

  async load() {
    const error = $('report-error');
    error.textContent = '';
    const k = this.kind();
    if (!k) return;
    if (k.per_executor && !$('report-executor').value) {
      error.textContent = t('reportNeedsExecutor');
      return;
    }
    if (!$('report-from').value || (!k.per_executor && !$('report-to').value)) {
      error.textContent = t('reportNeedsDates');
      return;
    }
    $('report-out').setAttribute('aria-busy', 'true');
    try {
      const report = await api('GET', this.query());
      this.draw(report);
    } catch (e) {
      error.textContent = e.message;
    } finally {
      $('report-out').removeAttribute('aria-busy');
    }
  }

  draw(report) {
    this.dropCharts();
    for (const format of ['xlsx', 'pdf', 'csv']) {
      const link = $(`report-${format}`);
      link.href = this.query(format);
      link.hidden = false;
    }
    const head = el('header', { class: 'report-head' },
      el('h2', { text: report.title }),
      el('p', { text: `${report.scope} · ${report.period_text}` }),
      el('p', { class: 'muted small', text: `${t('reportMade')} ${report.made_at_text}` }));
    const sections = report.sections.map((s) => this.section(s));
    $('report-out').replaceChildren(head, ...sections);
  }

  section(s) {
    const box = el('section', { class: 'report-section', id: `report-${s.key}` },
      el('h3', { text: s.title }),
      s.note ? el('p', { class: 'muted small', text: s.note }) : null);
    if (s.chart && window.Chart) {
      const canvas = el('canvas', { role: 'img', 'aria-label': s.title });
      const holder = el('div', { class: `report-chart report-chart-${s.chart.type}` }, canvas);
      box.append(holder);
      // Drawn once the canvas is in the page (Chart.js measures it).
      queueMicrotask(() => this.chart(canvas, s.chart));
    }
    const { columns, rows, total, omitted } = s.table;
    const numeric = (c) => c.kind !== 'text' && c.kind !== 'time';
    const head = el('tr', {}, ...columns.map((c) => el('th', { class: numeric(c) ? 'num' : '', scope: 'col', text: c.title })));
    const line = (cells, cls) => el('tr', { class: cls || '' },
      ...cells.map((cell, n) => el('td', { class: numeric(columns[n]) ? 'num' : '', text: cellText(cell, columns[n].kind) })));
    const body = rows.map((r) => line(r));
    if (!body.length) body.push(el('tr', {}, el('td', { colspan: String(columns.length), class: 'muted', text: t('nothingHere') })));
    if (total) body.push(line(total, 'total'));
    box.append(el('div', { class: 'report-table' },
      el('table', { class: 'table small' }, el('thead', {}, head), el('tbody', {}, ...body))));
    if (omitted > 0) {
      const count = (n) => n.toLocaleString('uk-UA');
      box.append(el('p', { class: 'muted small report-omitted', text: t('reportRowsOmitted', { shown: count(rows.length), all: count(rows.length + omitted) }) }));
    }
    return box;
  }

  chart(canvas, spec) {
    const Chart = window.Chart;
    const common = { responsive: true, maintainAspectRatio: false, animation: false };
    let config;
    if (spec.type === 'time_series') {
      config = {
        type: 'line',
        data: {
          labels: spec.days.map((d) => d.slice(8, 10) + '.' + d.slice(5, 7)),
          datasets: spec.series.map((s, n) => ({
            label: s.name, data: s.values, borderColor: PALETTE[(n + 3) % PALETTE.length],
            backgroundColor: PALETTE[(n + 3) % PALETTE.length], tension: 0.2, pointRadius: 2,
            yAxisID: n === 0 ? 'y' : 'y1',
          })),
        },
        options: {
          ...common,
          scales: {
            y: { beginAtZero: true, position: 'left', ticks: { precision: 0 } },
            y1: { beginAtZero: true, position: 'right', display: spec.series.length > 1, grid: { drawOnChartArea: false }, ticks: { precision: 0 } },
          },
        },
      };
    } else if (spec.type === 'ranked_bars') {
      canvas.parentElement.style.height = `${Math.max(160, 28 * spec.labels.length + 60)}px`;
      config = {
        type: 'bar',
        data: {
          labels: spec.labels,
          datasets: spec.series.map((s, n) => ({ label: s.name, data: s.values, backgroundColor: PALETTE[n % PALETTE.length] })),
        },
        options: {
          ...common,
          indexAxis: 'y',
          scales: { x: { stacked: false, beginAtZero: true, ticks: { precision: 0 } } },
        },
      };
    } else if (spec.type === 'heat_map') {
      const max = Math.max(1, ...spec.values.flat());
      const data = [];
      spec.values.forEach((row, y) => row.forEach((v, x) => data.push({ x: spec.columns[x], y: spec.rows[y], v })));
      config = {
        type: 'matrix',
        data: {
          datasets: [{
            label: t('callsByHour'),
            data,
            backgroundColor: (c) => {
              const v = c.raw ? c.raw.v / max : 0;
              return `rgba(21, 101, 192, ${0.06 + 0.94 * v})`;
            },
            borderColor: '#fff',
            borderWidth: 1,
            width: ({ chart }) => (chart.chartArea || {}).width / spec.columns.length - 1,
            height: ({ chart }) => (chart.chartArea || {}).height / spec.rows.length - 1,
          }],
        },
        options: {
          ...common,
          plugins: {
            legend: { display: false },
            tooltip: { callbacks: { title: () => '', label: (c) => `${c.raw.y} ${c.raw.x}:00 — ${c.raw.v}` } },
          },
          scales: {
            x: { type: 'category', labels: spec.columns, offset: true, grid: { display: false } },
            y: { type: 'category', labels: spec.rows, offset: true, grid: { display: false } },
          },
        },
      };
    } else {
      return;
    }
    try {
      this.charts.push(new Chart(canvas, config));
    } catch (e) {
      this.toast(e.message, 'error');
    }
  }
}
