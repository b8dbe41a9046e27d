// The citizens' pages (docs/web.md): the appeal form and the status page.
// No sign-in; the server checks everything again and says what is wrong
// field by field.
import { $, el } from './dom.js';
import { dateTime, language, setLanguage, t, translate } from './i18n.js';
import { degrees, placeErrors } from './place.js';
import { CategoryPicker } from './categories.js';

const FIELDS = ['surname', 'first_name', 'patronymic', 'address', 'contact_phone', 'other_contact', 'email', 'essence', 'latitude', 'longitude'];

/** A phone as people type it has 9 to 15 digits ("067 123 45 67",
 * "+380 67 123 45 67"); the server decides for good. */
function plausiblePhone(text) {
  const digits = text.replace(/\D/g, '');
  return /^[\d\s()+-]+$/.test(text) && digits.length >= 9 && digits.length <= 15;
}

async function getJson(url) {
  const r = await fetch(url, { headers: { accept: 'application/json' } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw Object.assign(new Error(body.error || `HTTP ${r.status}`), { status: r.status, body });
  return body;
}

class AppealForm {
  constructor() {
    this.types = [];
    this.settings = null;
    this.map = null;
    this.marker = null;
    this.picker = new CategoryPicker($('f-category'),
      (q) => getJson(`/public/api/classifier/search?q=${encodeURIComponent(q)}`).then((r) => r.types),
      // "Не знаю": the contact centre picks the subject.
      () => [el('option', { value: '', text: t('chooseCategory') }), el('option', { value: 'unknown', text: t('pub_dont_know') })]);
  }

  async start() {
    $('appeal-form').addEventListener('submit', (e) => { e.preventDefault(); this.send(); });
    $('f-category-filter').addEventListener('input', () => this.picker.filter($('f-category-filter').value).then(() => this.showCategoryInfo()));
    $('f-category-filter').addEventListener('keydown', async (e) => {
      // Enter takes the best match rather than sending the form.
      if (e.key !== 'Enter') return;
      e.preventDefault();
      await this.picker.takeBest();
      this.showCategoryInfo();
      if (document.activeElement === e.target) $('f-category').focus();
    });
    $('f-category').addEventListener('change', () => this.showCategoryInfo());
    $('f-essence').addEventListener('input', () => this.countEssence());
    $('f-files').addEventListener('change', () => this.checkFiles());
    for (const id of ['f-latitude', 'f-longitude']) $(id).addEventListener('change', () => this.placeTyped());
    $('where-am-i').addEventListener('click', () => this.locate());
    $('where-am-i').hidden = !navigator.geolocation;
    try {
      this.settings = await getJson('/public/api/form');
    } catch (e) {
      this.alert(t('pub_unavailable'));
      return;
    }
    this.types = this.settings.sections.flatMap((s) => s.types.map((x) => ({ ...x, section: s.name })));
    this.picker.setTypes(this.types.map((x) => ({ id: x.id, section: x.section, label: x.name })));
    this.showCategoryInfo();
    $('files-hint').textContent = t('pub_files_hint', { n: this.settings.max_files, mb: this.settings.file_max_mb });
    this.countEssence();
    this.startMap();
  }

  /** The language changed: the list's prompts in it. */
  retranslate() {
    this.picker.render();
    this.showCategoryInfo();
  }

  showCategoryInfo() {
    const value = $('f-category').value;
    const x = this.types.find((c) => c.id === value);
    $('category-info').textContent = value === 'unknown' ? t('pub_dont_know_info')
      : x ? t('pub_category_info', { e: x.executor, d: t(`deadline_${x.deadline}`) }) : '';
  }

  countEssence() {
    const n = [...$('f-essence').value].length;
    $('essence-count').textContent = t('pub_chars', { n, max: 4000 });
  }

  /** The map, when the city configured a tile server; without one (or
   * without Leaflet) the coordinates are typed. */
  startMap() {
    const m = this.settings.map;
    if (!m.tiles || !window.L) {
      $('map-hint').textContent = t('pub_map_none');
      return;
    }
    const L = window.L;
    L.Icon.Default.imagePath = '/static/leaflet-';
    $('map').hidden = false;
    this.map = L.map('map', { scrollWheelZoom: false }).setView([m.latitude, m.longitude], m.zoom);
    // Leaflet sets the attribution as HTML: the configured text is escaped.
    const attribution = m.attribution.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    L.tileLayer(m.tiles, { maxZoom: 19, attribution }).addTo(this.map);
    this.map.on('click', (e) => this.placed(e.latlng.lat, e.latlng.lng));
  }

  placed(lat, lon) {
    $('f-latitude').value = lat.toFixed(6);
    $('f-longitude').value = lon.toFixed(6);
    this.clearError('latitude');
    this.clearError('longitude');
    this.showMarker(lat, lon);
  }

  placeTyped() {
    const lat = degrees($('f-latitude').value);
    const lon = degrees($('f-longitude').value);
    if (lat !== null && lon !== null && !placeErrors(lat, lon).length) this.showMarker(lat, lon);
  }

  showMarker(lat, lon) {
    if (!this.map) return;
    if (this.marker) this.marker.setLatLng([lat, lon]);
    else this.marker = window.L.marker([lat, lon]).addTo(this.map);
  }

  locate() {
    navigator.geolocation.getCurrentPosition(
      (p) => {
        this.placed(p.coords.latitude, p.coords.longitude);
        if (this.map) this.map.setView([p.coords.latitude, p.coords.longitude], 17);
      },
      () => this.showError('latitude', t('pub_no_location')),
      { enableHighAccuracy: true, timeout: 10000 },
    );
  }

  checkFiles() {
    this.clearError('files');
    const files = [...$('f-files').files];
    const s = this.settings;
    if (!s) return [];
    const errors = [];
    if (files.length > s.max_files) errors.push({ field: 'files', message: t('pub_too_many_files', { n: s.max_files }) });
    const big = files.find((f) => f.size > s.file_max_mb * 1024 * 1024);
    if (big) errors.push({ field: 'files', message: t('pub_file_too_big', { name: big.name, mb: s.file_max_mb }) });
    for (const e of errors) this.showError(e.field, e.message);
    return errors;
  }

  values() {
    const v = {};
    for (const f of FIELDS) v[f] = $(`f-${f}`).value;
    v.category = $('f-category').value;
    v.consent = $('f-consent').checked;
    return v;
  }

  /** The browser's checks: the same rules as the server's. */
  check(v) {
    const errors = [];
    const need = (field, key) => { if (!v[field].trim()) errors.push({ field, message: t(key) }); };
    need('surname', 'err_surname');
    need('first_name', 'err_first_name');
    need('patronymic', 'err_patronymic');
    need('address', 'err_address');
    if (!v.contact_phone.trim() && !v.other_contact.trim()) errors.push({ field: 'contact_phone', message: t('err_contact') });
    else if (v.contact_phone.trim() && !plausiblePhone(v.contact_phone.trim())) errors.push({ field: 'contact_phone', message: t('err_phone') });
    const email = v.email.trim();
    if (email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) errors.push({ field: 'email', message: t('err_email') });
    if (!v.category) errors.push({ field: 'category', message: t('err_category') });
    need('essence', 'err_essence');
    if ([...v.essence].length > 4000) errors.push({ field: 'essence', message: t('err_long', { n: 4000 }) });
    errors.push(...placeErrors(v.latitude, v.longitude));
    errors.push(...this.checkFiles());
    if (!v.consent) errors.push({ field: 'consent', message: t('pub_err_consent') });
    return errors;
  }

  clearError(field) {
    const slot = $(`e-${field}`);
    if (slot) slot.textContent = '';
    $(`f-${field}`)?.removeAttribute('aria-invalid');
  }

  showError(field, message) {
    const slot = $(`e-${field}`);
    const input = $(`f-${field}`);
    if (!slot || !input) return false;
    slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
    input.setAttribute('aria-invalid', 'true');
    return true;
  }

  showErrors(errors) {
    for (const node of document.querySelectorAll('#appeal-form .pub-error')) node.textContent = '';
    for (const node of document.querySelectorAll('#appeal-form [aria-invalid]')) node.removeAttribute('aria-invalid');
    const other = [];
    let first = null;
    for (const { field, message } of errors) {
      if (this.showError(field, message)) first = first || $(`f-${field}`);
      else other.push(message);
    }
    this.alert([t('pub_fix_fields'), ...other].join(' '));
    if (first) first.focus();
  }

  alert(text) {
    const box = $('form-error');
    box.textContent = text;
    box.hidden = !text;
    if (text) box.scrollIntoView({ block: 'center' });
  }

  async send() {
    if (this.sending) return;
    const v = this.values();
    const errors = this.check(v);
    if (errors.length) {
      this.showErrors(errors);
      return;
    }
    this.showErrors([]);
    this.alert('');
    const data = new FormData($('appeal-form'));
    data.set('consent', v.consent ? 'yes' : '');
    this.sending = true;
    const button = $('send');
    button.disabled = true;
    button.textContent = t('pub_sending');
    try {
      const r = await fetch('/public/api/appeals', { method: 'POST', body: data });
      const body = await r.json().catch(() => ({}));
      if (r.status === 201) {
        this.filed(body);
      } else if (r.status === 422 && Array.isArray(body.errors)) {
        this.showErrors(body.errors);
      } else {
        this.alert(body.error || t('pub_failed', { status: r.status }));
      }
    } catch {
      this.alert(t('pub_offline'));
    } finally {
      this.sending = false;
      button.disabled = false;
      button.textContent = t('pub_send');
    }
  }

  filed(body) {
    $('appeal-form').hidden = true;
    $('filed-number').textContent = body.registration_number;
    $('filed-executor').textContent = body.executor;
    $('filed-deadline').textContent = dateTime(body.deadline);
    $('filed-status').href = `/public/status?number=${encodeURIComponent(body.registration_number)}`;
    const done = $('filed');
    done.hidden = false;
    done.focus();
  }
}

class StatusPage {
  start() {
    $('status-form').addEventListener('submit', (e) => { e.preventDefault(); this.find(); });
    const number = new URLSearchParams(location.search).get('number');
    if (number) {
      $('s-number').value = number;
      $('s-digits').focus();
    }
  }

  async find() {
    const error = $('s-error');
    error.hidden = true;
    const number = $('s-number').value.trim();
    const digits = $('s-digits').value.trim();
    if (!number || !/^\d{4}$/.test(digits)) {
      error.textContent = t('pub_status_need');
      error.hidden = false;
      return;
    }
    const q = new URLSearchParams({ number, digits });
    try {
      this.show(await getJson(`/public/api/status?${q}`));
    } catch (e) {
      $('status-out').replaceChildren();
      error.textContent = e.body?.error || t('pub_offline');
      error.hidden = false;
    }
  }

  /** The language changed: the status shown again, in it. */
  retranslate() {
    if (this.shown) this.show(this.shown);
  }

  show(s) {
    this.shown = s;
    const en = language() === 'en';
    const facts = el('dl', { class: 'pub-facts' });
    const fact = (label, value) => facts.append(el('dt', { text: t(label) }), el('dd', { text: value }));
    fact('pub_status_state', en ? s.status_text_en : s.status_text);
    fact('pub_status_category', s.category);
    fact('pub_filed_executor', s.executor);
    fact('pub_status_registered', dateTime(s.registered_at));
    fact('pub_status_deadline', dateTime(s.deadline));
    const steps = el('ol', { class: 'pub-steps' }, ...s.steps.map((step) => {
      let text = en ? step.text_en : step.text;
      if (step.deadline) text += ` ${t('pub_new_deadline', { at: dateTime(step.deadline) })}`;
      if (step.planned) text += ` ${t('pub_planned', { date: step.planned.split('-').reverse().join('.') })}`;
      return el('li', {}, el('time', { datetime: step.at, text: dateTime(step.at) }), el('span', { text }));
    }));
    $('status-out').replaceChildren(
      el('h2', { text: t('pub_status_of', { n: s.registration_number }) }), facts,
      el('h3', { text: t('pub_status_steps') }), steps);
  }
}

/** Current and planned works, announcements, filtered by street and
 * service as the resident types. */
class WorksPage {
  async start() {
    $('w-street').addEventListener('input', () => this.render());
    $('w-service').addEventListener('change', () => this.render());
    try {
      this.data = await getJson('/public/api/works');
    } catch (e) {
      $('works-now').replaceChildren(el('p', { class: 'pub-alert', text: e.body?.error || t('pub_offline') }));
      return;
    }
    this.render();
  }

  /** The language changed: the list again, in it. */
  retranslate() {
    this.render();
  }

  render() {
    if (!this.data) return;
    const { announcements, works } = this.data;
    $('announcements').replaceChildren(...announcements.map((a) => el('article', { class: 'pub-announcement', id: `a-${a.id}` },
      el('h2', { text: a.title }),
      el('p', { class: 'pub-body', text: a.body }),
      el('p', { class: 'pub-hint', text: a.until ? t('pub_ann_until', { at: dateTime(a.until) }) : dateTime(a.published_at) }))));
    const street = $('w-street').value.trim().toLocaleLowerCase('uk');
    const service = $('w-service').value;
    const shown = works.filter((w) => (!service || w.service === service)
      && (!street || w.addresses.some((a) => a.street.toLocaleLowerCase('uk').includes(street))));
    const card = (w) => el('article', { class: `pub-work ${w.kind}`, id: `w-${w.id}` },
      el('h3', {}, el('span', { class: 'pub-tag', text: t(`work_${w.kind}`) }), ` ${t(`service_${w.service}`)}`),
      el('p', { class: 'pub-where', text: w.addresses.map((a) => (a.house ? `${a.street}, ${a.house}` : a.street)).join('; ') }),
      el('p', { text: w.description }),
      el('p', { class: 'pub-hint', text: `${dateTime(w.starts_at)} – ${dateTime(w.expected_end)} · ${w.executor}` }));
    const none = () => el('p', { class: 'pub-hint', text: street || service ? t('pub_works_none_here') : t('pub_works_none') });
    const now = shown.filter((w) => w.in_progress).map(card);
    const planned = shown.filter((w) => !w.in_progress).map(card);
    $('works-now').replaceChildren(...(now.length ? now : [none()]));
    $('works-planned').replaceChildren(...(planned.length ? planned : [none()]));
  }
}

function route() {
  const path = location.pathname;
  const view = path.startsWith('/public/status') ? 'status' : path.startsWith('/public/works') ? 'works' : 'appeal';
  for (const name of ['appeal', 'status', 'works']) $(`view-${name}`).hidden = name !== view;
  for (const a of document.querySelectorAll('.pub-nav a')) {
    if (a.dataset.view === view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `15-80 · ${t(`pub_nav_${view}`)}`;
  return view;
}

function languageButton() {
  const button = $('pub-lang');
  const other = language() === 'en' ? 'uk' : 'en';
  button.textContent = other === 'en' ? 'English' : 'Українська';
  button.lang = other;
}

async function main() {
  translate();
  languageButton();
  let page = null;
  $('pub-lang').addEventListener('click', () => {
    setLanguage(language() === 'en' ? 'uk' : 'en');
    languageButton();
    route();
    page?.retranslate?.();
  });
  const view = route();
  if (view === 'status') {
    page = new StatusPage();
    page.start();
  } else if (view === 'works') {
    page = new WorksPage();
    await page.start();
  } else {
    page = new AppealForm();
    await page.start();
  }
}

main();
