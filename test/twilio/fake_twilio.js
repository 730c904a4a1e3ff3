'use strict';
/* A fake Twilio REST API for the acceptance test (test_twilio.py), built on Twilio's own Node
 * library (the `twilio` npm package, pinned in package-lock.json) as the reference:
 *
 * - POST /2010-04-01/Accounts/{sid}/Calls.json checks HTTP Basic and every parameter against
 *   Twilio's documented Call resource (names, repeats, enumerations, Timeout range, exactly one
 *   of Url/Twiml/ApplicationSid, Twiml at most 4,000 characters, <Stream url> wss:// only) and
 *   answers 201 with a Call resource or a Twilio-shaped error {code, message, more_info, status}.
 *   Whatever it finds wrong is recorded as a violation.
 * - Status callbacks go to the request's StatusCallback, form-encoded and signed with the
 *   library's twilio.getExpectedTwilioSignature (and checked with twilio.validateRequest).
 * - GET .../Calls/{sid}.json answers the call's last state.
 * - /control/* lets the test script a number's behaviour, read the log, send genuine or forged
 *   callbacks, and have the library's client.calls.create send a request to be compared.
 *
 * Prints {"port": N} on its first stdout line once it listens on 127.0.0.1. */
const http = require('node:http');
const twilio = require('twilio');

const ACCOUNT_SID = process.env.FAKE_ACCOUNT_SID;
const AUTH_TOKEN = process.env.FAKE_AUTH_TOKEN;
const TWIML_MAX = 4000;

/* The create parameters of the Call resource (Twilio's API reference). */
const KNOWN = new Set([
  'To', 'From', 'Url', 'Method', 'Twiml', 'ApplicationSid', 'FallbackUrl', 'FallbackMethod',
  'StatusCallback', 'StatusCallbackEvent', 'StatusCallbackMethod', 'SendDigits', 'Timeout',
  'Record', 'RecordingChannels', 'RecordingStatusCallback', 'RecordingStatusCallbackMethod',
  'RecordingStatusCallbackEvent', 'RecordingTrack', 'SipAuthUsername', 'SipAuthPassword',
  'MachineDetection', 'MachineDetectionTimeout', 'MachineDetectionSpeechThreshold',
  'MachineDetectionSpeechEndThreshold', 'MachineDetectionSilenceTimeout', 'AsyncAmd',
  'AsyncAmdStatusCallback', 'AsyncAmdStatusCallbackMethod', 'Trim', 'CallerId', 'Byoc',
  'CallReason', 'CallToken', 'TimeLimit',
]);
const REPEATABLE = new Set(['StatusCallbackEvent', 'RecordingStatusCallbackEvent']);
const ENUMS = {
  StatusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
  StatusCallbackMethod: ['GET', 'POST'],
  Method: ['GET', 'POST'],
  FallbackMethod: ['GET', 'POST'],
  MachineDetection: ['Enable', 'DetectMessageEnd'],
};

const scenarios = new Map(); /* To -> script */
const creates = [];          /* every create request, in arrival order */
const callbacks = [];        /* every callback sent, with the status it got */
const calls = new Map();     /* sid -> {to, statusCallback, state, params} */
let sidCounter = 0;

function twilioError(res, status, code, message, headers = {}) {
  const body = JSON.stringify({
    code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status,
  });
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(body);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/* The form as [name, value] pairs in order, and as {name: [values]}. */
function parseForm(text) {
  const pairs = [...new URLSearchParams(text)];
  const byName = {};
  for (const [k, v] of pairs) (byName[k] = byName[k] || []).push(v);
  return { pairs, byName };
}

/* Everything the documented API would reject or that Twilio fails on later (31922). */
function validate(byName) {
  const v = [];
  for (const [k, values] of Object.entries(byName)) {
    if (!KNOWN.has(k)) v.push(`unknown parameter ${k}`);
    if (values.length > 1 && !REPEATABLE.has(k)) v.push(`${k} given ${values.length} times`);
    for (const value of values)
      if (ENUMS[k] && !ENUMS[k].includes(value)) v.push(`${k}=${value} is not one of ${ENUMS[k]}`);
  }
  const one = (k) => (byName[k] ? byName[k][0] : undefined);
  const instructions = ['Url', 'Twiml', 'ApplicationSid'].filter((k) => byName[k]);
  if (instructions.length !== 1) v.push(`exactly one of Url, Twiml, ApplicationSid: ${instructions}`);
  if (one('Timeout') !== undefined) {
    const t = Number(one('Timeout'));
    if (!Number.isInteger(t) || t < 1 || t > 600) v.push(`Timeout=${one('Timeout')} not 1..600`);
  }
  for (const k of ['StatusCallback', 'Url'])
    if (one(k) !== undefined && !/^https?:\/\/[^/]+/.test(one(k))) v.push(`${k} is not a URL`);
  const twiml = one('Twiml');
  if (twiml !== undefined) {
    if (!/^<Response>[\s\S]*<\/Response>$/.test(twiml)) v.push('Twiml is not a <Response>');
    for (const m of twiml.matchAll(/<Stream\b[^>]*\burl="([^"]*)"/g))
      if (!m[1].startsWith('wss://')) v.push(`31922: <Stream url="${m[1]}"> is not wss://`);
  }
  return v;
}

function callResource(sid, c, status) {
  return {
    sid, account_sid: ACCOUNT_SID, to: c.to, from: c.from, status, direction: 'outbound-api',
    answered_by: c.answeredBy || null, duration: c.duration != null ? String(c.duration) : null,
    api_version: '2010-04-01', uri: `/2010-04-01/Accounts/${ACCOUNT_SID}/Calls/${sid}.json`,
    date_created: new Date().toUTCString(),
  };
}

/* The full parameter set of one status callback of call c. */
function callbackParams(c, fields, sequence) {
  const p = {
    AccountSid: ACCOUNT_SID, ApiVersion: '2010-04-01', CallSid: c.sid, From: c.from,
    Caller: c.from, To: c.to, Called: c.to, Direction: 'outbound-api',
    CallbackSource: 'call-progress-events', Timestamp: new Date().toUTCString(),
    SequenceNumber: String(sequence),
  };
  for (const [k, v] of Object.entries(fields)) p[k] = String(v);
  return p;
}

/* POSTs a form to url with the given signature header value (undefined: no header). */
function post(url, params, signature) {
  return new Promise((resolve) => {
    const body = new URLSearchParams(params).toString();
    const headers = {
      'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body),
      'User-Agent': 'TwilioProxy/1.1',
    };
    if (signature !== undefined) headers['X-Twilio-Signature'] = signature;
    const req = http.request(url, { method: 'POST', headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', (e) => resolve(`error ${e.message}`));
    req.end(body);
  });
}

/* A genuine callback: signed by the library, and the signature checked by the library. */
async function sendSigned(c, params, label) {
  const signature = twilio.getExpectedTwilioSignature(AUTH_TOKEN, c.statusCallback, params);
  if (!twilio.validateRequest(AUTH_TOKEN, signature, c.statusCallback, params))
    throw new Error('the library does not validate its own signature');
  const status = await post(c.statusCallback, params, signature);
  callbacks.push({ to: c.to, sid: c.sid, label, params, status });
  return status;
}

/* The script's callbacks in the script's order: reverse, or each sent twice. */
async function runCallbacks(c, script) {
  const list = (script.callbacks || []).map((f, i) => callbackParams(c, f, i));
  let order = list;
  if (script.order === 'reverse') order = [...list].reverse();
  if (script.order === 'duplicate') order = list.flatMap((p) => [p, p]);
  for (const p of order) {
    c.state = p.CallStatus;
    if (p.AnsweredBy) c.answeredBy = p.AnsweredBy;
    if (p.CallDuration) c.duration = p.CallDuration;
    await sendSigned(c, p, 'genuine');
  }
  const last = list[list.length - 1];
  if (last) {
    c.state = last.CallStatus;
    if (last.CallDuration) c.duration = last.CallDuration;
  }
}

async function createCall(req, res, account) {
  const raw = await readBody(req);
  const { pairs, byName } = parseForm(raw);
  const to = byName.To ? byName.To[0] : undefined;
  const entry = {
    at: Date.now(), account, to, raw, pairs, contentType: req.headers['content-type'],
    authorization: req.headers.authorization, violations: validate(byName), answer: null,
  };
  creates.push(entry);
  const answer = (status) => { entry.answer = status; };

  const expected = 'Basic ' + Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64');
  if (req.headers.authorization !== expected || account !== ACCOUNT_SID) {
    answer(401);
    return twilioError(res, 401, 20003, 'Authenticate');
  }
  if (!/^application\/x-www-form-urlencoded/.test(req.headers['content-type'] || ''))
    entry.violations.push(`Content-Type ${req.headers['content-type']}`);
  if (!to) { answer(400); return twilioError(res, 400, 21201, "No 'To' number is specified"); }
  if (!byName.From) { answer(400); return twilioError(res, 400, 21213, "No 'From' number is specified"); }
  if (byName.Twiml && byName.Twiml[0].length > TWIML_MAX) {
    answer(400);
    return twilioError(res, 400, 32018,
      `Twiml parameter exceeds the maximum length of ${TWIML_MAX} characters`);
  }
  if (!byName.Twiml && !byName.Url && !byName.ApplicationSid) {
    answer(400);
    return twilioError(res, 400, 21205, 'Url or Twiml or ApplicationSid is required');
  }

  const script = scenarios.get(to) || { callbacks: [] };
  const tries = (script.tried = (script.tried || 0) + 1);
  const err = script.create;
  if (err && tries <= (err.times || Infinity)) {
    answer(err.status);
    const headers = err.retryAfter !== undefined ? { 'Retry-After': String(err.retryAfter) } : {};
    return twilioError(res, err.status, err.code, err.message || `error ${err.code}`, headers);
  }

  const sid = 'CA' + (++sidCounter).toString(16).padStart(32, '0');
  const c = {
    sid, to, from: byName.From[0], statusCallback: byName.StatusCallback[0], state: 'queued',
  };
  calls.set(sid, c);
  entry.sid = sid;
  /* Twilio may deliver the first callbacks before its 201 reaches us. */
  if (script.beforeCreate) await runCallbacks(c, script);
  answer(201);
  res.writeHead(201, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(callResource(sid, c, 'queued')));
  if (!script.beforeCreate) setTimeout(() => runCallbacks(c, script), 5);
}

function fetchCall(res, sid) {
  const c = calls.get(sid);
  if (!c) return twilioError(res, 404, 20404, `The requested resource was not found`);
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(callResource(sid, c, c.state)));
}

function lastCall(to) {
  return [...calls.values()].filter((c) => c.to === to).pop();
}

/* A callback for the last call to `to` that Twilio did not send (kind says how it is forged). */
async function forge(to, kind, fields) {
  const c = lastCall(to);
  const params = callbackParams(c, fields, 90);
  const genuine = (p, url) => twilio.getExpectedTwilioSignature(AUTH_TOKEN, url, p);
  let url = c.statusCallback, signature;
  if (kind === 'wrong-signature') {
    signature = twilio.getExpectedTwilioSignature('not-the-auth-token', url, params);
  } else if (kind === 'wrong-url') {
    /* Signed for another attempt of this call: replayed to this URL. */
    signature = genuine(params, url.replace(/([?&]a=)(\d+)/, (m, p, n) => p + (Number(n) + 1)));
  } else if (kind === 'other-row') {
    /* Signed for this call, sent to another row's URL. */
    signature = genuine(params, url);
    url = url.replace(/([?&]r=)(\d+)/, (m, p, n) => p + (Number(n) + 1));
  } else if (kind === 'modified-param') {
    signature = genuine(params, url);
    params.CallDuration = String(Number(params.CallDuration || 0) + 600);
  } else if (kind === 'missing-header') {
    signature = undefined;
  } else {
    throw new Error(`unknown forgery ${kind}`);
  }
  if (signature !== undefined && twilio.validateRequest(AUTH_TOKEN, signature, url, params))
    throw new Error(`forgery ${kind} is valid for the library`);
  const status = await post(url, params, signature);
  callbacks.push({ to, sid: c.sid, label: `forged ${kind}`, params, status });
  return status;
}

/* The request client.calls.create sends for params, captured by this server. */
async function libraryCreate(port, params) {
  const RequestClient = require('twilio/lib/base/RequestClient');
  const inner = new RequestClient();
  const httpClient = {
    request(opts) {
      return inner.request({ ...opts, uri: opts.uri.replace(/^https:\/\/api\.twilio\.com/, `http://127.0.0.1:${port}`) });
    },
  };
  const client = twilio(ACCOUNT_SID, AUTH_TOKEN, { httpClient });
  const before = creates.length;
  const call = await client.calls.create(params);
  const entry = creates[before];
  return { sid: call.sid, status: call.status, entry };
}

async function control(req, res, path, port) {
  const text = req.method === 'POST' ? await readBody(req) : '';
  const body = text ? JSON.parse(text) : {};
  let out;
  if (path === '/control/scenario') {
    scenarios.set(body.to, body);
    out = { ok: true };
  } else if (path === '/control/log') {
    out = { creates, callbacks };
  } else if (path === '/control/forge') {
    out = { status: await forge(body.to, body.kind, body.fields || {}) };
  } else if (path === '/control/send') {
    const c = lastCall(body.to);
    c.state = body.fields.CallStatus || c.state;
    out = { status: await sendSigned(c, callbackParams(c, body.fields, body.sequence || 0), 'genuine') };
  } else if (path === '/control/library-create') {
    out = await libraryCreate(port, body.params);
  } else {
    res.writeHead(404);
    return res.end();
  }
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(out));
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://fake');
  const path = url.pathname;
  let m;
  Promise.resolve()
    .then(() => {
      if (path.startsWith('/control/')) return control(req, res, path, server.address().port);
      if (req.method === 'POST' && (m = path.match(/^\/2010-04-01\/Accounts\/([^/]+)\/Calls\.json$/)))
        return createCall(req, res, decodeURIComponent(m[1]));
      if (req.method === 'GET' && (m = path.match(/^\/2010-04-01\/Accounts\/[^/]+\/Calls\/([^/]+)\.json$/)))
        return fetchCall(res, decodeURIComponent(m[1]));
      return twilioError(res, 404, 20404, 'The requested resource was not found');
    })
    .catch((e) => {
      process.stderr.write(`fake_twilio: ${e.stack}\n`);
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: String(e) }));
    });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
