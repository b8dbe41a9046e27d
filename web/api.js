// Talking to the server: JSON requests with the session's CSRF token, and
// the console's websocket with reconnection.

let csrf = '';
let onSignedOut = () => {};

export function setCsrf(token) {
  csrf = token || '';
}

/** Called when the server says the session has ended (401). */
export function whenSignedOut(callback) {
  onSignedOut = callback;
}

/** An error the server answered with: status and its message. */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/**
 * A request to the API. `body` is sent as JSON (or as is, for FormData).
 * Resolves to the parsed JSON (null for an empty answer); rejects with an
 * ApiError for any status but 2xx.
 */
export async function api(method, path, body) {
  const headers = {};
  const init = { method, headers, credentials: 'same-origin' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrf;
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = { error: text };
  }
  if (!response.ok) {
    const error = new ApiError(response.status, json);
    error.retryAfter = response.headers.get('Retry-After');
    if (response.status === 401 && path !== '/api/session') onSignedOut();
    throw error;
  }
  return json;
}

/**
 * The console's websocket. `onMessage(message, receivedAt)` gets every
 * message (receivedAt: ms since the epoch, sub-millisecond where the
 * browser allows); `onStatus(open)` the connection's state. It reconnects
 * after a drop, waiting longer each time up to 5 s. `close()` ends it.
 */
export function connect(onMessage, onStatus) {
  let socket = null;
  let closed = false;
  let delay = 250;
  let timer = null;
  const open = () => {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    socket = new WebSocket(`${scheme}://${location.host}/ws`);
    let opened = false;
    socket.onopen = () => {
      opened = true;
      delay = 250;
      onStatus(true);
    };
    socket.onmessage = (event) => {
      const receivedAt = performance.timeOrigin + performance.now();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      onMessage(message, receivedAt);
    };
    socket.onclose = () => {
      onStatus(false);
      if (closed) return;
      // Refused at once: perhaps the session ended. Asking says so (a 401
      // signs the page out, which closes this for good).
      if (!opened) api('GET', '/api/session').catch(() => {});
      timer = setTimeout(open, delay);
      delay = Math.min(delay * 2, 5000);
    };
  };
  open();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      if (socket) socket.close();
    },
  };
}
