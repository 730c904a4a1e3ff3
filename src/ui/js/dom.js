// DOM helpers. Every piece of data reaches the page as a text node or an attribute value set
// through the DOM, never as markup: a contact named <img src=x onerror=alert(1)> stays text.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'value') el.value = v;
    else if (k === 'checked' || k === 'disabled' || k === 'hidden' || k === 'selected') el[k] = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

// Replaces el's children; like append, nulls are skipped and arrays flattened.
export function put(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

const SVG = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

// ---- numbers and dates, in the browser's locale and time zone ----

const nf = new Intl.NumberFormat();
const nf1 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const dtf = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const dayf = new Intl.DateTimeFormat(undefined, { weekday: 'short', month: 'short', day: 'numeric' });
export const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';

export function num(n) {
  return typeof n === 'number' && Number.isFinite(n) ? nf.format(n) : '—';
}
export function num1(n) {
  return typeof n === 'number' && Number.isFinite(n) ? nf1.format(n) : '—';
}
export function utcText(ms) {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}
// A <time> in local time, with the UTC instant on hover.
export function time(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) return h('span', { class: 'muted' }, '—');
  const d = new Date(ms);
  return h('time', { datetime: d.toISOString(), title: utcText(ms) }, dtf.format(d));
}
export function dayLabel(ms) {
  return dayf.format(new Date(ms));
}
export function bytes(n) {
  if (n < 1024) return `${nf.format(n)} B`;
  if (n < 1024 * 1024) return `${nf1.format(n / 1024)} KiB`;
  return `${nf1.format(n / 1024 / 1024)} MiB`;
}
// A duration in seconds, as "1 h 02 min", "3 min 05 s" or "42 s".
export function duration(s) {
  if (typeof s !== 'number' || !Number.isFinite(s) || s < 0) return '—';
  if (s < 60) return `${nf1.format(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.round(s % 60)).padStart(2, '0')} s`;
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return `${hrs} h ${String(m % 60).padStart(2, '0')} min`;
  return `${nf.format(Math.floor(hrs / 24))} d ${hrs % 24} h`;
}

export function badge(status, label) {
  return h('span', { class: `badge ${status}` }, label || status);
}

// ---- the stacked progress bar ----

// The parts of a progress object, in bar order. held is counted inside waiting (B12), so the
// waiting segment shows the calls that wait without a hold.
export function parts(p) {
  const held = p.held || 0;
  return [
    ['completed', 'completed', p.completed || 0],
    ['failed', 'failed', p.failed || 0],
    ['active', 'active', p.active || 0],
    ['waiting', 'waiting', Math.max(0, (p.waiting || 0) - held)],
    ['held', 'held', held],
    ['cancelled', 'cancelled', p.cancelled || 0],
  ];
}

export function barLabel(p) {
  const total = p.total || 0;
  const shown = parts(p).filter(([, , n]) => n > 0).map(([, label, n]) => `${num(n)} ${label}`);
  return `${num(total)} calls: ${shown.join(', ') || 'none yet'}`;
}

export function progressBar(p, big) {
  const bar = h('div', { class: big ? 'bar big' : 'bar', role: 'img' });
  updateBar(bar, p);
  return bar;
}

export function updateBar(bar, p) {
  const total = Math.max(1, p.total || 0);
  const segs = parts(p);
  if (bar.children.length !== segs.length) {
    bar.replaceChildren(...segs.map(([cls]) => h('span', { class: `seg-${cls}` })));
  }
  segs.forEach(([, , n], i) => {
    bar.children[i].style.width = `${(100 * n) / total}%`;
  });
  const label = barLabel(p);
  bar.setAttribute('aria-label', label);
  bar.title = label;
}

export function legend(p) {
  return h('ul', { class: 'legend' },
    parts(p).filter(([cls, , n]) => n > 0 || ['completed', 'failed', 'active', 'waiting'].includes(cls))
      .map(([cls, label, n]) => h('li', { class: cls }, `${label} ${num(n)}`)));
}

// ---- messages ----

export function notice(text, kind) {
  const box = document.getElementById('notice');
  box.replaceChildren();
  if (text) box.append(h('div', { class: `msg ${kind || ''}` }, text));
}

export function errorBox(err) {
  const msg = err && err.message ? err.message : String(err);
  return h('div', { class: 'msg error', role: 'alert' }, msg);
}

// ---- dialogs ----

// Asks before an action: resolves true only when the user chose OK.
export function confirmAction(title, text, okLabel, danger) {
  const dlg = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  const ok = document.getElementById('confirm-ok');
  const cancel = document.getElementById('confirm-cancel');
  ok.textContent = okLabel;
  ok.className = danger ? 'danger' : '';
  const back = document.activeElement;
  return new Promise((resolve) => {
    const done = (v) => {
      ok.onclick = cancel.onclick = dlg.oncancel = null;
      if (dlg.open) dlg.close();
      if (back && back.focus) back.focus();
      resolve(v);
    };
    ok.onclick = () => done(true);
    cancel.onclick = () => done(false);
    dlg.oncancel = (e) => {
      e.preventDefault();
      done(false);
    };
    dlg.showModal();
    cancel.focus();
  });
}

// Shows content in the detail dialog; Escape or Close returns focus where it was.
export function showDetail(title, ...content) {
  const dlg = document.getElementById('detail');
  document.getElementById('detail-title').textContent = title;
  const body = document.getElementById('detail-body');
  body.replaceChildren();
  append(body, content);
  const back = document.activeElement;
  const close = document.getElementById('detail-close');
  const done = () => {
    close.onclick = null;
    dlg.onclose = null;
    if (dlg.open) dlg.close();
    if (back && back.focus) back.focus();
  };
  close.onclick = done;
  dlg.onclose = done;
  if (!dlg.open) dlg.showModal();
  close.focus();
  return body;
}

// ---- tables and facts ----

export function table(caption, heads, rows) {
  return h('div', { class: 'table-wrap' },
    h('table', null,
      caption ? h('caption', { class: 'muted' }, caption) : null,
      h('thead', null, h('tr', null, heads.map((x) => (typeof x === 'string'
        ? h('th', { scope: 'col' }, x) : h('th', Object.assign({ scope: 'col' }, x.attrs), x.text))))),
      h('tbody', null, rows)));
}

export function facts(pairs) {
  return h('dl', { class: 'facts' },
    pairs.filter((p) => p).map(([k, v]) => [h('dt', null, k), h('dd', null, v === null || v === undefined || v === '' ? '—' : v)]));
}

export function field(label, input, hint, id) {
  const hid = hint ? `${id}-hint` : null;
  if (hid) input.setAttribute('aria-describedby', hid);
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input,
    hint ? h('p', { class: 'hint', id: hid }, hint) : null);
}

// ---- a small bar chart in SVG, built with DOM calls ----

// points: [{label, value, title}], drawn oldest to newest. Returns a figure with the chart and
// a visually plain caption; the numbers themselves are also in the SVG's <title>s.
export function barChart(points, opts) {
  const W = opts.width || 600;
  const H = opts.height || 160;
  const padL = 40;
  const padB = 22;
  const max = Math.max(1, ...points.map((p) => p.value));
  const n = Math.max(1, points.length);
  const bw = (W - padL - 4) / n;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': opts.label });
  root.append(svg('line', { class: 'axis', x1: padL, y1: H - padB, x2: W, y2: H - padB }));
  root.append(svg('text', { x: padL - 6, y: 12, 'text-anchor': 'end' }, nf.format(max)));
  root.append(svg('text', { x: padL - 6, y: H - padB, 'text-anchor': 'end' }, '0'));
  points.forEach((p, i) => {
    const bh = ((H - padB - 16) * p.value) / max;
    const x = padL + i * bw + 1;
    const rect = svg('rect', { class: 'barrect', x: x.toFixed(1), y: (H - padB - bh).toFixed(1),
      width: Math.max(1, bw - 2).toFixed(1), height: Math.max(0, bh).toFixed(1) });
    rect.append(svg('title', null, p.title || `${p.label}: ${nf.format(p.value)}`));
    root.append(rect);
    const every = Math.ceil(n / 8);
    if (i % every === 0 && (i + every <= n - 1 || i === n - 1 || every === 1)) {
      root.append(svg('text', { x: (x + bw / 2).toFixed(1), y: H - 6, 'text-anchor': 'middle' }, p.label));
    }
  });
  return h('figure', { class: 'chart' }, root, opts.caption ? h('figcaption', { class: 'hint' }, opts.caption) : null);
}
