// Agents (B8): list, create, edit (name, prompt and its {variables}, caller id, voice URL), delete.
import { api, ApiError } from './api.js';
import {
  h, num, time, errorBox, table, field, confirmAction, notice, put, clear,
} from './dom.js';

const LIMIT = 50;

function agentForm(agent, done) {
  const inputs = {
    name: h('input', { required: true, maxlength: 200, value: agent ? agent.name : '' }),
    prompt: h('textarea', { required: true, rows: 8, value: agent ? agent.prompt : '' }),
    fromNumber: h('input', { required: true, placeholder: '+14155550100', value: agent ? agent.fromNumber : '' }),
    voiceUrl: h('input', { type: 'url', placeholder: 'https:// (optional)', value: agent && agent.voiceUrl ? agent.voiceUrl : '' }),
  };
  const vars = h('p', { class: 'hint', id: 'agent-vars' });
  const showVars = () => {
    const seen = [];
    for (const m of inputs.prompt.value.matchAll(/\{([A-Za-z0-9_]+)\}/g)) if (!seen.includes(m[1])) seen.push(m[1]);
    vars.textContent = seen.length ? `Variables, filled from the CSV's columns: ${seen.map((v) => `{${v}}`).join(' ')}` : 'No {variables}: every contact hears the same prompt.';
  };
  inputs.prompt.addEventListener('input', showVars);
  showVars();
  const out = h('div', { 'aria-live': 'assertive' });
  const errs = {};
  const wrap = (label, key, hint) => {
    const f = field(label, inputs[key], hint, `agent-${key}`);
    errs[key] = h('p', { class: 'field-error', id: `agent-${key}-error` });
    f.append(errs[key]);
    return f;
  };
  const form = h('form', { class: 'panel', novalidate: true },
    h('h2', null, agent ? `Edit ${agent.name}` : 'New agent'),
    wrap('Name', 'name'),
    wrap('Prompt', 'prompt', 'Write {column_name} where a value from the contact\'s row goes.'),
    vars,
    h('div', { class: 'grid' }, wrap('Caller id (from number)', 'fromNumber', 'E.164: + and 8 to 15 digits.'), wrap('Voice URL', 'voiceUrl')),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, agent ? 'Save changes' : 'Create agent'),
      h('button', { type: 'button', class: 'secondary', onclick: () => done(null) }, 'Cancel')),
    out);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(out);
    for (const k of Object.keys(errs)) {
      errs[k].textContent = '';
      inputs[k].removeAttribute('aria-invalid');
    }
    const body = { name: inputs.name.value, prompt: inputs.prompt.value, fromNumber: inputs.fromNumber.value.trim(),
      voiceUrl: inputs.voiceUrl.value.trim() || null };
    try {
      const saved = agent ? await api('PUT', `/v1/api/agents/${encodeURIComponent(agent.id)}`, { json: body })
        : await api('POST', '/v1/api/agents', { json: body });
      done(saved);
    } catch (err) {
      const f = err instanceof ApiError ? err.body.field : null;
      if (f && errs[f]) {
        errs[f].textContent = err.message;
        inputs[f].setAttribute('aria-invalid', 'true');
        inputs[f].setAttribute('aria-describedby', `agent-${f}-error`);
        inputs[f].focus();
      } else {
        out.append(errorBox(err));
      }
    }
  });
  return form;
}

export function render(main, ctx) {
  const page = Math.max(1, parseInt(ctx.params.get('page') || '1', 10) || 1);
  const formBox = h('div');
  const list = h('div');
  const newBtn = h('button', { type: 'button' }, 'New agent');
  main.append(h('h1', null, 'Agents'), h('div', { class: 'actions' }, newBtn), formBox, list);

  function edit(agent) {
    const back = document.activeElement;
    put(formBox, agentForm(agent, (saved) => {
      clear(formBox);
      if (saved) {
        notice(`Saved agent ${saved.name}.`, 'ok');
        load();
      }
      if (back && back.isConnected) back.focus();
      else newBtn.focus();
    }));
    formBox.querySelector('input').focus();
  }
  newBtn.addEventListener('click', () => edit(null));

  async function load() {
    try {
      const res = await api('GET', '/v1/api/agents', { query: { page, limit: LIMIT } });
      const rows = res.agents.map((a) => h('tr', null,
        h('td', { class: 'wrap' }, a.name, h('div', { class: 'hint mono' }, a.id)),
        h('td', { class: 'mono' }, a.fromNumber),
        h('td', { class: 'mono wrap' }, (a.variables || []).map((v) => `{${v}}`).join(' ') || '—'),
        h('td', { class: 'hide-narrow' }, time(a.updatedAt)),
        h('td', null, h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'secondary', onclick: () => edit(a), 'aria-label': `Edit ${a.name}` }, 'Edit'),
          h('a', { class: 'button secondary', href: `#/new?agent=${encodeURIComponent(a.id)}` }, 'New batch'),
          h('button', {
            type: 'button', class: 'secondary', 'aria-label': `Delete ${a.name}`,
            onclick: async () => {
              if (!await confirmAction('Delete this agent?', `${a.name} is deleted. Batches already started with it keep their prompt; new uploads cannot use it.`, 'Delete', true)) return;
              try {
                await api('DELETE', `/v1/api/agents/${encodeURIComponent(a.id)}`);
                notice(`Deleted agent ${a.name}.`, 'ok');
                load();
              } catch (e) {
                notice(e.message, 'error');
              }
            },
          }, 'Delete')))));
      const pg = res.pagination;
      put(list, rows.length ? table(null, ['Agent', 'Caller id', 'Variables', { text: 'Updated', attrs: { class: 'hide-narrow' } }, 'Actions'], rows)
        : h('p', { class: 'panel' }, 'No agents yet: create one to start a batch.'),
      h('nav', { class: 'pager', 'aria-label': 'Pages of agents' },
        h('a', { class: 'button secondary', href: `#/agents?page=${page - 1}`, hidden: !pg.hasPrev }, 'Previous page'),
        h('span', null, `${num(pg.total)} agents`),
        h('a', { class: 'button secondary', href: `#/agents?page=${page + 1}`, hidden: !pg.hasNext }, 'Next page')));
    } catch (e) {
      put(list, errorBox(e));
    }
  }
  load();
  return null;
}
