// The incoming-call alert an operator gets on every page of the console:
// on the card console the card pops up; elsewhere (recordings, works…) a
// bar says who is calling with a way to the card. On every page the tab's
// title says so, and, if the operator turned them on, a ring tone plays
// and a desktop notification shows while the tab is in the background.
// The two switches are the operator's own, kept in this browser.

import { $, listeners } from './dom.js';
import { t } from './i18n.js';

const SOUND = 'hotline.alert.sound';
const NOTIFY = 'hotline.alert.notify';

export class CallAlert {
  /** `onConsole`: whether the card console is the page shown (it pops
   * the card itself). */
  constructor({ onConsole }) {
    this.onConsole = onConsole;
    this.abort = new AbortController();
    this.title = document.title;
    this.ringing = null;      // the call offered, {id, queue…}
    this.tone = null;         // the ring tone's timer
    this.audio = null;        // its AudioContext
    this.notice = null;       // the desktop notification
  }

  start() {
    const on = listeners(this.abort);
    $('alert-settings').hidden = false;
    this.showSwitches();
    on($('alert-sound'), 'click', () => {
      localStorage.setItem(SOUND, localStorage.getItem(SOUND) === 'on' ? 'off' : 'on');
      // A page may only start sound after a click: this one counts.
      if (localStorage.getItem(SOUND) === 'on') this.context();
      this.showSwitches();
    });
    on($('alert-notify'), 'click', async () => {
      if (localStorage.getItem(NOTIFY) === 'on') {
        localStorage.setItem(NOTIFY, 'off');
      } else if ('Notification' in window) {
        const answer = Notification.permission === 'granted' ? 'granted' : await Notification.requestPermission();
        localStorage.setItem(NOTIFY, answer === 'granted' ? 'on' : 'off');
      }
      this.showSwitches();
    });
    on($('call-alert-open'), 'click', () => { location.href = '/card'; });
  }

  stop() {
    this.clear();
    this.abort.abort();
    $('alert-settings').hidden = true;
  }

  retranslate() {
    this.showSwitches();
    if (this.ringing) this.show(this.ringing);
  }

  showSwitches() {
    const sound = localStorage.getItem(SOUND) === 'on';
    const notify = localStorage.getItem(NOTIFY) === 'on';
    for (const [id, onNow, key] of [['alert-sound', sound, 'alertSound'], ['alert-notify', notify, 'alertNotify']]) {
      const b = $(id);
      b.setAttribute('aria-pressed', onNow ? 'true' : 'false');
      b.textContent = t(key);
      b.title = t(onNow ? `${key}On` : `${key}Off`);
    }
    $('alert-notify').hidden = !('Notification' in window);
  }

  onMessage(m) {
    if (m.type === 'call_offered') this.show(m.call);
    else if (m.type === 'call_answered' || m.type === 'call_ended' || m.type === 'hello') this.clear();
    else if (m.type === 'call_withdrawn' && this.ringing && this.ringing.id === m.call_id) this.clear();
  }

  show(call) {
    this.ringing = call;
    const who = call.caller || t('unknownCaller');
    const queue = call.queue_title || call.queue;
    document.title = `☎ ${t('alertTitle', { q: queue })}`;
    if (!this.onConsole()) {
      $('call-alert-text').textContent = t('alertText', { c: who, q: queue });
      $('call-alert').hidden = false;
    }
    if (localStorage.getItem(SOUND) === 'on' && !this.tone) this.ring();
    if (localStorage.getItem(NOTIFY) === 'on' && document.hidden && 'Notification' in window
      && Notification.permission === 'granted') {
      this.notice?.close();
      this.notice = new Notification(t('alertTitle', { q: queue }), { body: who, tag: `call-${call.id}`, requireInteraction: true });
      this.notice.onclick = () => {
        window.focus();
        if (!this.onConsole()) location.href = '/card';
      };
    }
  }

  clear() {
    this.ringing = null;
    document.title = this.title;
    $('call-alert').hidden = true;
    clearInterval(this.tone);
    this.tone = null;
    this.notice?.close();
    this.notice = null;
  }

  context() {
    if (!this.audio && window.AudioContext) this.audio = new AudioContext();
    this.audio?.resume?.();
    return this.audio;
  }

  /** A phone's ring: two short tones every three seconds, until the call
   * is answered or goes. */
  ring() {
    const burst = () => {
      const ctx = this.context();
      if (!ctx) return;
      for (const start of [0, 0.5]) {
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.frequency.value = 440;
        gain.gain.value = 0.15;
        osc.connect(gain).connect(ctx.destination);
        osc.start(ctx.currentTime + start);
        osc.stop(ctx.currentTime + start + 0.4);
      }
    };
    burst();
    this.tone = setInterval(burst, 3000);
  }
}
