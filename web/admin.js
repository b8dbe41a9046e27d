// The admins' pages: users (add, change, disable, a new password) and the
// audit log of what staff changed; operators with their queues and
// penalties. Each change is checked by the server
// too, and comes back with a message under the field that is wrong.

import { api, ApiError } from './api.js';
import { $, el, listeners } from './dom.js';
import { dateTime, t } from './i18n.js';

const ROLES = ['operator', 'supervisor', 'executor', 'admin'];

/** A password an admin can read out once: 14 letters and digits, no
 * look-alikes (0/O, 1/l). */
function newPassword() {
  const alphabet = 'abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = crypto.getRandomValues(new Uint8Array(14));
  return [...bytes].map((b) => alphabet[b % alphabet.length]).join('');
}

/** Shows the server's per-field messages in `slots` ({field: element}),
 * or `other` the rest; whether there were any. */
function showErrors(e, slots, other) {
  for (const slot of Object.values(slots)) slot.textContent = '';
  other.textContent = '';
  if (e instanceof ApiError && Array.isArray(e.body?.errors)) {
    for (const x of e.body.errors) {
      if (slots[x.field]) slots[x.field].textContent = x.message;
      else other.textContent = `${other.textContent} ${x.message}`.trim();
    }
    return true;
  }
  other.textContent = e.message;
  return false;
}

export class UsersView {
  constructor({ session, toast }) {
    this.session = session;
    this.toast = toast;
    this.abort = new AbortController();
    this.users = [];
    this.executors = [];
    this.operators = [];
    this.open = null;   // {login, what: 'edit' | 'password'}
  }

  async start() {
    const on = listeners(this.abort);
    on($('ua-form'), 'submit', (e) => { e.preventDefault(); this.add(); });
    on($('ua-role'), 'change', () => this.roleFields());
    on($('ua-generate'), 'click', () => {
      $('ua-password').value = newPassword();
      $('ua-password').type = 'text';
    });
    on($('audit-form'), 'submit', (e) => { e.preventDefault(); this.loadAudit(); });
    const [executors, operators] = await Promise.all([
      api('GET', '/api/executors').catch(() => []),
      api('GET', '/api/admin/operators').then((r) => r.operators).catch(() => []),
    ]);
    this.executors = executors;
    this.operators = operators;
    $('ua-role').replaceChildren(...ROLES.map((r) => el('option', { value: r, text: t(`role_${r}`) })));
    $('ua-role').value = 'supervisor';
    $('ua-executor').replaceChildren(el('option', { value: '', text: '—' }),
      ...executors.map((x) => el('option', { value: x.code, text: x.name })));
    this.roleFields();
    await Promise.all([this.load(), this.loadAudit()]);
  }

  stop() {
    this.abort.abort();
  }

  retranslate() {
    this.render();
  }

  roleFields() {
    const role = $('ua-role').value;
    // An operator is their operator; a supervisor may have a softphone.
    $('ua-operator-box').hidden = role !== 'operator' && role !== 'supervisor';
    $('ua-executor-box').hidden = role !== 'executor';
    // Operators without a user yet.
    const taken = new Set(this.users.map((u) => u.operator).filter(Boolean));
    $('ua-operator').replaceChildren(el('option', { value: '', text: '—' }),
      ...this.operators.filter((o) => !taken.has(o.login))
        .map((o) => el('option', { value: o.login, text: `${o.name} (${o.extension})` })));
  }

  async load() {
    try {
      this.users = (await api('GET', '/api/users')).users;
      $('users-error').textContent = '';
    } catch (e) {
      $('users-error').textContent = e.message;
    }
    this.render();
    this.roleFields();
  }

  executorName(code) {
    return this.executors.find((x) => x.code === code)?.name || code;
  }

  render() {
    const rows = this.users.flatMap((u) => {
      const link = u.role === 'operator' || u.role === 'supervisor'
        ? (u.extension ? t('userExtension', { e: u.extension }) : '—')
        : u.role === 'executor' ? `${this.executorName(u.executor)}${u.head ? ` · ${t('userHead')}` : ''}` : '';
      const tr = el('tr', { 'data-login': u.login, class: u.disabled_at ? 'muted' : '' },
        el('td', { class: 'mono', text: u.login }),
        el('td', { text: u.name }),
        el('td', { text: t(`role_${u.role}`) }),
        el('td', { text: link }),
        el('td', { text: u.email || '' }),
        el('td', { text: u.disabled_at ? t('userDisabledSince', { d: dateTime(u.disabled_at) }) : t('userActive') }),
        el('td', { class: 'row-actions' },
          el('button', { type: 'button', class: 'small', text: t('userEdit'), onclick: () => this.toggle(u.login, 'edit') }),
          el('button', { type: 'button', class: 'small', text: t('userNewPassword'), onclick: () => this.toggle(u.login, 'password') })));
      if (this.open?.login !== u.login) return [tr];
      return [tr, el('tr', { class: 'control-row', 'data-control': u.login },
        el('td', { colspan: '7' }, this.open.what === 'edit' ? this.editForm(u) : this.passwordForm(u)))];
    });
    $('users-list').replaceChildren(...rows);
  }

  toggle(login, what) {
    this.open = this.open?.login === login && this.open.what === what ? null : { login, what };
    this.render();
    $(`ue-${this.open?.what === 'edit' ? 'name' : 'password'}`)?.focus();
  }

  /** A user's name, role, organisation, e-mail and whether they may sign
   * in, with a reason for the log. */
  editForm(u) {
    const name = el('input', { id: 'ue-name', maxlength: '200' });
    name.value = u.name;
    const role = el('select', { id: 'ue-role' }, ...ROLES.map((r) => el('option', { value: r, text: t(`role_${r}`) })));
    role.value = u.role;
    const executor = el('select', { id: 'ue-executor' }, el('option', { value: '', text: '—' }),
      ...this.executors.map((x) => el('option', { value: x.code, text: x.name })));
    executor.value = u.executor || '';
    // A supervisor's softphone: free operator records, or theirs.
    const taken = new Set(this.users.filter((x) => x.login !== u.login).map((x) => x.operator).filter(Boolean));
    const phone = el('select', { id: 'ue-operator' }, el('option', { value: '', text: '—' }),
      ...this.operators.filter((o) => !taken.has(o.login))
        .map((o) => el('option', { value: o.login, text: `${o.name} (${o.extension})` })));
    phone.value = u.operator || '';
    const head = el('input', { id: 'ue-head', type: 'checkbox' });
    head.checked = u.head;
    const email = el('input', { id: 'ue-email', type: 'email', maxlength: '254' });
    email.value = u.email || '';
    const disabled = el('input', { id: 'ue-disabled', type: 'checkbox' });
    disabled.checked = !!u.disabled_at;
    const reason = el('input', { id: 'ue-reason', maxlength: '200', placeholder: t('opReason') });
    const slot = () => el('span', { class: 'field-error' });
    const slots = { name: slot(), role: slot(), operator: slot(), executor: slot(), email: slot(), disabled: slot() };
    const other = el('p', { class: 'error', role: 'alert' });
    const labelled = (id, key, input, s) => el('label', { for: id }, el('span', { text: t(key) }), input, s || null);
    const form = el('form', { class: 'edit-form', novalidate: '' },
      labelled('ue-name', 'userName', name, slots.name),
      labelled('ue-role', 'userRole', role, slots.role),
      labelled('ue-operator', 'userPhone', phone, slots.operator),
      labelled('ue-executor', 'userExecutor', executor, slots.executor),
      el('label', { class: 'inline-check', for: 'ue-head' }, head, el('span', { text: t('userHead') })),
      labelled('ue-email', 'email', email, slots.email),
      el('label', { class: 'inline-check', for: 'ue-disabled' }, disabled, el('span', { text: t('userDisabled') }), slots.disabled),
      labelled('ue-reason', 'opReason', reason),
      el('div', { class: 'row' },
        el('button', { type: 'submit', class: 'primary small', text: t('saveChanges') }),
        el('button', { type: 'button', class: 'small', text: t('cancel'), onclick: () => this.toggle(u.login, 'edit') })),
      other);
    const sync = () => {
      executor.disabled = role.value !== 'executor';
      head.disabled = role.value !== 'executor';
      phone.disabled = role.value !== 'supervisor';
    };
    role.addEventListener('change', sync);
    sync();
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const body = { name: name.value, role: role.value, email: email.value, disabled: disabled.checked, reason: reason.value };
      if (role.value === 'executor') Object.assign(body, { executor: executor.value, head: head.checked });
      if (role.value === 'supervisor') body.operator = phone.value;
      try {
        await api('PUT', `/api/users/${encodeURIComponent(u.login)}`, body);
        this.open = null;
        this.toast(t('userSaved', { l: u.login }));
        await Promise.all([this.load(), this.loadAudit()]);
      } catch (err) {
        showErrors(err, slots, other);
      }
    });
    return form;
  }

  /** A new password for a user, read out to them once; their sessions end. */
  passwordForm(u) {
    const password = el('input', { id: 'ue-password', type: 'text', autocomplete: 'new-password', minlength: '8' });
    const slots = { password: el('span', { class: 'field-error' }) };
    const other = el('p', { class: 'error', role: 'alert' });
    const form = el('form', { class: 'edit-form', novalidate: '' },
      el('label', { for: 'ue-password' }, el('span', { text: t('userNewPasswordFor', { l: u.login }) }), password, slots.password),
      el('div', { class: 'row' },
        el('button', { type: 'button', class: 'small', text: t('userGenerate'), onclick: () => { password.value = newPassword(); } }),
        el('button', { type: 'submit', class: 'primary small', text: t('saveChanges') }),
        el('button', { type: 'button', class: 'small', text: t('cancel'), onclick: () => this.toggle(u.login, 'password') })),
      el('p', { class: 'hint', text: t('userPasswordHint') }),
      other);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        await api('POST', `/api/users/${encodeURIComponent(u.login)}/password`, { password: password.value });
        this.open = null;
        this.toast(t('userPasswordSet', { l: u.login }));
        await this.loadAudit();
        this.render();
      } catch (err) {
        showErrors(err, slots, other);
      }
    });
    return form;
  }

  async add() {
    const slots = {};
    for (const f of ['login', 'name', 'role', 'operator', 'executor', 'email', 'password']) slots[f] = $(`e-ua-${f}`);
    const role = $('ua-role').value;
    const body = {
      login: $('ua-login').value, name: $('ua-name').value, role, password: $('ua-password').value,
      email: $('ua-email').value || null,
    };
    if (role === 'operator' || role === 'supervisor') body.operator = $('ua-operator').value;
    if (role === 'executor') Object.assign(body, { executor: $('ua-executor').value, head: $('ua-head').checked });
    try {
      const u = await api('POST', '/api/users', body);
      showErrors(new Error(''), slots, $('ua-error'));
      $('ua-form').reset();
      $('ua-password').type = 'password';
      $('ua-role').value = 'supervisor';
      this.roleFields();
      this.toast(t('userAdded', { l: u.login }));
      await Promise.all([this.load(), this.loadAudit()]);
    } catch (e) {
      showErrors(e, slots, $('ua-error'));
      const first = e.body?.errors?.[0]?.field;
      if (first) $(`ua-${first}`)?.focus();
    }
  }

  async loadAudit() {
    const q = new URLSearchParams({ limit: '100' });
    if ($('audit-target').value.trim()) q.set('target', $('audit-target').value.trim());
    try {
      const { entries } = await api('GET', `/api/audit?${q}`);
      const change = (x) => [x.before, x.after].filter(Boolean).join(' → ');
      $('audit-list').replaceChildren(...(entries.length ? entries.map((x) => el('tr', {},
        el('td', { text: dateTime(x.at) }),
        el('td', { text: x.actor_login }),
        el('td', { text: t(`audit_${x.action}`) }),
        el('td', { class: 'mono', text: x.target }),
        el('td', { class: 'small mono', text: change(x) }),
        el('td', { text: x.reason || '' })))
        : [el('tr', {}, el('td', { colspan: '6', class: 'muted empty', text: t('auditEmpty') }))]));
    } catch (e) {
      $('users-error').textContent = e.message;
    }
  }
}

/** The queues an operator serves, as ticks with a penalty each. `serves`:
 * [{queue, penalty}]; `queues`: [{name, title}]. */
function queuePicker(idPrefix, queues, serves) {
  const box = el('div', { class: 'queue-picks' });
  for (const q of queues) {
    const mine = serves.find((s) => s.queue === q.name);
    const tick = el('input', { type: 'checkbox', id: `${idPrefix}-q-${q.name}`, 'data-queue': q.name });
    tick.checked = !!mine;
    const penalty = el('input', { type: 'number', min: '0', max: '100', step: '1', class: 'penalty',
      id: `${idPrefix}-p-${q.name}`, 'aria-label': `${t('opPenalty')}: ${q.title}` });
    penalty.value = String(mine?.penalty ?? 0);
    penalty.disabled = !tick.checked;
    tick.addEventListener('change', () => { penalty.disabled = !tick.checked; });
    box.append(el('label', { class: 'inline-check', for: tick.id }, tick, el('span', { text: q.title }), penalty));
  }
  box.value = () => [...box.querySelectorAll('input[type=checkbox]:checked')].map((tick) => ({
    queue: tick.dataset.queue,
    penalty: Number(box.querySelector(`#${idPrefix}-p-${tick.dataset.queue}`).value || 0),
  }));
  return box;
}

/** Operators (the extensions people answer on), the queues each serves and
 * the penalty in each; a change applies at once. Admins. */
export class OperatorsView {
  constructor({ toast }) {
    this.toast = toast;
    this.abort = new AbortController();
    this.operators = [];
    this.queues = [];
    this.open = null; // {login, what: 'edit' | 'password' | 'remove'}
  }

  async start() {
    const on = listeners(this.abort);
    on($('oa-form'), 'submit', (e) => { e.preventDefault(); this.add(); });
    on($('oa-generate'), 'click', () => {
      $('oa-password').value = newPassword();
      $('oa-password').type = 'text';
    });
    try {
      const live = await api('GET', '/api/live');
      this.queues = live.queues.map((q) => ({ name: q.name, title: q.title || q.name }));
    } catch (e) {
      $('operators-error').textContent = e.message;
    }
    this.addPicker = queuePicker('oa', this.queues, []);
    $('oa-queues').replaceChildren(this.addPicker);
    await this.load();
  }

  stop() {
    this.abort.abort();
  }

  retranslate() {
    this.render();
  }

  async load() {
    try {
      this.operators = (await api('GET', '/api/admin/operators')).operators;
      $('operators-error').textContent = '';
    } catch (e) {
      $('operators-error').textContent = e.message;
    }
    this.render();
  }

  title(queue) {
    return this.queues.find((q) => q.name === queue)?.title || queue;
  }

  render() {
    const rows = this.operators.flatMap((o) => {
      const served = o.queues.length
        ? o.queues.map((s) => `${this.title(s.queue)} (${s.penalty})`).join(', ')
        : t('opNoQueues');
      const button = (key, what, cls = 'small') => el('button', { type: 'button', class: cls, text: t(key), 'data-action': what, onclick: () => this.toggle(o.login, what) });
      const tr = el('tr', { 'data-login': o.login, class: o.disabled_at ? 'muted' : '' },
        el('td', { class: 'mono', text: o.login }),
        el('td', { text: o.name }),
        el('td', { class: 'mono', text: o.extension }),
        el('td', { text: served }),
        el('td', { text: o.user || '—' }),
        el('td', { text: o.disabled_at ? t('userDisabledSince', { d: dateTime(o.disabled_at) }) : t('userActive') }),
        el('td', { class: 'row-actions' },
          button('userEdit', 'edit'), button('userNewPassword', 'password'), button('opRemove', 'remove', 'small danger')));
      if (this.open?.login !== o.login) return [tr];
      const form = this.open.what === 'edit' ? this.editForm(o)
        : this.open.what === 'password' ? this.passwordForm(o) : this.removeForm(o);
      return [tr, el('tr', { class: 'control-row', 'data-control': o.login }, el('td', { colspan: '7' }, form))];
    });
    $('operators-list').replaceChildren(...rows);
  }

  toggle(login, what) {
    this.open = this.open?.login === login && this.open.what === what ? null : { login, what };
    this.render();
  }

  async add() {
    const slots = {};
    for (const f of ['login', 'name', 'extension', 'password', 'queues']) slots[f] = $(`e-oa-${f}`);
    const body = {
      login: $('oa-login').value.trim(), name: $('oa-name').value.trim(), extension: $('oa-extension').value.trim(),
      password: $('oa-password').value, queues: this.addPicker.value(),
    };
    try {
      await api('POST', '/api/admin/operators', body);
      showErrors(new Error(''), slots, $('oa-error'));
      $('oa-error').textContent = '';
      for (const id of ['oa-login', 'oa-name', 'oa-extension', 'oa-password']) $(id).value = '';
      this.addPicker = queuePicker('oa', this.queues, []);
      $('oa-queues').replaceChildren(this.addPicker);
      this.toast(t('opAdded', { l: body.login }));
      await this.load();
    } catch (e) {
      showErrors(e, slots, $('oa-error'));
    }
  }

  /** Name, queues with penalties, disabled, and a reason for the log. */
  editForm(o) {
    const name = el('input', { id: 'oe-name', maxlength: '200' });
    name.value = o.name;
    const picker = queuePicker('oe', this.queues, o.queues);
    const disabled = el('input', { id: 'oe-disabled', type: 'checkbox' });
    disabled.checked = !!o.disabled_at;
    const reason = el('input', { id: 'oe-reason', maxlength: '200', placeholder: t('opReason') });
    const slots = { name: el('span', { class: 'field-error' }), queues: el('span', { class: 'field-error' }) };
    const other = el('p', { class: 'error', role: 'alert' });
    const form = el('form', { class: 'edit-form', novalidate: '' },
      el('label', { for: 'oe-name' }, el('span', { text: t('userName') }), name, slots.name),
      el('fieldset', { class: 'queues-pick' }, el('legend', { text: t('opQueues') }), picker, slots.queues),
      el('label', { class: 'inline-check', for: 'oe-disabled' }, disabled, el('span', { text: t('opDisabled') })),
      el('label', { for: 'oe-reason' }, el('span', { text: t('opReason') }), reason),
      el('div', { class: 'row' },
        el('button', { type: 'submit', class: 'primary small', text: t('saveChanges') }),
        el('button', { type: 'button', class: 'small', text: t('cancel'), onclick: () => this.toggle(o.login, 'edit') })),
      other);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        const body = { name: name.value, disabled: disabled.checked, reason: reason.value };
        // Without the queues' list (it failed to load) the ticks say nothing.
        if (this.queues.length) body.queues = picker.value();
        await api('PUT', `/api/admin/operators/${encodeURIComponent(o.login)}`, body);
        this.open = null;
        this.toast(t('opSaved', { l: o.login }));
        await this.load();
      } catch (err) {
        showErrors(err, slots, other);
      }
    });
    return form;
  }

  /** A new password for the softphone (and the operator's sign-in). */
  passwordForm(o) {
    const password = el('input', { id: 'oe-password', type: 'text', autocomplete: 'new-password', minlength: '8' });
    const slots = { password: el('span', { class: 'field-error' }) };
    const other = el('p', { class: 'error', role: 'alert' });
    const form = el('form', { class: 'edit-form', novalidate: '' },
      el('label', { for: 'oe-password' }, el('span', { text: t('opNewPasswordFor', { l: o.login, e: o.extension }) }), password, slots.password),
      el('div', { class: 'row' },
        el('button', { type: 'button', class: 'small', text: t('userGenerate'), onclick: () => { password.value = newPassword(); } }),
        el('button', { type: 'submit', class: 'primary small', text: t('saveChanges') }),
        el('button', { type: 'button', class: 'small', text: t('cancel'), onclick: () => this.toggle(o.login, 'password') })),
      el('p', { class: 'hint', text: t('opPasswordHint') }),
      other);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        await api('POST', `/api/admin/operators/${encodeURIComponent(o.login)}/password`, { password: password.value });
        this.open = null;
        this.toast(t('userPasswordSet', { l: o.login }));
        this.render();
      } catch (err) {
        showErrors(err, slots, other);
      }
    });
    return form;
  }

  /** Removing asks first. */
  removeForm(o) {
    const other = el('p', { class: 'error', role: 'alert' });
    return el('div', { class: 'edit-form' },
      el('p', { text: t('opRemoveAsk', { l: o.login, e: o.extension }) }),
      el('div', { class: 'row' },
        el('button', { type: 'button', class: 'danger small', text: t('opRemove'), 'data-confirm': 'remove', onclick: async () => {
          try {
            await api('DELETE', `/api/admin/operators/${encodeURIComponent(o.login)}`);
            this.open = null;
            this.toast(t('opRemoved', { l: o.login }));
            await this.load();
          } catch (err) {
            other.textContent = err.message;
          }
        } }),
        el('button', { type: 'button', class: 'small', text: t('cancel'), onclick: () => this.toggle(o.login, 'remove') })),
      other);
  }
}

/** The settings in force, as TOML, secrets hidden. Admins. */
export class ConfigView {
  constructor({ toast }) {
    this.toast = toast;
    this.abort = new AbortController();
  }

  async start() {
    listeners(this.abort)($('config-copy'), 'click', async () => {
      try {
        await navigator.clipboard.writeText($('config-text').textContent);
        this.toast(t('configCopied'));
      } catch (e) {
        this.toast(e.message, 'error');
      }
    });
    try {
      const { toml } = await api('GET', '/api/admin/config');
      $('config-text').textContent = toml;
      $('config-error').textContent = '';
    } catch (e) {
      $('config-error').textContent = e.message;
    }
  }

  stop() {
    this.abort.abort();
  }

  retranslate() {}
}

/** The voice menu in force as a tree, its prompts (play, replace), the
 * files' check and the reload. Admins. */
export class IvrView {
  constructor({ toast }) {
    this.toast = toast;
    this.abort = new AbortController();
    this.menu = null;
    this.queueTitles = new Map();
  }

  async start() {
    const on = listeners(this.abort);
    on($('ivr-check'), 'click', () => this.check());
    on($('ivr-reload'), 'click', () => this.reload());
    await this.load();
  }

  stop() {
    this.abort.abort();
    $('ivr-audio').pause();
  }

  retranslate() {
    this.render();
  }

  async load() {
    try {
      const [menu, live] = await Promise.all([api('GET', '/api/admin/ivr'), api('GET', '/api/live').catch(() => ({ queues: [] }))]);
      this.menu = menu;
      this.queueTitles = new Map(live.queues.map((q) => [q.name, q.title || q.name]));
      $('ivr-error').textContent = '';
    } catch (e) {
      $('ivr-error').textContent = e.message;
    }
    this.render();
  }

  render() {
    if (!this.menu) return;
    const nodes = new Map(this.menu.files.flatMap((f) => f.nodes).map((n) => [n.id, n]));
    const seconds = new Map(this.menu.prompts.map((p) => [p.name, p.seconds]));
    const label = (id) => { const n = nodes.get(id); return n?.title || id; };
    const edgeText = (e) => (/^[0-9*#]+$/.test(e.on) ? t('ivrKey', { k: e.on }) : t(`ivrOn_${e.on}`) !== `ivrOn_${e.on}` ? t(`ivrOn_${e.on}`) : e.on);
    const promptChip = (name) => el('span', { class: seconds.get(name) == null ? 'chip missing' : 'chip' },
      el('button', { type: 'button', class: 'link', text: `▶ ${name}`, title: t('ivrPlay'), disabled: seconds.get(name) == null ? '' : null, onclick: () => this.play(name) }),
      el('span', { class: 'muted', text: seconds.get(name) == null ? ` · ${t('ivrMissing')}` : ` · ${seconds.get(name)} ${t('unitS')}` }));
    const files = this.menu.files.map((f) => {
      // Depth-first from the file's start: the tree a caller walks.
      const order = [];
      const seen = new Set();
      const walk = (id, depth, on) => {
        const n = nodes.get(id);
        if (!n || n.id.split(':')[0] !== f.file) return;
        if (seen.has(id)) return;
        seen.add(id);
        order.push({ n, depth, on });
        for (const e of n.edges) walk(e.to, depth + 1, e);
      };
      if (f.start) walk(f.start, 0, null);
      for (const n of f.nodes) if (!seen.has(n.id)) walk(n.id, 0, null);
      // (Indented by class: the page's policy allows no inline styles.)
      const items = order.map(({ n, depth, on }) => el('li', { class: `ivr-node depth-${Math.min(depth, 8)}`, 'data-node': n.id },
        on ? el('span', { class: 'edge', text: `${edgeText(on)} → ` }) : null,
        el('strong', { text: n.title || (n.queue ? t('ivrQueue', { q: this.queueTitles.get(n.queue) || n.queue }) : n.id) }),
        el('span', { class: 'muted mono', text: ` ${n.kind} · ${n.id}` }),
        n.queue && n.title ? el('span', { class: 'queue', text: ` ${t('ivrQueue', { q: this.queueTitles.get(n.queue) || n.queue })}` }) : null,
        n.prompts.length ? el('div', { class: 'chips' }, ...n.prompts.map(promptChip)) : null,
        ...n.edges.filter((e) => nodes.get(e.to)?.id.split(':')[0] !== f.file || seen.has(e.to) && order.findIndex((o) => o.n.id === e.to) < order.findIndex((o) => o.n.id === n.id))
          .map((e) => el('div', { class: 'edge-out muted', text: `${edgeText(e)} → ${label(e.to)}` }))));
      return el('section', { class: 'ivr-file', 'data-file': f.file },
        el('h3', { text: `${f.file}.toml${this.menu.entry.startsWith(`${f.file}:`) ? ` (${t('ivrEntry')})` : ''}` }),
        el('ul', { class: 'ivr-nodes' }, ...items));
    });
    $('ivr-tree').replaceChildren(...files);
    const rows = this.menu.prompts.map((p) => {
      const input = el('input', { type: 'file', accept: '.wav,.flac,.ogg,.mp3,audio/*', class: 'sr-only', tabindex: '-1', 'aria-label': t('ivrReplace'), 'data-prompt': p.name });
      input.addEventListener('change', () => { if (input.files[0]) this.replace(p.name, input.files[0]); });
      return el('tr', { 'data-prompt': p.name, class: p.seconds == null ? 'late' : '' },
        el('td', { class: 'mono', text: p.name }),
        el('td', { class: 'num', text: p.seconds == null ? t('ivrMissing') : `${p.seconds} ${t('unitS')}` }),
        el('td', { text: p.used ? '✓' : '' }),
        el('td', { class: 'row-actions' },
          el('button', { type: 'button', class: 'small', text: t('ivrPlay'), disabled: p.seconds == null ? '' : null, onclick: () => this.play(p.name) }),
          el('button', { type: 'button', class: 'small', text: t('ivrReplace'), 'data-replace': p.name, onclick: () => input.click() }),
          input));
    });
    $('ivr-prompts').replaceChildren(...rows);
  }

  play(name) {
    const audio = $('ivr-audio');
    audio.src = `/api/admin/ivr/prompt?name=${encodeURIComponent(name)}`;
    audio.play().catch((e) => this.toast(e.message, 'error'));
  }

  async replace(name, file) {
    const form = new FormData();
    form.append('file', file, file.name);
    try {
      const done = await api('PUT', `/api/admin/ivr/prompt?name=${encodeURIComponent(name)}`, form);
      this.toast(t('ivrReplaced', { p: name, s: done.seconds }));
      $('ivr-result').textContent = t('ivrReplaced', { p: name, s: done.seconds });
      await this.load();
    } catch (e) {
      this.toast(e.message, 'error');
      $('ivr-result').textContent = e.message;
    }
  }

  async check() {
    try {
      const r = await api('POST', '/api/admin/ivr/check');
      const box = $('ivr-result');
      if (r.ok) box.replaceChildren(el('p', { class: 'ok', text: t('ivrCheckOk', { n: r.nodes }) }));
      else box.replaceChildren(el('p', { class: 'error', text: t('ivrCheckBad') }), el('ul', {}, ...r.problems.map((p) => el('li', { class: 'mono', text: p }))));
    } catch (e) {
      $('ivr-result').textContent = e.message;
    }
  }

  async reload() {
    try {
      const r = await api('POST', '/api/ivr/reload');
      $('ivr-result').replaceChildren(el('p', { class: 'ok', text: t('ivrReloaded', { n: r.nodes }) }));
      await this.load();
    } catch (e) {
      const problems = e.body?.errors || e.body?.problems;
      $('ivr-result').replaceChildren(el('p', { class: 'error', text: e.message }),
        ...(Array.isArray(problems) ? [el('ul', {}, ...problems.map((p) => el('li', { class: 'mono', text: typeof p === 'string' ? p : JSON.stringify(p) })))] : []));
    }
  }
}
