// Webhooks (B7): the workspace's target, secret rotation, and the deliveries log.
import { api, ApiError } from './api.js';
import {
  h, num, time, errorBox, table, field, facts, confirmAction, notice, badge, put, clear,
} from './dom.js';

const LIMIT = 25;

export function render(main, ctx) {
  const page = Math.max(1, parseInt(ctx.params.get('page') || '1', 10) || 1);
  const target = h('div');
  const secretBox = h('div', { 'aria-live': 'polite' });
  const deliveries = h('div');
  main.append(h('h1', null, 'Webhooks'), target, secretBox,
    h('h2', null, 'Recent deliveries'), deliveries);

  function showSecret(res, what) {
    put(secretBox, h('div', { class: 'panel' },
      h('p', null, `${what} This is the signing secret; it is shown only now. Copy it into your receiver:`),
      h('p', { class: 'secret', tabindex: 0, 'aria-label': 'Signing secret' }, res.secret)));
  }

  async function save(url, what) {
    try {
      const res = await api('PUT', '/v1/api/webhook', { json: { url } });
      showSecret(res, what);
      await loadTarget();
    } catch (e) {
      notice(e.message, 'error');
      const input = target.querySelector('input');
      if (input && e instanceof ApiError && e.body.field === 'url') input.focus();
    }
  }

  async function loadTarget() {
    let cur = null;
    try {
      cur = await api('GET', '/v1/api/webhook');
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) {
        put(target, errorBox(e));
        return;
      }
    }
    const url = h('input', { type: 'url', placeholder: 'https://example.com/hooks', value: cur && cur.url ? cur.url : '', class: 'wide' });
    const form = h('form', { class: 'toolbar', novalidate: true },
      field('Target URL', url, 'Receives every batch\'s events, signed with X-Signature. Empty: only a secret, for batches\' own webhookUrl.', 'webhook-url'),
      h('button', { type: 'submit' }, cur ? 'Save URL' : 'Set webhook'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      save(url.value.trim() || null, cur ? 'Saved; the secret was rotated too.' : 'Webhook set.');
    });
    put(target, 
      cur ? facts([['URL', cur.url || 'none (secret only)'], ['Secret', `…${cur.secretHint}`], ['Since', time(cur.createdAt)]])
        : h('p', { class: 'panel' }, 'No webhook is set for this workspace.'),
      form,
      cur ? h('div', { class: 'actions' },
        h('button', {
          type: 'button', class: 'secondary',
          onclick: async () => {
            if (await confirmAction('Rotate the signing secret?', 'A new secret is made and the old one stops working at once: events not yet delivered are signed with the new one. Update your receiver right after.', 'Rotate secret')) {
              save(cur.url, 'Secret rotated.');
            }
          },
        }, 'Rotate secret'),
        h('button', {
          type: 'button', class: 'danger',
          onclick: async () => {
            if (!await confirmAction('Remove the webhook?', 'The URL and the secret are deleted; events not yet delivered are dropped.', 'Remove', true)) return;
            try {
              await api('DELETE', '/v1/api/webhook');
              clear(secretBox);
              notice('Webhook removed.', 'ok');
              loadTarget();
            } catch (e) {
              notice(e.message, 'error');
            }
          },
        }, 'Remove')) : null);
  }

  async function loadDeliveries() {
    try {
      const res = await api('GET', '/v1/api/webhook/deliveries', { query: { page, limit: LIMIT } });
      const rows = res.deliveries.map((d) => h('tr', null,
        h('td', null, time(d.at)),
        h('td', null, d.type, h('div', { class: 'hint mono' }, d.eventId)),
        h('td', { class: 'mono wrap hide-narrow' }, d.url),
        h('td', { class: 'num' }, num(d.attempt)),
        h('td', { class: 'num' }, d.status === null || d.status === undefined ? '—' : String(d.status)),
        h('td', null, badge(d.result === 'delivered' ? 'completed' : d.result === 'retrying' ? 'waiting' : 'failed', d.result),
          d.error ? h('div', { class: 'hint' }, d.error) : null,
          d.nextAttemptAt ? h('div', { class: 'hint' }, 'next ', time(d.nextAttemptAt)) : null),
        h('td', { class: 'num hide-narrow' }, `${num(d.durationMs)} ms`)));
      const pg = res.pagination;
      put(deliveries, rows.length ? table(null, ['When', 'Event', { text: 'URL', attrs: { class: 'hide-narrow' } },
        { text: 'Attempt', attrs: { class: 'num' } }, { text: 'HTTP', attrs: { class: 'num' } }, 'Result', { text: 'Took', attrs: { class: 'num hide-narrow' } }], rows)
        : h('p', { class: 'panel' }, 'No deliveries yet.'),
      h('nav', { class: 'pager', 'aria-label': 'Pages of deliveries' },
        h('a', { class: 'button secondary', href: `#/webhooks?page=${page - 1}`, hidden: !pg.hasPrev }, 'Newer'),
        h('span', null, `${num(pg.total)} attempts kept`),
        h('a', { class: 'button secondary', href: `#/webhooks?page=${page + 1}`, hidden: !pg.hasNext }, 'Older')));
    } catch (e) {
      put(deliveries, errorBox(e));
    }
  }
  loadTarget();
  loadDeliveries();
  return null;
}
