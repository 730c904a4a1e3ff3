// Usage (B9): billable calls per day, one request per day of the browser's own calendar (the API
// sums a [from, to) range), drawn as a chart with the same numbers in a table.
import { api } from './api.js';
import {
  h, num, dayLabel, duration, errorBox, table, field, barChart, zone, put,
} from './dom.js';

const RANGES = [7, 14, 30];

function localMidnight(d) {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate());
}

export function render(main, ctx) {
  const days = RANGES.includes(Number(ctx.params.get('days'))) ? Number(ctx.params.get('days')) : 14;
  const sel = h('select', null, RANGES.map((n) => h('option', { value: n, selected: n === days }, `last ${n} days`)));
  sel.addEventListener('change', () => {
    location.hash = `#/usage?days=${sel.value}`;
  });
  const out = h('div', { 'aria-live': 'polite' }, h('p', { class: 'hint' }, 'Loading…'));
  main.append(h('h1', null, 'Usage'),
    h('p', { class: 'hint' }, `Billable calls: every attempt that connected (answered or voicemail). Days in your time zone (${zone}).`),
    h('div', { class: 'toolbar' }, field('Period', sel, null, 'usage-days')), out);
  let stopped = false;

  (async () => {
    const today = localMidnight(new Date());
    const ranges = [];
    for (let i = days - 1; i >= 0; i--) {
      const from = new Date(today.getFullYear(), today.getMonth(), today.getDate() - i);
      const to = new Date(today.getFullYear(), today.getMonth(), today.getDate() - i + 1);
      ranges.push([from.getTime(), to.getTime()]);
    }
    const results = new Array(ranges.length);
    try {
      // A few at a time: the workspace's request rate is shared with everything else.
      for (let i = 0; i < ranges.length; i += 4) {
        const batch = ranges.slice(i, i + 4).map(([from, to]) => api('GET', '/v1/api/usage', { query: { from, to } }));
        (await Promise.all(batch)).forEach((r, j) => {
          results[i + j] = r;
        });
        if (stopped) return;
      }
    } catch (e) {
      put(out, errorBox(e));
      return;
    }
    const points = ranges.map(([from], i) => ({ label: dayLabel(from), value: results[i].billableCalls,
      title: `${dayLabel(from)}: ${num(results[i].billableCalls)} billable calls` }));
    const total = results.reduce((s, r) => s + r.billableCalls, 0);
    const secs = results.reduce((s, r) => s + r.connectedSeconds, 0);
    put(out, 
      h('dl', { class: 'stats' }, h('div', null, h('dt', null, 'Billable calls'), h('dd', null, num(total))),
        h('div', null, h('dt', null, 'Connected time'), h('dd', null, duration(secs)))),
      barChart(points, { width: 700, height: 180, label: `Billable calls per day, last ${days} days`, caption: 'Billable calls per day.' }),
      h('details', null, h('summary', null, 'The numbers'),
        table(null, ['Day', { text: 'Billable calls', attrs: { class: 'num' } }, { text: 'Connected', attrs: { class: 'num' } }],
          ranges.map(([from], i) => h('tr', null, h('td', null, dayLabel(from)), h('td', { class: 'num' }, num(results[i].billableCalls)),
            h('td', { class: 'num' }, duration(results[i].connectedSeconds)))))));
  })();
  return () => {
    stopped = true;
  };
}
