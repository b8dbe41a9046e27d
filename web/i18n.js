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
  noView: ['Для вашої ролі в консолі немає розділу.', 'Your role has no view in the console.'],
  sessionEnded: ['Сеанс завершився. Увійдіть знову.', 'The session has ended. Sign in again.'],
  serverError: ['Помилка сервера: {m}', 'Server error: {m}'],
  // The card's life: inbox, decisions, steps.
  kind: ['Вид звернення', 'Kind of appeal'],
  kind_statement: ['Заява (клопотання)', 'Statement'],
  kind_complaint: ['Скарга', 'Complaint'],
  kind_proposal: ['Пропозиція', 'Proposal'],
  kind_remark: ['Зауваження', 'Remark'],
  kind_request: ['Запит', 'Request'],
  kind_demand: ['Вимога', 'Demand'],
  anonymous: ['Анонімне звернення (без імені й контактів, без зворотного дзвінка)', 'Anonymous appeal (no name or contact, no callback)'],
  navInbox: ['Звернення', 'Appeals'],
  navDecisions: ['Рішення', 'Decisions'],
  navCardAccess: ['Хто відкривав картки', 'Card access'],
  navWorks: ['Ремонтні роботи', 'Repair works'],
  worksTitle: ['Ремонтні роботи: поточні й заплановані', 'Repair works: under way and planned'],
  workKind: ['Вид', 'Kind'],
  workService: ['Послуга', 'Service'],
  workDescription: ['Що робиться й що відключено', 'What is done and cut off'],
  workStart: ['Початок', 'Start'],
  workEnd: ['Очікуване завершення', 'Expected end'],
  workAddresses: ['Адреси: вулиця, будинки (10-20 чи 2, 4) — по одній на рядок', 'Addresses: street, houses (10-20 or 2, 4), one a line'],
  workRegister: ['Зареєструвати роботи', 'Register the work'],
  workRegistered: ['Роботи зареєстровано.', 'The work is registered.'],
  workWhere: ['Де', 'Where'],
  workWhen: ['Коли', 'When'],
  workNow: ['тривають', 'under way'],
  workPlanned: ['заплановані', 'planned'],
  workExtend: ['Продовжити', 'Extend'],
  workExtendTo: ['Вкажіть нове завершення (київський час).', 'Give the new end (Kyiv time).'],
  workClose: ['Завершити', 'Close'],
  cardAccessTitle: ['Журнал доступу до карток', 'Who opened which card'],
  browser: ['Браузер', 'Browser'],
  inboxTitle: ['Звернення до виконання', 'Appeals to work on'],
  inboxTabs: ['Розділи звернень', 'Appeal tabs'],
  decisionsTitle: ['Запити й пропозиції закриття', 'Requests and closure proposals'],
  cards: ['Картки', 'Cards'],
  deadline: ['Термін', 'Deadline'],
  timeLeft: ['Залишилось', 'Time left'],
  deadlineStopped: ['термін не спливає', 'the deadline is not running'],
  request: ['Запит', 'Request'],
  executor: ['Виконавець', 'Executor'],
  executors: ['Виконавці', 'Executors'],
  registeredAt: ['Зареєстровано', 'Registered'],
  deliveryAt: ['Буде передано виконавцю', 'To be delivered'],
  deliveredAt: ['поза робочим часом; буде передано {at}', 'outside working hours; delivered {at}'],
  decideBy: ['Вирішити до', 'Decide by'],
  pickCard: ['Оберіть картку в списку.', 'Pick a card in the list.'],
  nothingHere: ['Тут нічого немає.', 'Nothing here.'],
  tab_new: ['Нові', 'New'],
  tab_in_progress: ['У роботі', 'In progress'],
  tab_overdue: ['Прострочені', 'Overdue'],
  tab_due_soon: ['Термін спливає', 'Due soon'],
  tab_awaiting: ['Чекають рішення', 'Awaiting a decision'],
  tab_long_term: ['СЕР', 'SER plan'],
  tab_closed: ['Закриті', 'Closed'],
  spanDays: ['{d} дн {h} год', '{d} d {h} h'],
  spanHours: ['{h} год {m} хв', '{h} h {m} min'],
  spanMinutes: ['{m} хв', '{m} min'],
  overdueBy: ['прострочено на {span}', 'overdue by {span}'],
  control: ['Контроль', 'Control'],
  control_regular: ['звичайний', 'regular'],
  control_additional: ['додатковий (продовжено)', 'additional (extended)'],
  control_long_term: ['довготривалий (СЕР)', 'long-term (SER plan)'],
  extensions: ['Продовжень', 'Extensions'],
  plannedDate: ['Запланована дата', 'Planned date'],
  applicant: ['Заявник', 'Applicant'],
  anonymousApplicant: ['анонімно', 'anonymous'],
  lead: ['головний виконавець', 'lead executor'],
  coExecutor: ['співвиконавець', 'co-executor'],
  responsibleIs: ['відповідальний: {who}', 'responsible: {who}'],
  declined: ['відмовився: {why}', 'declined: {why}'],
  notAccepted: ['ще не прийняв', 'not accepted yet'],
  req_change_executor: ['зміна виконавця (пропонує: {to})', 'change of executor (suggests: {to})'],
  req_extension: ['продовження терміну до {until}', 'extension until {until}'],
  req_long_term: ['включення до плану СЕР на {planned}', 'inclusion in the SER plan for {planned}'],
  req_closure: ['пропозиція закрити', 'proposal to close'],
  decideWithin: ['рішення за {span}', 'decide within {span}'],
  decisionLate: ['рішення запізнюється на {span}', 'the decision is {span} late'],
  needsCurator: ['потрібна згода куратора', 'needs the curator\'s approval'],
  files: ['Файли', 'Files'],
  noFiles: ['Файлів немає.', 'No files.'],
  history: ['Історія', 'History'],
  steps: ['Дії', 'Steps'],
  noSteps: ['Зараз для вас дій немає.', 'No steps for you now.'],
  newDeadline: ['новий термін {at}', 'new deadline {at}'],
  asProof: ['як підтвердження', 'as proof'],
  stepDone: ['Збережено.', 'Saved.'],
  fillField: ['Заповніть поле «{field}».', 'Fill in “{field}”.'],
  act_accept: ['Прийняти до виконання', 'Accept'],
  act_comment: ['Коментар', 'Comment'],
  act_attach: ['Додати файл', 'Add a file'],
  act_request_change: ['Змінити виконавця', 'Ask for another executor'],
  act_not_ours: ['Не наша компетенція', 'Not ours'],
  act_request_extension: ['Продовжити термін', 'Ask for an extension'],
  act_request_long_term: ['До плану СЕР', 'Ask for the SER plan'],
  act_propose_closure: ['Запропонувати закрити', 'Propose closure'],
  act_withdraw: ['Відкликати запит', 'Withdraw the request'],
  act_approve: ['Погодити', 'Approve'],
  act_reject: ['Відхилити', 'Reject'],
  act_reassign: ['Перепризначити', 'Reassign'],
  act_dismiss: ['Не підлягає розгляду', 'Dismiss'],
  field_responsible: ['Відповідальна особа (ПІБ, посада)', 'Responsible person (name, post)'],
  field_text: ['Коментар', 'Comment'],
  field_files: ['Файли', 'Files'],
  field_proof: ['Це підтвердження виконання (фото, акт)', 'This is proof of the work (photo, act)'],
  field_reason: ['Обґрунтування', 'Reason'],
  field_suggested: ['Код виконавця, якого пропонуєте (необов\'язково)', 'Executor code you suggest (optional)'],
  field_until: ['Новий термін', 'New deadline'],
  field_documents: ['Документи-підстави', 'Supporting documents'],
  field_planned: ['Запланована дата робіт', 'Planned date of the work'],
  field_summary: ['Що зроблено', 'What was done'],
  field_note: ['Примітка (необов\'язково)', 'Note (optional)'],
  field_executor: ['Код нового виконавця', 'New executor code'],
  entry_registered: ['зареєстровано', 'registered'],
  entry_delivered: ['передано виконавцю', 'delivered'],
  entry_accepted: ['прийнято до виконання', 'accepted'],
  entry_commented: ['коментар', 'comment'],
  entry_attached: ['додано файл', 'file added'],
  entry_change_requested: ['запит на зміну виконавця', 'change of executor asked'],
  entry_not_ours: ['не наша компетенція', 'not ours'],
  entry_extension_requested: ['запит на продовження', 'extension asked'],
  entry_long_term_requested: ['запит на план СЕР', 'SER plan asked'],
  entry_closure_proposed: ['запропоновано закрити', 'closure proposed'],
  entry_withdrawn: ['запит відкликано', 'request withdrawn'],
  entry_awaiting_curator: ['погоджено, чекає куратора', 'approved, awaiting the curator'],
  entry_curator_approved: ['погоджено куратором', 'approved by the curator'],
  entry_executor_changed: ['змінено виконавця', 'executor changed'],
  entry_extended: ['термін продовжено', 'deadline extended'],
  entry_moved_to_long_term: ['включено до плану СЕР', 'moved to the SER plan'],
  entry_closed: ['закрито', 'closed'],
  entry_request_rejected: ['запит відхилено', 'request rejected'],
  entry_returned_for_rework: ['повернуто на доопрацювання', 'returned for rework'],
  entry_reassigned: ['перепризначено', 'reassigned'],
  entry_dismissed: ['не підлягає розгляду', 'dismissed'],
  entry_overdue: ['термін минув', 'deadline passed'],
  entry_due_soon: ['термін спливає', 'deadline near'],
  refusal_role: ['Ця дія не для вашої ролі.', 'This step is not for your role.'],
  refusal_state: ['У цьому стані картки ця дія неможлива.', 'Not possible in the card\'s state.'],
  refusal_not_your_card: ['Це не картка вашої організації.', 'Not your organisation\'s card.'],
  refusal_not_lead: ['Це може лише головний виконавець.', 'Only the lead executor may.'],
  refusal_lead_cannot_decline: ['Головний виконавець просить змінити виконавця, а не відмовляється.', 'The lead asks for another executor instead.'],
  refusal_already_accepted: ['Уже прийнято.', 'Already accepted.'],
  refusal_missing: ['Заповніть обов\'язкове поле.', 'Fill in the required field.'],
  refusal_too_long: ['Текст задовгий.', 'The text is too long.'],
  refusal_not_later: ['Новий термін має бути пізніше за чинний.', 'The new deadline must be after the current one.'],
  refusal_planned_not_future: ['Запланована дата має бути в майбутньому.', 'The planned date must be in the future.'],
  refusal_needs_documents: ['Додайте документи-підстави.', 'Add the supporting documents.'],
  refusal_needs_proof: ['Додайте фото чи документ, що підтверджує виконання.', 'Add a photo or document proving the work.'],
  refusal_already_pending: ['Попередній запит ще не вирішено.', 'An earlier request awaits a decision.'],
  refusal_nothing_pending: ['Немає запиту, щоб вирішувати.', 'No request to decide.'],
  refusal_not_your_request: ['Це не ваш запит.', 'Not your request.'],
  refusal_no_curator: ['У виконавця немає куратора для другого продовження.', 'The executor has no curator for a second extension.'],
  refusal_awaiting_curator: ['Чекає згоди куратора.', 'Awaiting the curator.'],
  refusal_awaiting_supervisor: ['Чекає рішення контакт-центру.', 'Awaiting the contact centre.'],
  refusal_executors: ['Потрібен рівно один головний виконавець, кожен один раз.', 'Exactly one lead, each executor once.'],
  refusal_same_executors: ['Виконавці ті самі.', 'The executors are the same.'],
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
// Times are shown on the city's clock, wherever the browser is (the
// server's working calendar counts days in the same zone).
const CITY_ZONE = 'Europe/Kyiv';

/** A moment on the city's clock (`YYYY-MM-DDTHH:MM`, as a datetime-local
 * field gives it) as an instant, whatever the browser's zone. */
export function cityMoment(local) {
  const [date, clock = '00:00'] = local.split('T');
  const [y, m, d] = date.split('-').map(Number);
  const [hh, mm] = clock.split(':').map(Number);
  const guess = Date.UTC(y, m - 1, d, hh, mm);
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-GB', {
    timeZone: CITY_ZONE, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
  }).formatToParts(guess).map((p) => [p.type, Number(p.value)]));
  const shown = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute);
  return new Date(guess - (shown - guess)).toISOString();
}

/** The last minute (23:59) of a day (`YYYY-MM-DD`) on the city's clock, as
 * an instant: a deadline picked as a date means the end of that day there. */
export function cityEndOfDay(date) {
  return cityMoment(`${date}T23:59`);
}

/** A date and time as people here write it. */
export function dateTime(iso) {
  if (!iso) return '';
  return new Date(iso).toLocaleString(locale(), {
    day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: CITY_ZONE,
  });
}

export function time(iso) {
  if (!iso) return '';
  return new Date(iso).toLocaleTimeString(locale(), { hour: '2-digit', minute: '2-digit', second: '2-digit', timeZone: CITY_ZONE });
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
