// The console page: signs in, then shows the view of the user's role —
// the card console for operators, the live view for supervisors and
// admins (who can also open a card without a call).

import { api, ApiError, connect, setCsrf, whenSignedOut } from './api.js';
import { $ } from './dom.js';
import { language, setLanguage, t, translate } from './i18n.js';
import { Console, clearConsole } from './console.js';
import { LiveView, WallboardView } from './live.js';
import { AccessView, BlockedView, CardAccessView, RecordingsView } from './records.js';
import { DecisionsView, InboxView, TriageView, VerificationView, WorksView } from './work.js';
import { ReportsView } from './reports.js';
import { CallAlert } from './alert.js';
import { ConfigView, IvrView, OperatorsView, UsersView } from './admin.js';


const VIEWS = ['view-sign-in', 'view-console', 'view-live', 'view-wallboard', 'view-users', 'view-operators', 'view-ivr', 'view-config', 'view-recordings', 'view-blocked', 'view-access', 'view-inbox', 'view-decisions', 'view-triage', 'view-verification', 'view-card-access', 'view-works', 'view-reports', 'view-none'];

/** The admins' pages: reached through one link, a tab each. */
const ADMIN_VIEWS = ['view-users', 'view-operators', 'view-ivr', 'view-config'];

function show(view) {
  for (const id of VIEWS) $(id).hidden = id !== view;
  const tabs = $('admin-tabs');
  tabs.hidden = !ADMIN_VIEWS.includes(view);
  for (const a of tabs.querySelectorAll('a')) a.setAttribute('aria-current', a.dataset.view === view ? 'page' : 'false');
  // The top bar's one link stands for all of them.
  $('nav-users').setAttribute('aria-current', ADMIN_VIEWS.includes(view) ? 'page' : 'false');
}

/** A short message in the corner, read out by screen readers. */
export function toast(text, kind = 'info') {
  const el = $('toast');
  el.textContent = text;
  el.className = `toast ${kind}`;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, kind === 'error' ? 8000 : 4000);
}

let socket = null;
let session = null;
let views = [];

function signedOut(message) {
  if (socket) socket.close();
  socket = null;
  session = null;
  for (const v of views) v.stop?.();
  views = [];
  // Nothing of the last user's callers stays on the screen or in storage.
  clearConsole();
  $('operator-controls').hidden = true;
  $('nav').hidden = true;
  $('sign-out').hidden = true;
  $('who').textContent = '';
  $('connection').textContent = '';
  show('view-sign-in');
  $('sign-in-error').textContent = message || '';
  $('login').focus();
}

async function start(current) {
  session = current;
  setCsrf(current.csrf_token);
  const { user } = current;
  $('who').textContent = user.name || user.login;
  $('sign-out').hidden = false;
  const role = user.role;
  // "/" is the role's own view; the other paths pick one, if the role
  // has it.
  const supervising = role === 'supervisor' || role === 'admin';
  // An executor's user who curates executors decides their second
  // extensions: the decisions queue answers them.
  const curator = role === 'executor' && await api('GET', '/api/decisions').then(() => true, () => false);
  const allowed = {
    'view-console': role === 'operator' || supervising,
    'view-live': supervising,
    'view-wallboard': supervising,
    'view-users': role === 'admin',
    'view-operators': role === 'admin',
    'view-config': role === 'admin',
    'view-ivr': role === 'admin',
    'view-recordings': role === 'operator' || supervising,
    'view-blocked': supervising,
    'view-access': role === 'admin',
    'view-inbox': role === 'executor',
    'view-decisions': role === 'supervisor' || curator,
    // Classified by operators and supervisors.
    'view-triage': role === 'operator' || role === 'supervisor',
    'view-verification': role === 'operator' || supervising,
    'view-card-access': supervising,
    'view-works': true,
    'view-reports': supervising || role === 'executor',
  };
  const byPath = {
    '/card': 'view-console', '/live': 'view-live', '/wallboard': 'view-wallboard', '/users': 'view-users', '/admin': 'view-users', '/operators': 'view-operators', '/config': 'view-config', '/ivr': 'view-ivr', '/recordings': 'view-recordings',
    '/blocked': 'view-blocked', '/access': 'view-access',
    '/inbox': 'view-inbox', '/decisions': 'view-decisions', '/triage': 'view-triage', '/verification': 'view-verification', '/card-access': 'view-card-access', '/works': 'view-works', '/reports': 'view-reports',
  };
  const home = supervising ? 'view-live'
    : role === 'operator' ? 'view-console'
      : role === 'executor' ? 'view-inbox' : 'view-none';
  let view = byPath[location.pathname] || home;
  if (!allowed[view]) view = home;
  for (const link of document.querySelectorAll('#nav a')) {
    link.hidden = !allowed[link.dataset.view];
    link.setAttribute('aria-current', link.dataset.view === view ? 'page' : 'false');
  }
  $('nav').hidden = false;
  views = [];
  const makers = {
    'view-console': () => new Console({ session: current, toast }),
    'view-live': () => new LiveView({ session: current, toast }),
    'view-wallboard': () => new WallboardView({ toast }),
    'view-users': () => new UsersView({ session: current, toast }),
    'view-operators': () => new OperatorsView({ toast }),
    'view-config': () => new ConfigView({ toast }),
    'view-ivr': () => new IvrView({ toast }),
    'view-recordings': () => new RecordingsView({ session: current, toast }),
    'view-blocked': () => new BlockedView({ toast }),
    'view-access': () => new AccessView({ toast }),
    'view-inbox': () => new InboxView({ toast }),
    'view-decisions': () => new DecisionsView({ toast }),
    'view-triage': () => new TriageView({ toast }),
    'view-verification': () => new VerificationView({ session: current, toast }),
    'view-card-access': () => new CardAccessView({ toast }),
    'view-works': () => new WorksView({ session: current, toast }),
    'view-reports': () => new ReportsView({ session: current, toast }),
  };
  show(view);
  if (!makers[view]) return;
  const active = makers[view]();
  views.push(active);
  await active.start();
  // An operator hears of a call on every page.
  const alerted = role === 'operator';
  if (alerted) {
    const alert = new CallAlert({ onConsole: () => view === 'view-console' });
    alert.start();
    views.push(alert);
  }
  // The live views need the websocket; the lists do not (but an
  // operator's alert does).
  if (!alerted && !['view-console', 'view-live', 'view-wallboard', 'view-inbox', 'view-decisions', 'view-triage', 'view-verification'].includes(view)) return;
  socket = connect(
    (message, receivedAt) => {
      for (const v of views) v.onMessage?.(message, receivedAt);
    },
    (open) => {
      const el = $('connection');
      el.textContent = open ? t('online') : t('offline');
      el.className = open ? 'connection ok' : 'connection down';
      el.dataset.open = open ? 'yes' : 'no';
      for (const v of views) v.onConnection?.(open);
    },
  );
}

async function signIn(event) {
  event.preventDefault();
  const login = $('login').value.trim();
  const password = $('password').value;
  const error = $('sign-in-error');
  if (!login || !password) {
    error.textContent = t('fillBoth');
    (login ? $('password') : $('login')).focus();
    return;
  }
  try {
    const current = await api('POST', '/api/session', { login, password });
    $('password').value = '';
    error.textContent = '';
    await start(current);
  } catch (e) {
    if (e instanceof ApiError && e.status === 429) {
      error.textContent = t('tooMany', { s: e.retryAfter || '60' });
    } else if (e instanceof ApiError && e.status === 401) {
      error.textContent = t('wrongPassword');
    } else {
      error.textContent = t('serverError', { m: e.message });
    }
    $('password').select();
  }
}

async function signOut() {
  try {
    await api('DELETE', '/api/session');
  } catch {
    // Signed out either way.
  }
  signedOut();
}

function toggleLanguage() {
  setLanguage(language() === 'uk' ? 'en' : 'uk');
  const button = $('lang');
  const next = language() === 'uk' ? 'en' : 'uk';
  button.textContent = next === 'en' ? 'EN' : 'УК';
  button.lang = next;
  button.setAttribute('aria-label', next === 'en' ? 'English' : 'Українська');
  for (const v of views) v.retranslate?.();
}

async function boot() {
  translate();
  if (language() === 'en') {
    $('lang').textContent = 'УК';
    $('lang').lang = 'uk';
    $('lang').setAttribute('aria-label', 'Українська');
  }
  $('lang').addEventListener('click', toggleLanguage);
  $('sign-in-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', signOut);
  whenSignedOut(() => signedOut(t('sessionEnded')));
  try {
    const current = await api('GET', '/api/session');
    await start(current);
  } catch {
    signedOut();
  }
}

// For tests and diagnostics: who is signed in, and the console's timings.
window.hotline = {
  get session() { return session && { login: session.user.login, role: session.user.role }; },
  get views() { return views; },
};

boot();
