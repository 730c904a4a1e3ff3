// Batches: the workspace's batches, newest first (B3), with live progress while any runs.
import { api } from './api.js';
import {
  h, num, num1, time, duration, badge, progressBar, errorBox, table, field, put,
} from './dom.js';
import { RateMeter, dialledEnded, eta } from './rate.js';

const STATUSES = ['all', 'queued', 'processing', 'completed', 'cancelled', 'failed'];
const LIMIT = 20;
const POLL_MS = 5000;
const meter = new RateMeter();

export function statusBadge(b) {
  const out = [badge(b.status)];
  if (b.paused && !b.isComplete) out.push(' ', badge('paused'));
  return out;
}

function etaCell(b, rate) {
  const p = b.progress || {};
  if (b.isComplete) return '—';
  if (b.paused) return 'paused';
  if (b.scheduledAt && b.scheduledAt > Date.now() && !p.startTime) return ['starts ', time(b.scheduledAt)];
  const s = eta(p, rate);
  return s === null ? '—' : duration(s);
}

export function render(main, ctx) {
  const status = STATUSES.includes(ctx.params.get('status')) ? ctx.params.get('status') : 'all';
  const page = Math.max(1, parseInt(ctx.params.get('page') || '1', 10) || 1);
  const sel = h('select', null, STATUSES.map((s) => h('option', { value: s, selected: s === status }, s)));
  sel.addEventListener('change', () => {
    location.hash = `#/batches?status=${sel.value}`;
  });
  const body = h('div', { 'aria-live': 'off' });
  const stamp = h('p', { class: 'hint' });
  main.append(
    h('h1', null, 'Batches'),
    h('div', { class: 'toolbar' }, field('Status', sel, null, 'batches-status'),
      h('a', { class: 'button', href: '#/new' }, 'New batch')),
    body, stamp);

  let timer = null;
  let stopped = false;
  async function load() {
    timer = null;
    let res;
    try {
      res = await api('GET', '/v1/api/batch-calls', { query: { page, limit: LIMIT, status: status === 'all' ? null : status } });
    } catch (e) {
      if (stopped) return;
      put(body, errorBox(e));
      timer = setTimeout(load, POLL_MS * 2);
      return;
    }
    if (stopped) return;
    const now = Date.now();
    meter.forget(new Set(res.batches.map((b) => b.id)));
    const rows = res.batches.map((b) => {
      const p = b.progress || {};
      const rate = b.isComplete ? 0 : meter.rate(b.id, dialledEnded(b, p), p.startTime, now);
      const ended = (p.completed || 0) + (p.failed || 0) + (p.cancelled || 0);
      return h('tr', { 'data-batch': b.id },
        h('td', { class: 'wrap' }, h('a', { href: `#/batch/${encodeURIComponent(b.id)}` }, b.name || b.id),
          b.name ? h('div', { class: 'hint mono' }, b.id) : null),
        h('td', null, statusBadge(b)),
        h('td', null, progressBar(p), h('div', { class: 'hint' }, `${num(ended)} of ${num(p.total)} done`)),
        h('td', { class: 'hide-narrow' }, time(p.startTime)),
        h('td', { class: 'num hide-narrow' }, b.isComplete || !p.startTime ? '—' : `${num1(rate * 60)}/min`),
        h('td', null, etaCell(b, rate)));
    });
    const pg = res.pagination;
    put(body, 
      rows.length
        ? table(null, ['Batch', 'Status', 'Progress', { text: 'Started', attrs: { class: 'hide-narrow' } },
          { text: 'Rate', attrs: { class: 'num hide-narrow' } }, 'Time left'], rows)
        : h('p', { class: 'panel' }, status === 'all' ? 'No batches yet. Start one with “New batch”.' : `No ${status} batches.`),
      h('nav', { class: 'pager', 'aria-label': 'Pages of batches' },
        h('a', { class: 'button secondary', href: `#/batches?status=${status}&page=${page - 1}`, hidden: !pg.hasPrev }, 'Previous page'),
        h('span', null, `Page ${num(pg.page)} of ${num(Math.max(1, pg.totalPages))} · ${num(pg.total)} batches`),
        h('a', { class: 'button secondary', href: `#/batches?status=${status}&page=${page + 1}`, hidden: !pg.hasNext }, 'Next page')));
    stamp.textContent = `Updated ${new Date(now).toLocaleTimeString()}; rate is over the last minute, time left assumes it holds.`;
    if (res.batches.some((b) => !b.isComplete)) timer = setTimeout(load, POLL_MS);
  }
  load();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
