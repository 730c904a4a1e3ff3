// Batch detail: live counters and bar from the event stream (B6), the calls table with cursor
// paging (A4: as fast at row 1,000,000 as at row 1), a call's detail (A5), the controls (A6,
// B4) with a confirmation that says what will happen, the export (B5), and calls per minute.
import { api, download, watchBatch } from './api.js';
import {
  h, num, num1, time, duration, badge, progressBar, updateBar, legend, errorBox, table, facts, field, confirmAction, showDetail, notice, barChart, put,
} from './dom.js';
import { statusBadge } from './batches.js';
import { RateMeter, dialledEnded, eta } from './rate.js';

const CALL_STATUSES = ['all', 'waiting', 'active', 'completed', 'failed', 'cancelled'];
const PAGE = 50;
const MINUTES = 30;
// On opening, the last calls that ended are replayed into the chart (at most this many).
const CHART_REPLAY = 3000;

// Calls ended per minute over the last MINUTES minutes: a fixed ring of counters, so watching a
// batch for hours keeps memory flat.
class PerMinute {
  constructor() {
    this.counts = new Map();
  }
  add(ms) {
    if (!ms) return;
    const m = Math.floor(ms / 60000);
    this.counts.set(m, (this.counts.get(m) || 0) + 1);
    if (this.counts.size > MINUTES * 2) {
      const min = Math.floor(Date.now() / 60000) - MINUTES;
      for (const k of this.counts.keys()) if (k < min) this.counts.delete(k);
    }
  }
  points() {
    const now = Math.floor(Date.now() / 60000);
    const tf = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
    const out = [];
    for (let m = now - MINUTES + 1; m <= now; m++) {
      const v = this.counts.get(m) || 0;
      const label = tf.format(new Date(m * 60000));
      out.push({ label, value: v, title: `${label}: ${num(v)} calls ended` });
    }
    return out;
  }
}

function callRow(c, open) {
  return h('tr', { 'data-job': c.jobId },
    h('td', null, h('button', { type: 'button', class: 'link', onclick: () => open(c.jobId), 'aria-label': `Details of ${c.jobId}` }, c.jobId)),
    h('td', { class: 'mono nowrap' }, c.phone_number || '—'),
    h('td', null, badge(c.status), c.heldReason ? [' ', badge('held', `held: ${c.heldReason}`)] : null),
    h('td', { class: 'hide-narrow' }, c.outcome || '—'),
    h('td', { class: 'num hide-narrow' }, num(c.attempts)),
    h('td', { class: 'num hide-narrow' }, c.duration === undefined || c.duration === null ? '—' : duration(c.duration)),
    h('td', { class: 'hide-narrow' }, time(c.endTime || c.startTime)),
    h('td', { class: 'wrap' }, c.error || (c.heldUntil ? ['until ', time(c.heldUntil)] : '')));
}

function callDetail(c) {
  const r = c.result || {};
  const meta = c.metadata || r.metadata || {};
  const vars = Object.entries(meta);
  return [
    facts([
      ['Status', badge(c.status)],
      ['Outcome', c.outcome || r.outcome],
      ['Error', c.error],
      ['Phone number', c.phone_number],
      ['Attempts', num(c.attempts)],
      ['Duration', c.duration === undefined || c.duration === null ? null : duration(c.duration)],
      ['Started', time(c.startTime)],
      ['Ended', time(c.endTime)],
      c.nextAttemptAt ? ['Next attempt', time(c.nextAttemptAt)] : null,
      c.heldUntil ? ['Held until', time(c.heldUntil)] : null,
      c.heldReason ? ['Held because', c.heldReason] : null,
      ['Provider call id', r.callId || c.callId],
    ]),
    r.transcript ? [h('h3', null, 'Transcript'), h('p', { class: 'wrap' }, r.transcript)] : null,
    h('h3', null, 'Variables (the row of the file)'),
    vars.length ? table(null, ['Column', 'Value'], vars.map(([k, v]) => h('tr', null, h('td', { class: 'mono' }, k), h('td', { class: 'wrap' }, String(v)))))
      : h('p', { class: 'muted' }, 'No other columns.'),
  ];
}

export function render(main, ctx) {
  const id = ctx.args[0];
  const base = `/v1/api/batch-calls/${encodeURIComponent(id)}`;
  let batch = null;
  let progress = null;
  let stream = null;
  let stopped = false;
  const meter = new RateMeter();
  const perMinute = new PerMinute();

  const title = h('h1', null, id);
  const statusLine = h('p', null);
  const live = h('span', { class: 'live' }, 'connecting…');
  const bar = progressBar({ total: 0 }, true);
  const legendBox = h('div');
  const stats = h('dl', { class: 'stats' });
  const rateLine = h('p', { class: 'hint' });
  const controls = h('div', { class: 'actions' });
  const settings = h('div');
  const chartBox = h('div');
  const compliance = h('div');
  const err = h('div');

  // ---- counters ----
  let drawPending = false;
  function draw() {
    drawPending = false;
    if (stopped || !progress) return;
    const p = progress;
    updateBar(bar, p);
    if (retryBtn) retryBtn.disabled = !(p.failed > 0);
    put(legendBox, legend(p));
    const entries = [['Total', p.total], ['Waiting', p.waiting], ['Active', p.active], ['Completed', p.completed],
      ['Failed', p.failed], ['Cancelled', p.cancelled]];
    if (p.held !== undefined) entries.splice(2, 0, ['Held', p.held]);
    if (batch) entries.push(['Billable', batch.billableCalls], ['Attempts', batch.attempts]);
    put(stats, ...entries.map(([k, v]) => h('div', null, h('dt', null, k), h('dd', { 'data-stat': k.toLowerCase() }, num(v)))));
    const now = Date.now();
    const final = p.isComplete || (batch && batch.isComplete);
    const rate = final || !batch ? 0 : meter.rate(id, dialledEnded(batch, p), p.startTime, now);
    const left = eta(p, rate);
    put(rateLine, 'Started ', time(p.startTime), ' · average call ', duration(p.averageCallDuration),
      final ? [' · finished ', time(p.completedTime)]
        : [` · ${num1(rate * 60)} calls/min now`, ' · time left ', batch && batch.paused ? 'paused' : left === null ? '—' : duration(left)]);
  }
  function scheduleDraw() {
    if (!drawPending) {
      drawPending = true;
      requestAnimationFrame(draw);
    }
  }

  function drawChart() {
    put(chartBox, barChart(perMinute.points(), {
      width: 640, height: 150, label: `Calls ended per minute, last ${MINUTES} minutes`,
      caption: `Calls that ended per minute, last ${MINUTES} minutes (your time zone).`,
    }));
  }

  // ---- header, controls, settings ----
  let retryBtn = null;
  function drawHead() {
    title.textContent = batch.name || batch.id;
    put(statusLine, ...statusBadge(batch), ' ', h('span', { class: 'mono hint' }, batch.id),
      batch.statusMessage ? h('div', { class: 'msg' }, batch.statusMessage) : null);
    const p = progress || batch.progress || {};
    // Rebuilt on every refresh: keep the keyboard user's place and the open settings.
    const focused = controls.contains(document.activeElement) ? document.activeElement.textContent : null;
    const wasOpen = settings.querySelector('details')?.open;
    const b = (label, cls, fn, disabled) => h('button', { type: 'button', class: cls, onclick: fn, disabled }, label);
    const running = !batch.isComplete;
    retryBtn = batch.status !== 'cancelled' ? b('Retry failed calls', 'secondary', doRetry, !(p.failed > 0)) : null;
    put(controls,
      running && !batch.paused ? b('Pause', 'secondary', doPause) : null,
      running && batch.paused ? b('Resume', '', doResume) : null,
      running ? b('Cancel batch', 'danger', doCancel) : null,
      retryBtn,
      b('Export CSV', 'secondary', doExport));
    if (focused) [...controls.querySelectorAll('button')].find((x) => x.textContent === focused)?.focus();
    const smart = batch.smartCallbackConfig;
    put(settings, h('details', { open: wasOpen }, h('summary', null, 'Settings of this batch'), facts([
      ['Agent', batch.agentId],
      ['Created', time(batch.createdAt)],
      ['Scheduled for', batch.scheduledAt ? time(batch.scheduledAt) : 'start at once'],
      ['Default country', batch.defaultCountry],
      ['Max concurrency', batch.maxConcurrency === null ? 'workspace limit' : num(batch.maxConcurrency)],
      ['Calls per second', batch.callsPerSecond === null ? 'workspace limit' : num1(batch.callsPerSecond)],
      ['Smart callback', smart ? `${smart.maxAttempts} attempts, gaps ${(smart.gaps || []).map((g) => `${(g.days || 0) * 24 + (g.hours || 0)} h`).join(', ')}` : 'off'],
      ['Allow duplicates', batch.allowDuplicates ? 'yes' : 'no'],
      ['Webhook URL', batch.webhookUrl],
      ['Rows refused at upload', `${num(batch.invalidRows)} invalid, ${num(batch.duplicateRows)} duplicates`],
      ['Numbers rewritten to E.164', num(batch.normalizedRows)],
      ['Variables rendered empty', num(batch.emptyVariables)],
    ])));
  }

  async function refreshBatch() {
    batch = await api('GET', base);
    if (stopped) return;
    if (!progress || batch.isComplete) progress = Object.assign({ isComplete: batch.isComplete }, batch.progress);
    drawHead();
    scheduleDraw();
  }

  async function act(method, path, okText) {
    try {
      const res = await api(method, path);
      notice(okText(res), 'ok');
      await refreshBatch();
      await loadCalls();
    } catch (e) {
      notice(e.message, 'error');
    }
  }
  async function doPause() {
    const p = progress || {};
    if (await confirmAction('Pause this batch?', `No new call is dialled while it is paused; the ${num(p.active)} calls in progress finish. The ${num(p.waiting)} waiting calls wait until you resume.`, 'Pause')) {
      act('POST', `${base}/pause`, () => 'Paused: no new calls are dialled.');
    }
  }
  async function doResume() {
    const p = progress || {};
    if (await confirmAction('Resume this batch?', `Dialling continues at the batch's pace with the ${num(p.waiting)} waiting calls.`, 'Resume')) {
      act('POST', `${base}/resume`, () => 'Resumed: dialling continues.');
    }
  }
  async function doCancel() {
    const p = progress || {};
    if (await confirmAction('Cancel this batch?', `The ${num(p.waiting)} waiting calls are cancelled and will never be dialled; the ${num(p.active)} calls in progress finish; finished calls are kept. This cannot be undone.`, 'Cancel batch', true)) {
      act('DELETE', base, (r) => `Cancelled: ${num(r.details ? r.details.cancelledCalls : 0)} calls will not be dialled.`);
    }
  }
  async function doRetry() {
    const p = progress || {};
    if (await confirmAction('Retry failed calls?', `Of the ${num(p.failed)} failed calls, those that failed for a reason worth retrying (busy, no answer, voicemail, unreachable, provider error) go back to waiting and are dialled again; calls that failed for other reasons (invalid number, duplicate, carrier blocked, rejected) stay failed.`, 'Retry')) {
      act('POST', `${base}/retry`, (r) => `${num(r.requeuedCalls)} calls are waiting to be dialled again.`);
    }
  }
  async function doExport() {
    notice('Preparing the export…');
    try {
      const r = await download(`${base}/export`, `${id}.csv`);
      notice(`Downloaded ${r.name} (${num(r.bytes)} bytes).`, 'ok');
    } catch (e) {
      notice(e.message, 'error');
    }
  }

  // ---- the calls table ----
  const statusSel = h('select', null, CALL_STATUSES.map((s) => h('option', { value: s }, s)));
  statusSel.value = CALL_STATUSES.includes(ctx.params.get('calls')) ? ctx.params.get('calls') : 'all';
  const jump = h('input', { type: 'number', min: 1, size: 8, inputmode: 'numeric' });
  const callsBox = h('div', { 'aria-live': 'polite', 'aria-busy': 'false' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of calls' });
  let cursors = [null]; // cursors[i] is the `after` of page i; the last one shown is current
  let nextCursor = null;

  async function openCall(job) {
    const body = showDetail(job, h('p', { class: 'hint' }, 'Loading…'));
    try {
      const c = await api('GET', `${base}/calls/${encodeURIComponent(job)}`);
      put(body, ...callDetail(c).flat().filter(Boolean));
    } catch (e) {
      put(body, errorBox(e));
    }
  }

  async function loadCalls() {
    const after = cursors[cursors.length - 1];
    callsBox.setAttribute('aria-busy', 'true');
    const t0 = performance.now();
    try {
      const res = await api('GET', `${base}/calls`, { query: { limit: PAGE, status: statusSel.value === 'all' ? null : statusSel.value, after: after || null } });
      if (stopped) return;
      nextCursor = res.pagination.nextCursor || null;
      const rows = res.calls.map((c) => callRow(c, openCall));
      put(callsBox, rows.length
        ? table(null, ['Call', 'Phone', 'Status', { text: 'Outcome', attrs: { class: 'hide-narrow' } },
          { text: 'Attempts', attrs: { class: 'num hide-narrow' } }, { text: 'Duration', attrs: { class: 'num hide-narrow' } },
          { text: 'Ended', attrs: { class: 'hide-narrow' } }, 'Error'], rows)
        : h('p', { class: 'panel' }, `No ${statusSel.value === 'all' ? '' : `${statusSel.value} `}calls here.`));
      const first = res.calls[0];
      const last = res.calls[res.calls.length - 1];
      put(pager, 
        h('button', { type: 'button', class: 'secondary', disabled: cursors.length < 2, onclick: () => { cursors = [null]; loadCalls(); } }, 'First'),
        h('button', { type: 'button', class: 'secondary', disabled: cursors.length < 2, onclick: () => { cursors.pop(); loadCalls(); } }, 'Previous'),
        h('span', null, first ? `${first.jobId} – ${last.jobId} · ${num(res.pagination.total)} ${statusSel.value === 'all' ? '' : `${statusSel.value} `}calls` : ''),
        h('button', { type: 'button', class: 'secondary', disabled: !nextCursor, onclick: () => { cursors.push(nextCursor); loadCalls(); } }, 'Next'));
      callsBox.dataset.ms = String(Math.round(performance.now() - t0));
    } catch (e) {
      put(callsBox, errorBox(e));
    } finally {
      callsBox.setAttribute('aria-busy', 'false');
    }
  }
  statusSel.addEventListener('change', () => {
    cursors = [null];
    loadCalls();
  });
  const jumpForm = h('form', { class: 'toolbar', novalidate: true },
    field('Show calls', statusSel, null, 'calls-status'),
    field('From row', jump, null, 'calls-row'),
    h('button', { type: 'submit', class: 'secondary' }, 'Go'),
    h('button', { type: 'button', class: 'secondary', onclick: () => loadCalls() }, 'Refresh'));
  jumpForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const row = parseInt(jump.value, 10);
    // The cursor names the row before the first one shown (README: ?after=call_N).
    cursors = [null];
    if (row > 1) cursors.push(`call_${row - 1}`);
    loadCalls();
  });

  main.append(title, statusLine, controls, err,
    h('section', { 'aria-labelledby': 'progress-h' }, h('h2', { id: 'progress-h' }, 'Progress ', live), bar, legendBox, stats, rateLine),
    compliance,
    h('section', { 'aria-labelledby': 'chart-h' }, h('h2', { id: 'chart-h' }, 'Calls per minute'), chartBox),
    settings,
    h('section', { 'aria-labelledby': 'calls-h' }, h('h2', { id: 'calls-h' }, 'Calls'), jumpForm, callsBox, pager));
  drawChart();

  const chartTimer = setInterval(drawChart, 5000);
  const rateTimer = setInterval(scheduleDraw, 2000);
  // Billable calls and attempts are not in the stream's progress: re-read the batch now and then.
  const batchTimer = setInterval(() => {
    if (batch && !batch.isComplete) refreshBatch().catch(() => {});
  }, 10000);

  async function start() {
    try {
      await refreshBatch();
    } catch (e) {
      title.textContent = `Batch ${id}`;
      put(err, errorBox(e));
      return;
    }
    loadCalls();
    if (ctx.features.compliance) {
      api('GET', `${base}/compliance`).then((c) => {
        if (stopped) return;
        put(compliance, h('section', null, h('h2', null, 'Compliance'),
          facts(Object.entries(c).filter(([, v]) => typeof v !== 'object' || v === null).map(([k, v]) => [k, typeof v === 'number' && k.endsWith('At') || k.endsWith('Until') ? time(v) : typeof v === 'number' ? num(v) : String(v)]))));
      }).catch(() => {});
    }
    const p = batch.progress || {};
    const ended = (p.completed || 0) + (p.failed || 0);
    // The stream's positions count calls that ended: replaying the last few thousand fills the
    // chart; a batch with more is not read from its start.
    stream = watchBatch(id, {
      progress(obj) {
        const prevPaused = batch && batch.paused;
        progress = obj;
        if (batch && obj.status && obj.status !== batch.status) {
          refreshBatch().catch(() => {});
        } else if (batch && obj.paused !== undefined && obj.paused !== prevPaused) {
          refreshBatch().catch(() => {});
        }
        scheduleDraw();
      },
      call(c) {
        perMinute.add(c.endTime);
      },
      done() {
        refreshBatch().then(loadCalls).catch(() => {});
        drawChart();
      },
      state(s, m) {
        live.className = s === 'live' ? 'live on' : 'live';
        live.textContent = { live: 'live', reconnecting: 'reconnecting…', ended: 'final', error: `not live: ${m}` }[s] || s;
      },
    }, Math.max(0, ended - CHART_REPLAY));
  }
  start();

  return () => {
    stopped = true;
    clearInterval(chartTimer);
    clearInterval(rateTimer);
    clearInterval(batchTimer);
    if (stream) stream.close();
  };
}
