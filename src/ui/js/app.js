// The dashboard's shell: sign-in, navigation and the hash router (#/batches, #/batch/ID, ...).
// The hash never holds a secret; the credentials stay in sessionStorage (api.js).
import { api, ApiError, credentials, saveCredentials, clearCredentials } from './api.js';
import {
  h, clear, notice, field,
} from './dom.js';
import * as batches from './batches.js';
import * as newbatch from './newbatch.js';
import * as batch from './batch.js';
import * as agents from './agents.js';
import * as usage from './usage.js';
import * as webhooks from './webhooks.js';
import * as suppressions from './suppressions.js';

const main = document.getElementById('main');
const top = document.getElementById('top');
let cleanup = null;
// What the server offers beyond Part A: probed once per sign-in.
export const features = { compliance: false };

const ROUTES = [
  [/^\/batches$/, 'batches', batches.render],
  [/^\/new$/, 'new', newbatch.render],
  [/^\/batch\/([^/]+)$/, 'batches', batch.render],
  [/^\/agents$/, 'agents', agents.render],
  [/^\/usage$/, 'usage', usage.render],
  [/^\/webhooks$/, 'webhooks', webhooks.render],
  [/^\/suppressions$/, 'suppressions', suppressions.render],
];

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/batches';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  return { path, params };
}

function stop() {
  if (cleanup) {
    try {
      cleanup();
    } catch {
      // a page that failed to clean up must not block the next one
    }
  }
  cleanup = null;
}

let lastPath = null;
function route() {
  if (!credentials()) {
    showSignIn();
    return;
  }
  const { path, params } = parseHash();
  stop();
  if (path !== lastPath) notice('');
  top.hidden = false;
  document.getElementById('who-ws').textContent = credentials().ws;
  for (const [re, nav, render] of ROUTES) {
    const m = re.exec(path);
    if (!m) continue;
    for (const a of document.querySelectorAll('[data-nav]')) {
      if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    clear(main);
    const ctx = { params, args: m.slice(1).map(decodeURIComponent), features };
    cleanup = render(main, ctx) || null;
    // Move focus to the new page's heading, so keyboard and screen-reader users start there.
    if (path !== lastPath) {
      const h1 = main.querySelector('h1');
      if (h1) {
        h1.tabIndex = -1;
        h1.focus({ preventScroll: false });
      }
    }
    lastPath = path;
    return;
  }
  location.hash = '#/batches';
}

export function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function probe() {
  // Compliance (API.md B12) is shown only when the server offers it: 404 means it does not.
  try {
    await api('GET', '/v1/api/suppressions', { query: { limit: 1 } });
    features.compliance = true;
  } catch (e) {
    features.compliance = false;
  }
  document.getElementById('nav-suppressions').hidden = !features.compliance;
}

function showSignIn(message) {
  stop();
  lastPath = null;
  top.hidden = true;
  clear(main);
  const ws = h('input', { name: 'workspace', autocomplete: 'username', required: true, spellcheck: 'false' });
  const key = h('input', { name: 'key', type: 'password', autocomplete: 'current-password', required: true });
  const out = h('div', { 'aria-live': 'assertive' });
  if (message) out.append(h('div', { class: 'msg error', role: 'alert' }, message));
  const btn = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form', { class: 'signin', novalidate: true },
    h('h1', null, 'Sign in to batchcalld'),
    h('p', { class: 'muted' }, 'Use a workspace id and one of its API keys (batchcalld serve --demo prints the demo ones). The key is kept in this tab only, until you sign out or close it.'),
    field('Workspace id', ws, null, 'signin-ws'),
    field('API key', key, null, 'signin-key'),
    btn, out);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(out);
    const c = { ws: ws.value.trim(), key: key.value.trim() };
    if (!c.ws || !c.key) {
      out.append(h('div', { class: 'msg error', role: 'alert' }, 'Enter both the workspace id and the API key.'));
      (c.ws ? key : ws).focus();
      return;
    }
    btn.disabled = true;
    try {
      await api('GET', '/v1/api/agents', { query: { limit: 1 }, creds: c, quiet401: true });
      saveCredentials(c.ws, c.key);
      key.value = '';
      await probe();
      if (!location.hash || location.hash === '#/' || location.hash === '#') location.hash = '#/batches';
      else route();
    } catch (err) {
      const text = err instanceof ApiError && err.status === 401
        ? `Sign-in refused: this workspace id and API key do not match (the server said: ${err.message}). Check both; keys are shown only when they are created, so ask for a new one if it was lost.`
        : err.message;
      out.append(h('div', { class: 'msg error', role: 'alert' }, text));
      key.focus();
    } finally {
      btn.disabled = false;
    }
  });
  main.append(form);
  ws.focus();
}

document.getElementById('sign-out').addEventListener('click', () => {
  clearCredentials();
  features.compliance = false;
  notice('');
  showSignIn();
  notice('Signed out: the key was removed from this tab.', 'ok');
});

window.addEventListener('bc-unauthorized', (e) => {
  clearCredentials();
  showSignIn(`The server refused the API key (${e.detail}). Sign in again.`);
});
window.addEventListener('hashchange', route);

if (credentials()) probe().then(route);
else showSignIn();
