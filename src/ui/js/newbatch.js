// New batch: agent, CSV file, options; validate first (A8) and show what is wrong, then upload
// (A1) with a progress bar in bytes.
import { api, upload, ApiError } from './api.js';
import {
  h, num, bytes, zone, utcText, errorBox, table, field, confirmAction, put,
} from './dom.js';

function randomKey() {
  const a = new Uint8Array(16);
  crypto.getRandomValues(a);
  return `ui-${Array.from(a, (x) => x.toString(16).padStart(2, '0')).join('')}`;
}

// The form's fields as the API names them; throws an Error naming the field on a local mistake.
function formFields(f, compliance) {
  const out = [];
  const add = (k, v) => {
    if (v !== '' && v !== null && v !== undefined) out.push([k, String(v)]);
  };
  add('agentId', f.agent.value);
  add('name', f.name.value.trim());
  add('defaultCountry', f.country.value.trim().toUpperCase());
  if (f.when.value) {
    const d = new Date(f.when.value);
    if (Number.isNaN(d.getTime())) throw new Error('Start time: pick a date and time, or leave it empty to start now.');
    add('scheduledAt', d.toISOString().replace(/\.\d+Z$/, 'Z'));
  }
  if (f.smart.checked) {
    const gaps = f.gaps.value.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
    if (!gaps.length || gaps.some((g) => !(g > 0 && g <= 720))) {
      throw new Error('Hours between attempts: give one or more numbers of hours, comma separated, each more than 0 and at most 720 (30 days).');
    }
    add('smartCallbackConfig', JSON.stringify({
      enabled: true, maxAttempts: Number(f.attempts.value), gaps: gaps.map((g) => ({ days: 0, hours: g })),
    }));
  }
  add('maxConcurrency', f.conc.value);
  add('callsPerSecond', f.cps.value);
  add('webhookUrl', f.hook.value.trim());
  if (f.dups.checked) add('allowDuplicates', 'true');
  if (f.strict.checked) add('strict', 'true');
  if (compliance && f.winStart.value && f.winEnd.value) {
    const days = f.winDays.filter((c) => c.checked).map((c) => c.value);
    add('callingWindow', JSON.stringify({ start: f.winStart.value, end: f.winEnd.value, days }));
  }
  return out;
}

function multipart(fields, file) {
  const fd = new FormData();
  // Settings first: the server then reads every row with them, once (README, Uploads).
  for (const [k, v] of fields) fd.append(k, v);
  fd.append('file', file, file.name);
  return fd;
}

function validationReport(v) {
  const out = [];
  out.push(h('div', { class: v.valid ? 'msg ok' : 'msg error', role: 'status' },
    v.valid ? 'The file is ready: every row can be called and every prompt variable has a column.'
      : `Not everything can be called: ${(v.reason || 'see below').replace(/\.$/, '')}.`));
  out.push(h('dl', { class: 'stats' },
    [['Rows', v.totalRows], ['Valid', v.validRows], ['Invalid', v.invalidRows], ['Duplicates', v.duplicateRows],
      ['Rewritten to E.164', v.normalizedRows]].map(([k, n]) => h('div', null, h('dt', null, k), h('dd', null, num(n))))));
  out.push(h('p', { class: 'hint' }, `Columns: ${(v.columns || []).join(', ')} · encoding ${v.encoding || '?'}`,
    v.delimiter ? ` · delimiter ${JSON.stringify(v.delimiter)}` : ''));
  if (v.missingVariables && v.missingVariables.length) {
    out.push(h('h3', null, 'Prompt variables without a column'),
      table(null, ['Variable', 'What happens'], v.missingVariables.map((m) => h('tr', { class: 'missing-var' },
        h('td', { class: 'mono' }, `{${m}}`), h('td', null, 'rendered empty in every call: add a column of this name to the file')))));
  }
  if (v.unusedColumns && v.unusedColumns.length) {
    out.push(h('p', { class: 'hint' }, `Columns the prompt does not use: ${v.unusedColumns.join(', ')}.`));
  }
  if (v.errors && v.errors.length) {
    out.push(h('h3', null, `Row errors (${num(v.errors.length)}${v.errorsTruncated ? ', first ones only' : ''})`),
      table(null, [{ text: 'Row', attrs: { class: 'num' } }, 'Column', 'Rule', 'Value', 'Problem'],
        v.errors.map((e) => h('tr', { class: 'row-error' },
          h('td', { class: 'num' }, num(e.row)), h('td', null, e.column || '—'), h('td', { class: 'mono' }, e.code || '—'),
          h('td', { class: 'mono wrap' }, e.value === undefined || e.value === null ? '—' : String(e.value)),
          h('td', { class: 'wrap' }, e.message || '')))));
  }
  return out;
}

export function render(main, ctx) {
  const compliance = ctx.features.compliance;
  const f = {
    agent: h('select', { required: true }, h('option', { value: '' }, 'Loading agents…')),
    file: h('input', { type: 'file', accept: '.csv,text/csv', required: true }),
    name: h('input', { maxlength: 200 }),
    country: h('input', { maxlength: 2, size: 4, pattern: '[A-Za-z]{2}', autocomplete: 'off' }),
    when: h('input', { type: 'datetime-local', step: 1 }),
    smart: h('input', { type: 'checkbox' }),
    attempts: h('input', { type: 'number', min: 1, max: 10, value: 3 }),
    gaps: h('input', { value: '4, 24' }),
    conc: h('input', { type: 'number', min: 1 }),
    cps: h('input', { type: 'number', min: 0.01, step: 'any' }),
    hook: h('input', { type: 'url', placeholder: 'https://' }),
    dups: h('input', { type: 'checkbox' }),
    strict: h('input', { type: 'checkbox' }),
    winStart: h('input', { type: 'time' }),
    winEnd: h('input', { type: 'time' }),
    winDays: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'].map((d) => h('input', { type: 'checkbox', value: d, checked: true })),
  };
  const whenNote = h('p', { class: 'hint', id: 'nb-when-note' }, `In your time zone (${zone}). Empty: start now.`);
  f.when.setAttribute('aria-describedby', 'nb-when-note');
  f.when.addEventListener('input', () => {
    const d = new Date(f.when.value);
    whenNote.textContent = f.when.value && !Number.isNaN(d.getTime())
      ? `In your time zone (${zone}): sent as ${utcText(d.getTime())}.` : `In your time zone (${zone}). Empty: start now.`;
  });
  const fileNote = h('p', { class: 'hint', id: 'nb-file-hint' }, 'CSV with a phone_number column; up to 20 MB. Drop it here or choose it.');
  const drop = h('div', { class: 'drop' }, h('label', { for: 'nb-file' }, 'CSV file'), f.file, fileNote);
  f.file.id = 'nb-file';
  f.file.setAttribute('aria-describedby', 'nb-file-hint');
  let dropped = null;
  const chosen = () => dropped || (f.file.files && f.file.files[0]) || null;
  const showFile = () => {
    const file = chosen();
    fileNote.textContent = file ? `${file.name} · ${bytes(file.size)}` : 'CSV with a phone_number column; up to 20 MB. Drop it here or choose it.';
  };
  f.file.addEventListener('change', () => {
    dropped = null;
    showFile();
  });
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    if (e.dataTransfer.files.length) {
      dropped = e.dataTransfer.files[0];
      showFile();
      changed();
    }
  });

  const validateBtn = h('button', { type: 'submit' }, 'Validate');
  const startBtn = h('button', { type: 'button', disabled: true }, 'Start batch');
  const report = h('section', { 'aria-label': 'Validation result', 'aria-live': 'polite' });
  const bar = h('progress', { max: 1, value: 0, 'aria-label': 'Upload progress' });
  const barText = h('p', { class: 'hint' });
  const uploading = h('div', { hidden: true }, bar, barText);
  let validated = null; // {key, valid} after a validation of the current inputs
  const changed = () => {
    validated = null;
    startBtn.disabled = true;
  };

  const form = h('form', { novalidate: true },
    h('div', { class: 'grid' },
      field('Agent', f.agent, 'Places the calls; its prompt\'s {variables} come from the columns.', 'nb-agent'),
      field('Name (optional)', f.name, null, 'nb-name'),
      field('Default country (optional)', f.country, 'Two letters (US, GB, DE): reads national numbers like (415) 555-0100.', 'nb-country'),
      h('div', { class: 'field' }, h('label', { for: 'nb-when' }, 'Start at (optional)'), f.when, whenNote)),
    drop,
    h('details', null, h('summary', null, 'Retries and limits'),
      h('div', { class: 'panel' },
        h('p', { class: 'hint' }, 'Busy numbers are always retried by the server. Unanswered calls and voicemail are retried only when asked here.'),
        h('div', { class: 'field' }, h('label', { class: 'inline', for: 'nb-smart' }, f.smart, 'Call back unanswered contacts (smart callback)')),
        h('div', { class: 'grid' },
          field('Attempts in all (1–10)', f.attempts, null, 'nb-attempts'),
          field('Hours between attempts', f.gaps, 'Comma separated: the wait before the 2nd, 3rd… attempt; the last one repeats.', 'nb-gaps'),
          field('Max concurrent calls (optional)', f.conc, 'Never above the workspace\'s limit.', 'nb-conc'),
          field('Calls per second (optional)', f.cps, null, 'nb-cps'),
          field('Webhook URL for this batch (optional)', f.hook, null, 'nb-hook')),
        h('div', { class: 'field' }, h('label', { class: 'inline', for: 'nb-dups' }, f.dups, 'Call a number as often as it appears (allow duplicates)')),
        h('div', { class: 'field' }, h('label', { class: 'inline', for: 'nb-strict' }, f.strict, 'Strict: refuse the whole file if any row is invalid')),
        compliance ? h('fieldset', null, h('legend', null, 'Calling window (callee\'s local time)'),
          h('div', { class: 'grid' }, field('From', f.winStart, null, 'nb-win-start'), field('Until', f.winEnd, null, 'nb-win-end')),
          h('div', { class: 'actions' }, f.winDays.map((c, i) => {
            c.id = `nb-day-${i}`;
            return h('label', { class: 'inline', for: c.id }, c, c.value);
          }))) : null)),
    h('div', { class: 'actions' }, validateBtn, startBtn),
    uploading, report);
  f.smart.id = 'nb-smart';
  f.dups.id = 'nb-dups';
  f.strict.id = 'nb-strict';
  f.when.id = 'nb-when';
  form.addEventListener('input', (e) => {
    if (e.target !== f.when) changed();
  });
  form.addEventListener('change', changed);
  f.when.addEventListener('change', changed);

  function fail(err) {
    put(report, errorBox(err));
    const name = err instanceof ApiError ? err.body.field : null;
    const map = { agentId: f.agent, file: f.file, defaultCountry: f.country, scheduledAt: f.when, smartCallbackConfig: f.gaps,
      maxConcurrency: f.conc, callsPerSecond: f.cps, webhookUrl: f.hook, name: f.name, callingWindow: f.winStart };
    if (name && map[name]) map[name].focus();
  }

  async function send(path, extraHeaders) {
    const file = chosen();
    if (!f.agent.value && path.endsWith('/validate') === false) throw new Error('Agent: choose the agent that will place the calls.');
    if (!file) throw new Error('CSV file: choose a file or drop one on the box.');
    const fd = multipart(formFields(f, compliance), file);
    uploading.hidden = false;
    bar.value = 0;
    barText.textContent = `0 B of ${bytes(file.size)}`;
    try {
      return await upload(path, fd, (sent, total) => {
        bar.max = total || 1;
        bar.value = sent;
        barText.textContent = `${bytes(sent)} of ${bytes(total || file.size)} sent`;
      }, extraHeaders);
    } finally {
      if (bar.value >= bar.max) barText.textContent = `${bytes(bar.max)} sent; the server is reading the file…`;
    }
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    validateBtn.disabled = true;
    put(report, h('p', { class: 'hint' }, 'Validating…'));
    try {
      const { body } = await send('/v1/api/batch-calls/validate');
      uploading.hidden = true;
      put(report, ...validationReport(body));
      validated = { key: randomKey(), valid: body.valid, invalid: body.invalidRows + body.duplicateRows, missing: (body.missingVariables || []).length };
      startBtn.disabled = false;
      startBtn.focus();
    } catch (err) {
      uploading.hidden = true;
      fail(err);
    } finally {
      validateBtn.disabled = false;
    }
  });

  startBtn.addEventListener('click', async () => {
    if (!validated) return;
    if (!f.agent.value) {
      fail(new Error('Agent: choose the agent that will place the calls.'));
      return;
    }
    if (!validated.valid) {
      const parts = [];
      if (validated.invalid) parts.push(`${num(validated.invalid)} rows cannot be called and will be stored as failed calls`);
      if (validated.missing) parts.push(`${num(validated.missing)} prompt variables have no column and will be empty`);
      const ok = await confirmAction('Start with problems?', `${parts.join('; ') || 'The file has problems'}. The other rows will be dialled.`, 'Start anyway');
      if (!ok) return;
    }
    startBtn.disabled = true;
    validateBtn.disabled = true;
    try {
      // The same key for the same validated inputs: a repeated click or a retry after a lost
      // answer returns the batch already created instead of dialling everyone twice.
      const { body, replayed } = await send('/v1/api/batch-calls', { 'Idempotency-Key': validated.key });
      barText.textContent = `${bytes(bar.max)} sent; batch ${body.batchId} created${replayed ? ' (already created by an earlier request)' : ''}.`;
      location.hash = `#/batch/${encodeURIComponent(body.batchId)}`;
    } catch (err) {
      fail(err);
      startBtn.disabled = false;
    } finally {
      validateBtn.disabled = false;
    }
  });

  main.append(h('h1', null, 'New batch'), form);

  api('GET', '/v1/api/agents', { query: { limit: 100 } }).then((res) => {
    const agents = res.agents || [];
    put(f.agent, h('option', { value: '' }, agents.length ? 'Choose an agent' : 'No agents: create one first'),
      ...agents.map((a) => h('option', { value: a.id }, `${a.name} (${a.id})`)));
    const want = ctx.params.get('agent');
    if (want) f.agent.value = want;
    else if (agents.length === 1) f.agent.value = agents[0].id;
  }).catch((err) => put(report, errorBox(err)));
  return null;
}
