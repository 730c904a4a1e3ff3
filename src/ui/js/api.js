// The public API, as any client uses it: x-workspace-id and x-api-key on every request. The
// credentials live in sessionStorage only (gone when the tab closes, never in a URL or a cookie).

const STORE = 'batchcalld.credentials';

export function credentials() {
  try {
    const c = JSON.parse(sessionStorage.getItem(STORE) || 'null');
    return c && typeof c.ws === 'string' && typeof c.key === 'string' ? c : null;
  } catch {
    return null;
  }
}

export function saveCredentials(ws, key) {
  sessionStorage.setItem(STORE, JSON.stringify({ ws, key }));
}

export function clearCredentials() {
  sessionStorage.removeItem(STORE);
}

// An error answer of the API: its status, machine code, message and context fields.
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `The server answered ${status}.`);
    this.status = status;
    this.code = (body && body.error) || 'error';
    this.body = body || {};
  }
}

function authHeaders(extra, creds) {
  const c = creds || credentials();
  if (!c) throw new ApiError(401, { error: 'unauthorized', message: 'Sign in first.' });
  return Object.assign({ 'x-workspace-id': c.ws, 'x-api-key': c.key }, extra || {});
}

function withQuery(path, query) {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

const NETWORK = {
  error: 'network',
  message: 'The server could not be reached. Check that batchcalld is running, then try again.',
};

// A 401 on any request means the key no longer works (revoked, or the wrong one): the page
// listens for this and returns to the sign-in form.
function unauthorized(err) {
  window.dispatchEvent(new CustomEvent('bc-unauthorized', { detail: err.message }));
}

function parseBody(status, text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { error: 'bad_response', message: `The server answered ${status} with a body that is not JSON.` };
  }
}

// One JSON request. Options: query (object), json (body), signal, creds (for the sign-in check,
// before anything is saved), quiet401 (do not sign out on 401).
export async function api(method, path, opts = {}) {
  const headers = authHeaders(opts.json !== undefined ? { 'content-type': 'application/json' } : null,
    opts.creds);
  const init = { method, headers, signal: opts.signal, cache: 'no-store', credentials: 'omit' };
  if (opts.json !== undefined) init.body = JSON.stringify(opts.json);
  let res;
  try {
    res = await fetch(withQuery(path, opts.query), init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, NETWORK);
  }
  const body = parseBody(res.status, await res.text());
  if (!res.ok) {
    const err = new ApiError(res.status, body);
    if (res.status === 401 && !opts.quiet401) unauthorized(err);
    throw err;
  }
  return body;
}

// A multipart upload through XMLHttpRequest, whose upload events report the bytes sent.
// onProgress(sent, total). Resolves with {status, body, headers}; rejects with an ApiError.
export function upload(path, form, onProgress, extraHeaders) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    for (const [k, v] of Object.entries(authHeaders(extraHeaders))) xhr.setRequestHeader(k, v);
    if (onProgress) {
      xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : 0);
    }
    xhr.onload = () => {
      const body = parseBody(xhr.status, xhr.responseText);
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve({ status: xhr.status, body, replayed: xhr.getResponseHeader('Idempotent-Replayed') === 'true' });
      } else {
        const err = new ApiError(xhr.status, body);
        if (xhr.status === 401) unauthorized(err);
        reject(err);
      }
    };
    xhr.onerror = () => reject(new ApiError(0, NETWORK));
    xhr.onabort = () => reject(new ApiError(0, { error: 'aborted', message: 'The upload was stopped.' }));
    xhr.send(form);
  });
}

// Downloads a file answer (the export) with the auth headers: a plain link could not send them.
export async function download(path, fallbackName) {
  let res;
  try {
    res = await fetch(path, { headers: authHeaders(), cache: 'no-store', credentials: 'omit' });
  } catch {
    throw new ApiError(0, NETWORK);
  }
  if (!res.ok) {
    const err = new ApiError(res.status, parseBody(res.status, await res.text()));
    if (res.status === 401) unauthorized(err);
    throw err;
  }
  const blob = await res.blob();
  const cd = res.headers.get('Content-Disposition') || '';
  const m = /filename="([^"]+)"/.exec(cd);
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = m ? m[1] : fallbackName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60000);
  return { bytes: blob.size, name: a.download };
}

// Parses a Server-Sent Events byte stream: calls onEvent({event, data, id}) per event.
export class SseParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buf = '';
    this.reset();
  }
  reset() {
    this.event = '';
    this.data = [];
    this.id = null;
  }
  push(text) {
    this.buf += text;
    let start = 0;
    for (;;) {
      const nl = this.buf.indexOf('\n', start);
      if (nl < 0) break;
      let line = this.buf.slice(start, nl);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      start = nl + 1;
      this.line(line);
    }
    this.buf = this.buf.slice(start);
  }
  line(line) {
    if (line === '') {
      if (this.data.length || this.event) {
        this.onEvent({ event: this.event || 'message', data: this.data.join('\n'), id: this.id });
      }
      this.reset();
      return;
    }
    if (line[0] === ':') return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id') this.id = value;
  }
}

// Watches a batch's live events (B6) with fetch streaming (EventSource cannot send headers).
// Reconnects after a break with Last-Event-ID, so no call is missed or repeated. Handlers:
// progress(obj), call(obj), done(), state('live'|'reconnecting'|'ended'|'error', message).
export function watchBatch(batchId, handlers, startId) {
  let lastId = startId === undefined || startId === null ? null : String(startId);
  let stopped = false;
  let ctrl = null;
  let delay = 1000;
  const state = (s, m) => handlers.state && handlers.state(s, m);

  async function once() {
    ctrl = new AbortController();
    const extra = { accept: 'text/event-stream' };
    if (lastId !== null) extra['Last-Event-ID'] = lastId;
    const res = await fetch(`/v1/api/batch-calls/${encodeURIComponent(batchId)}/events`, {
      headers: authHeaders(extra), signal: ctrl.signal, cache: 'no-store', credentials: 'omit',
    });
    if (!res.ok) {
      const err = new ApiError(res.status, parseBody(res.status, await res.text()));
      if (res.status === 401) unauthorized(err);
      throw err;
    }
    state('live');
    delay = 1000;
    let finished = false;
    const parser = new SseParser((ev) => {
      if (ev.id !== null) lastId = ev.id;
      if (ev.event === 'done') {
        finished = true;
        if (handlers.done) handlers.done();
        return;
      }
      let obj;
      try {
        obj = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (ev.event === 'progress' && handlers.progress) handlers.progress(obj);
      else if (ev.event === 'call' && handlers.call) handlers.call(obj);
    });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.push(value);
    }
    return finished;
  }

  (async () => {
    while (!stopped) {
      try {
        if (await once()) {
          state('ended');
          return;
        }
      } catch (e) {
        if (stopped || e.name === 'AbortError') return;
        if (e instanceof ApiError && (e.status === 401 || e.status === 404)) {
          state('error', e.message);
          return;
        }
        if (e instanceof ApiError && e.status === 429) delay = Math.max(delay, (e.body.retryAfter || 5) * 1000);
      }
      if (stopped) return;
      state('reconnecting');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15000);
    }
  })();

  return {
    close() {
      stopped = true;
      if (ctrl) ctrl.abort();
    },
  };
}
