// The console's words: Ukrainian first, English second. Elements name
// their text with data-i18n (text), data-i18n-label (aria-label),
// data-i18n-ph (placeholder) and data-i18n-title (title); code asks t(key).

const WORDS = {
  brand: ['15-80 · Контакт-центр', '15-80 · Contact centre'],
  signInTitle: ['Вхід до консолі', 'Sign in to the console'],
  login: ['Логін', 'Login'],
  password: ['Пароль', 'Password'],
  signIn: ['Увійти', 'Sign in'],
  signOut: ['Вийти', 'Sign out'],
  wrongPassword: ['Неправильний логін або пароль.', 'Wrong login or password.'],
  tooMany: ['Забагато невдалих спроб. Спробуйте через {s} с.', 'Too many failed attempts. Try again in {s} s.'],
  fillBoth: ['Вкажіть логін і пароль.', 'Enter the login and the password.'],
  navConsole: ['Картка', 'Card'],
  navLive: ['Черги й оператори', 'Queues and operators'],
  navRecordings: ['Записи', 'Recordings'],
  navBlocked: ['Блокування', 'Blocked numbers'],
  navAccess: ['Журнал доступу', 'Access log'],
  recordingsTitle: ['Записи розмов', 'Call recordings'],
  from: ['Від', 'From'],
  to: ['До', 'To'],
  appeal: ['Звернення', 'Appeal'],
  callId: ['Ідентифікатор дзвінка', 'Call id'],
  sipCallId: ['SIP Call-ID', 'SIP Call-ID'],
  minSecs: ['Тривалість від, с', 'Duration from, s'],
  maxSecs: ['до, с', 'to, s'],
  found: ['Знайдено', 'Found'],
  duration: ['Тривалість', 'Duration'],
  prev: ['← Попередні', '← Previous'],
  next: ['Наступні →', 'Next →'],
  recording: ['Запис', 'Recording'],
  download: ['Завантажити WAV', 'Download WAV'],
  disposition: ['Результат', 'Outcome'],
  purged: ['Файл видалено (строк зберігання)', 'File removed (retention)'],
  holds: ['Юридичне утримання', 'Legal hold'],
  holdReason: ['Причина утримання', 'Reason for the hold'],
  hold: ['Утримати', 'Hold'],
  holdOnCard: ['(через картку)', '(through its card)'],
  cardHeld: ['Картку {n} і записи її дзвінків утримано від видалення.', 'Card {n} and its calls\' recordings are held from removal.'],
  released: ['знято', 'released'],
  release: ['Зняти', 'Release'],
  noHolds: ['Немає: запис буде видалено через 3 місяці.', 'None: the recording is removed after 3 months.'],
  blockedTitle: ['Заблоковані номери', 'Blocked numbers'],
  number: ['Номер', 'Number'],
  reasonLabel: ['Причина', 'Reason'],
  untilOptional: ['До (необов\'язково)', 'Until (optional)'],
  blockAdd: ['Заблокувати', 'Block'],
  showHistory: ['Показати й зняті та прострочені', 'Show lifted and expired too'],
  blockedBy: ['Хто', 'By'],
  untilCol: ['До', 'Until'],
  attempts: ['Спроб', 'Attempts'],
  untilLifted: ['до зняття', 'until lifted'],
  unblock: ['Розблокувати', 'Unblock'],
  ended_lifted: ['знято', 'lifted'],
  ended_expired: ['минуло', 'expired'],
  ended_replaced: ['замінено', 'replaced'],
  numberBlocked: ['Номер {n} заблоковано.', '{n} blocked.'],
  numberUnblocked: ['Номер {n} розблоковано.', '{n} unblocked.'],
  accessTitle: ['Журнал доступу до записів', 'Recordings access log'],
  show: ['Показати', 'Show'],
  exportCsv: ['Експорт CSV', 'Export CSV'],
  user: ['Користувач', 'User'],
  action: ['Дія', 'Action'],
  range: ['Діапазон', 'Range'],
  ipAddress: ['Звідки', 'From where'],
  access_play: ['прослуховування', 'play'],
  access_download: ['завантаження', 'download'],
  storage_low: ['Місце для записів закінчується: вільно {m} МБ.', 'Recording space is running low: {m} MB free.'],
  storage_critical: ['УВАГА: місця для записів майже немає (вільно {m} МБ). Дзвінки приймаються, але записи можуть обриватися.', 'WARNING: almost no space for recordings ({m} MB free). Calls are answered, but recordings may be cut short.'],
  storage_unknown: ['Не вдається прочитати вільне місце для записів.', 'Cannot read the free space for recordings.'],
  online: ['На зв\'язку', 'Connected'],
  offline: ['Немає зв\'язку з сервером — перепідключення…', 'No connection to the server — reconnecting…'],

  goLogin: ['Увійти в черги', 'Join the queues'],
  goAvailable: ['Готовий', 'Ready'],
  goPause: ['Пауза', 'Pause'],
  wrapupDone: ['Обробку завершено', 'Wrap-up done'],
  pauseReason: ['Причина паузи', 'Reason for the pause'],
  reasonBreak: ['Перерва', 'Break'],
  reasonLunch: ['Обід', 'Lunch'],
  reasonTraining: ['Навчання', 'Training'],
  reasonTechnical: ['Технічна проблема', 'Technical problem'],
  reasonOther: ['Інше', 'Other'],
  pauseOther: ['Інша причина', 'Other reason'],
  pauseNeedsReason: ['Вкажіть причину паузи.', 'Give the reason for the pause.'],
  state_available: ['Готовий', 'Ready'],
  state_ringing: ['Дзвонить', 'Ringing'],
  state_on_call: ['Розмова', 'On a call'],
  state_wrap_up: ['Обробка після дзвінка', 'Wrap-up'],
  state_paused: ['Пауза', 'Paused'],
  state_logged_out: ['Не в мережі', 'Logged out'],
  stateFailed: ['Стан не змінено: {m}', 'State not changed: {m}'],

  noCall: ['Немає дзвінка', 'No call'],
  callRinging: ['Вхідний дзвінок', 'Incoming call'],
  callAnswered: ['Розмова', 'Conversation'],
  callEnded: ['Дзвінок завершено', 'Call ended'],
  callWithdrawn: ['Дзвінок пішов іншому оператору', 'The call went to another operator'],
  endedBy_caller: ['абонент поклав слухавку', 'the caller hung up'],
  endedBy_operator: ['ви завершили', 'you hung up'],
  endedBy_server: ['завершено сервером', 'ended by the server'],
  endedBy_timeout: ['зв\'язок втрачено', 'connection lost'],
  endedBy_shutdown: ['сервер зупинено', 'server stopped'],
  endedBy_transfer: ['переведено', 'transferred'],
  walkIn: ['Без дзвінка (особистий прийом)', 'No call (walk-in)'],
  channel_phone: ['Телефон', 'Phone'],
  channel_walk_in: ['Особистий прийом', 'Walk-in'],
  queueWait: ['черга «{q}», чекав {w}', 'queue “{q}”, waited {w}'],
  newCard: ['Нова картка (Alt+N)', 'New card (Alt+N)'],
  endAndBlock: ['Завершити дзвінок і заблокувати', 'End call and block caller'],
  attachToExisting: ['Прикріпити до звернення…', 'Attach to an appeal…'],

  cardTitle: ['Картка звернення', 'Appeal card'],
  repeatOf: ['Повторне до', 'Repeat of'],
  repeatClear: ['Не повторне', 'Not a repeat'],
  surname: ['Прізвище', 'Surname'],
  firstName: ['Ім\'я', 'First name'],
  patronymic: ['По батькові', 'Patronymic'],
  address: ['Адреса проживання', 'Address'],
  contactPhone: ['Контактний телефон', 'Contact phone'],
  otherContact: ['Інший контакт', 'Other contact'],
  email: ['Ел. пошта', 'E-mail'],
  category: ['Категорія (класифікатор)', 'Category (classifier)'],
  categoryFilter: ['Пошук у класифікаторі…', 'Search the classifier…'],
  chooseCategory: ['— оберіть —', '— choose —'],
  categoryInfo: ['Виконавець: {e} · термін: {d}', 'Executor: {e} · deadline: {d}'],
  deadline_emergency: ['аварійний, 3 години', 'emergency, 3 hours'],
  deadline_short: ['короткий, 24 години', 'short, 24 hours'],
  deadline_medium: ['середній, 72 години', 'medium, 72 hours'],
  deadline_long: ['тривалий, 1 тиждень', 'long, 1 week'],
  deadline_written: ['письмова відповідь, 30 днів', 'written answer, 30 days'],
  noClassifier: ['Класифікатор не завантажено: hotline classifier import', 'No classifier imported: hotline classifier import'],
  essence: ['Суть звернення', 'Essence of the issue'],
  attachments: ['Вкладення (фото, відео, документи)', 'Attachments (photos, video, documents)'],
  required: ['обов\'язкове', 'required'],
  phoneOrOther: ['телефон або інший контакт', 'phone or another contact'],
  save: ['Зберегти (Enter)', 'Save (Enter)'],
  saving: ['Збереження…', 'Saving…'],
  clear: ['Очистити', 'Clear'],
  shortcuts: ['Enter — зберегти · Ctrl+Enter у тексті · Alt+E — суть · Alt+K — категорія · Alt+N — нова картка',
    'Enter — save · Ctrl+Enter in text · Alt+E — essence · Alt+K — category · Alt+N — new card'],
  registered: ['Звернення зареєстровано. Номер:', 'Appeal registered. Number:'],
  savedDetails: ['Виконавець: {e} · виконати до {d}', 'Executor: {e} · due by {d}'],
  uploadDone: ['{f}: додано', '{f}: attached'],
  uploadFailed: ['{f}: не додано — {m}', '{f}: not attached — {m}'],
  fixFields: ['Виправте позначені поля.', 'Correct the marked fields.'],
  saveFailed: ['Не збережено: {m}', 'Not saved: {m}'],
  draftKept: ['Незбережену картку відкладено: вона в «Незбережених картках».', 'The unsaved card was put aside: see “Unsaved cards”.'],
  draftRestored: ['Чернетку відновлено.', 'Draft restored.'],
  draftMovedToWalkIn: ['Дзвінок пішов іншому оператору; картку збережено як картку без дзвінка.', 'The call went to another operator; the card is kept as one without a call.'],
  drafts: ['Незбережені картки', 'Unsaved cards'],
  open: ['Відкрити', 'Open'],
  discard: ['Видалити', 'Discard'],
  draftOfCall: ['дзвінок {c}', 'call {c}'],
  draftWalkIn: ['без дзвінка', 'no call'],
  savedElsewhere: ['Звернення {n} зареєстровано (картку вже закрито).', 'Appeal {n} registered (its card is already closed).'],

  err_surname: ['Вкажіть прізвище.', 'Enter the surname.'],
  err_first_name: ['Вкажіть ім\'я.', 'Enter the first name.'],
  err_patronymic: ['Вкажіть по батькові.', 'Enter the patronymic.'],
  err_address: ['Вкажіть адресу.', 'Enter the address.'],
  err_contact: ['Вкажіть контактний телефон або інший контакт.', 'Enter a contact phone or another contact.'],
  err_phone: ['Номер телефону не розпізнано.', 'The phone number is not recognised.'],
  err_email: ['Електронна пошта має вигляд name@example.com.', 'An e-mail address looks like name@example.com.'],
  err_category: ['Оберіть категорію з класифікатора.', 'Choose a category from the classifier.'],
  err_essence: ['Вкажіть суть звернення.', 'Describe the issue.'],
  err_long: ['Не довше {n} символів.', 'At most {n} characters.'],
  err_file_size: ['{f}: файл більший за {n} МБ.', '{f}: the file is larger than {n} MB.'],

  earlier: ['Попередні звернення абонента', 'The caller\'s earlier appeals'],
  works: ['Ремонтні роботи за адресою', 'Repair works at the address'],
  ivrPath: ['Шлях у голосовому меню', 'Path through the voice menu'],
  nothing: ['—', '—'],
  attach: ['Прикріпити', 'Attach'],
  attachCall: ['Прикріпити дзвінок', 'Attach the call'],
  makeRepeat: ['Повторне', 'Repeat'],
  attached: ['Дзвінок прикріплено до звернення {n}.', 'The call is attached to appeal {n}.'],
  alreadyAttached: ['Дзвінок уже прикріплено до звернення {n}.', 'The call was already attached to appeal {n}.'],
  attachTitle: ['Прикріпити дзвінок до звернення', 'Attach the call to an appeal'],
  regNumber: ['Реєстраційний номер', 'Registration number'],
  findAppeal: ['Знайти звернення за номером', 'Find an appeal by number'],
  find: ['Знайти', 'Find'],
  notFound: ['Звернення {n} не знайдено.', 'Appeal {n} not found.'],
  status_registered: ['зареєстровано', 'registered'],
  status_delivered: ['передано виконавцю', 'delivered'],
  status_in_progress: ['у роботі', 'in progress'],
  status_closure_proposed: ['запропоновано до закриття', 'closure proposed'],
  status_rework: ['на доопрацюванні', 'sent back for rework'],
  status_long_term: ['довготривалий контроль (СЕР)', 'long-term control (SER plan)'],
  status_closed: ['закрито', 'closed'],
  status_rejected: ['не підлягає розгляду', 'not to be considered'],
  status_verification: ['перевірка виконання', 'verification'],
  work_emergency: ['аварійні', 'emergency'],
  work_planned: ['планові', 'planned'],
  service_water: ['вода', 'water'],
  service_heating: ['опалення', 'heating'],
  service_power: ['електроенергія', 'power'],
  service_gas: ['газ', 'gas'],
  service_other: ['інше', 'other'],
  until: ['до {d}', 'until {d}'],
  myCalls: ['Мої дзвінки сьогодні', 'My calls today'],
  time: ['Час', 'Time'],
  caller: ['Абонент', 'Caller'],
  queue: ['Черга', 'Queue'],
  wait: ['Очікування', 'Wait'],

  blockTitle: ['Завершити дзвінок і заблокувати абонента', 'End the call and block the caller'],
  blockReason: ['Причина (образи, нецензурна лексика…)', 'Reason (insults, obscene language…)'],
  blockConfirm: ['Завершити й заблокувати', 'End and block'],
  blockNeedsReason: ['Вкажіть причину.', 'Give a reason.'],
  blocked: ['Дзвінок завершено, запит на блокування записано.', 'Call ended; the block request is recorded.'],
  cancel: ['Скасувати', 'Cancel'],

  liveTitle: ['Черги й оператори зараз', 'Queues and operators now'],
  queues: ['Черги', 'Queues'],
  waiting: ['Очікують', 'Waiting'],
  longest: ['Найдовше', 'Longest'],
  answeredToday: ['Прийнято сьогодні', 'Answered today'],
  abandonedToday: ['Втрачено', 'Abandoned'],
  serviceLevel: ['Рівень обслуговування', 'Service level'],
  operators: ['Оператори', 'Operators'],
  operator: ['Оператор', 'Operator'],
  extension: ['Внутр.', 'Ext.'],
  state: ['Стан', 'State'],
  since: ['Від', 'Since'],
  events: ['Події', 'Events'],
  missed: ['Пропущено {n} подій, дані оновлено.', '{n} events missed; figures reloaded.'],
  ev_call_started: ['дзвінок прийнято сервером', 'call answered by the server'],
  ev_queue_joined: ['у черзі «{q}», позиція {p}', 'joined “{q}” at position {p}'],
  ev_queue_refused: ['черга «{q}» не прийняла ({r})', '“{q}” refused ({r})'],
  ev_operator_ringing: ['дзвонить оператору {o}', 'ringing operator {o}'],
  ev_queue_answered: ['{o} прийняв(ла) дзвінок', '{o} answered'],
  ev_queue_abandoned: ['абонент не дочекався в «{q}»', 'caller abandoned “{q}”'],
  ev_call_transferred: ['{o} переводить на {t}', '{o} transfers to {t}'],
  ev_call_ended: ['дзвінок завершено ({b})', 'call ended ({b})'],
  ev_operator_state: ['{o}: {s}', '{o}: {s}'],
  noView: ['Для вашої ролі в консолі поки немає розділу. Картки виконавців з\'являться з розділом виконавців.',
    'Your role has no view in the console yet. Executors\' cards come with the executors\' section.'],
  sessionEnded: ['Сеанс завершився. Увійдіть знову.', 'The session has ended. Sign in again.'],
  serverError: ['Помилка сервера: {m}', 'Server error: {m}'],
};

const KEY = 'hotline.lang';
let lang = localStorage.getItem(KEY) === 'en' ? 'en' : 'uk';

export function language() {
  return lang;
}

/** The word for `key` in Ukrainian, whatever the page shows: for what
 * the server stores (a pause's reason), which must not depend on who
 * clicked. */
export function tUk(key) {
  const entry = WORDS[key];
  return entry ? entry[0] : key;
}

/** The word for `key` in the current language, with {name} filled in. */
export function t(key, values = {}) {
  const entry = WORDS[key];
  let text = entry ? entry[lang === 'en' ? 1 : 0] : key;
  for (const [name, value] of Object.entries(values)) {
    // A function, so `$&` and the like in the value stay as they are.
    text = text.replaceAll(`{${name}}`, () => String(value));
  }
  return text;
}

/** Translates every marked element under `root`. */
export function translate(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  for (const el of root.querySelectorAll('[data-i18n-ph]')) el.setAttribute('placeholder', t(el.dataset.i18nPh));
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.setAttribute('title', t(el.dataset.i18nTitle));
}

export function setLanguage(next) {
  lang = next === 'en' ? 'en' : 'uk';
  localStorage.setItem(KEY, lang);
  translate();
}

const locale = () => (lang === 'en' ? 'en-GB' : 'uk-UA');

/** A date and time as people here write it. */
export function dateTime(iso) {
  if (!iso) return '';
  return new Date(iso).toLocaleString(locale(), {
    day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit',
  });
}

export function time(iso) {
  if (!iso) return '';
  return new Date(iso).toLocaleTimeString(locale(), { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** A duration in ms as m:ss (or h:mm:ss). */
export function duration(ms) {
  if (ms == null || Number.isNaN(ms)) return '';
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
