// Suppressions (API.md B12): the workspace's do-not-call list. The page exists only when the
// server offers the routes (app.js probes GET /v1/api/suppressions: a 404 hides it).
import { api } from './api.js';
import {
  h, time, errorBox, table, field, confirmAction, notice, num, put,
} from './dom.js';

const LIMIT = 50;

// The entry's number or area code, whatever the list names it.
// An entry is a number ({phone}) or a whole +1 area code ({areaCode}).
function entryKey(s) {
  return s.phone || s.areaCode || '';
}

// "+1NPA" (a +1 area code) is listed as an area code, anything else as a number.
function entryBody(text) {
  return /^\+1[2-9]\d\d$/.test(text) ? { areaCode: text } : { phone: text };
}

export function render(main, ctx) {
  if (!ctx.features.compliance) {
    main.append(h('h1', null, 'Suppressions'), h('p', { class: 'panel' }, 'This server does not offer suppression lists.'));
    return null;
  }
  const phone = h('input', { required: true, placeholder: '+14155550100', autocomplete: 'off' });
  const reason = h('input', { maxlength: 200 });
  const addForm = h('form', { class: 'toolbar', novalidate: true },
    field('Number (E.164) or +1 area code', phone, null, 'supp-phone'), field('Reason (optional)', reason, null, 'supp-reason'),
    h('button', { type: 'submit' }, 'Add to the list'));
  const checkIn = h('input', { placeholder: '+14155550100', autocomplete: 'off' });
  const checkOut = h('div', { 'aria-live': 'polite' });
  const checkForm = h('form', { class: 'toolbar', novalidate: true }, field('Check a number', checkIn, null, 'supp-check'),
    h('button', { type: 'submit', class: 'secondary' }, 'Check'), checkOut);
  const list = h('div');
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of suppressions' });
  main.append(h('h1', null, 'Suppressions'),
    h('p', { class: 'hint' }, 'Numbers on this list are never dialled: at upload their rows fail as suppressed, and a number added later stops its waiting calls before they are dialled.'),
    addForm, checkForm, list, pager);
  let cursors = [null];

  addForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api('POST', '/v1/api/suppressions', { json: { ...entryBody(phone.value.trim()), reason: reason.value.trim() || undefined } });
      notice(`${phone.value.trim()} will not be called.`, 'ok');
      phone.value = '';
      reason.value = '';
      cursors = [null];
      load();
    } catch (err) {
      notice(err.message, 'error');
      phone.focus();
    }
  });
  checkForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const r = await api('GET', '/v1/api/suppressions/check', { query: { phone: checkIn.value.trim() } });
      const hit = r.suppressed === true;
      const why = r.entry && r.entry.reason;
      put(checkOut, h('p', { class: hit ? 'msg error' : 'msg ok' },
        hit ? `Suppressed${r.source ? ` (${r.source})` : ''}${why ? `: ${why}` : ''}.` : 'Not suppressed: this number may be called.'));
    } catch (err) {
      put(checkOut, errorBox(err));
    }
  });

  async function load() {
    try {
      const after = cursors[cursors.length - 1];
      const res = await api('GET', '/v1/api/suppressions', { query: { limit: LIMIT, after } });
      const items = res.suppressions || res.entries || [];
      const rows = items.map((s) => h('tr', null,
        h('td', { class: 'mono' }, entryKey(s)),
        h('td', { class: 'wrap' }, s.reason || '—'),
        h('td', null, s.source || '—'),
        h('td', { class: 'hide-narrow' }, time(s.createdAt)),
        h('td', null, h('button', {
          type: 'button', class: 'secondary', 'aria-label': `Remove ${entryKey(s)}`,
          onclick: async () => {
            const k = entryKey(s);
            if (!await confirmAction('Remove from the list?', `${k} may be called again by batches that include it.`, 'Remove', true)) return;
            try {
              await api('DELETE', `/v1/api/suppressions/${encodeURIComponent(k)}`);
              notice(`${k} removed from the list.`, 'ok');
              load();
            } catch (err) {
              notice(err.message, 'error');
            }
          },
        }, 'Remove'))));
      put(list, rows.length ? table(null, ['Number', 'Reason', 'Source', { text: 'Added', attrs: { class: 'hide-narrow' } }, ''], rows)
        : h('p', { class: 'panel' }, 'The list is empty.'));
      const pg = res.pagination || {};
      const next = pg.nextCursor || null;
      put(pager, 
        h('button', { type: 'button', class: 'secondary', disabled: cursors.length < 2, onclick: () => { cursors.pop(); load(); } }, 'Previous'),
        h('span', null, pg.total !== undefined ? `${num(pg.total)} entries` : ''),
        h('button', { type: 'button', class: 'secondary', disabled: !next, onclick: () => { cursors.push(next); load(); } }, 'Next'));
    } catch (err) {
      put(list, errorBox(err));
    }
  }
  load();
  return null;
}
