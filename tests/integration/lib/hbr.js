// Harness for the hbrd integration tests: start/stop the server, run its
// admin CLIs, and call it through the official Alibaba Cloud clients or
// through hand-built (tamperable) V1 / V3 signed requests.
//
// Spec references are to /work/shared/reference/hbr-api.md (§3 wire
// protocol, §5 errors, §9 response shapes).
'use strict';

const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const RPCClient = require('@alicloud/pop-core');
const OpenApi = require('@alicloud/openapi-client');
const Util = require('@alicloud/tea-util');
const OpenApiUtil = require('@alicloud/openapi-util').default;

const REPO = path.resolve(__dirname, '..', '..', '..');
const API_VERSION = '2017-09-08';
const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 10_000;
const POLL_MS = 50;
const CALL_TIMEOUT_MS = 60_000; // one API call; generous for the crash-test deletes
const CLI_TIMEOUT_MS = 120_000; // one hbrd ram/admin run (seeding 22k rows)
const STOP_TIMEOUT_MS = 10_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function hbrdPath() {
  const p = process.env.HBRD || path.join(REPO, 'build', 'bin', 'hbrd');
  try {
    fs.accessSync(p, fs.constants.X_OK);
  } catch {
    throw new Error(`hbrd binary not found or not executable at ${p}: build it first ` +
      '(cmake --preset dev && cmake --build --preset dev) or set HBRD=/path/to/hbrd');
  }
  return p;
}

/** The hbr-client binary the agent tests run (HBR_CLIENT overrides). */
function clientPath() {
  const p = process.env.HBR_CLIENT || path.join(REPO, 'build', 'bin', 'hbr-client');
  try {
    fs.accessSync(p, fs.constants.X_OK);
  } catch {
    throw new Error(`hbr-client binary not found or not executable at ${p}: build it first or set HBR_CLIENT`);
  }
  return p;
}

// ---------------------------------------------------------------- processes

const live = new Set(); // ChildProcess objects still running
const tempDirs = new Set();

function killAll() {
  for (const p of live) {
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
  live.clear();
}
process.on('exit', () => {
  killAll();
  if (!process.env.HBR_IT_KEEP) {
    for (const d of tempDirs) {
      try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* best effort */ }
    }
  }
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => { killAll(); process.exit(128 + (os.constants.signals[sig] || 1)); });
}

function makeTempDir(tag = 'hbr-it-') {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), tag));
  tempDirs.add(d);
  return d;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.once('error', reject);
    s.listen(0, HOST, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port, timeoutMs = 500) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: HOST, port });
    const done = (ok) => { clearTimeout(timer); sock.destroy(); resolve(ok); };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

// Is `port` on 127.0.0.1 listened on by a socket that process `pid` holds?
// Guards against talking to another test's server that won a port race.
// Returns null when /proc cannot tell (then the caller trusts the connect).
function ownsPort(pid, port) {
  try {
    const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
    const inodes = new Set();
    for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
      if (!fs.existsSync(f)) continue;
      for (const line of fs.readFileSync(f, 'utf8').split('\n').slice(1)) {
        const c = line.trim().split(/\s+/);
        if (c.length > 9 && c[1].endsWith(':' + hexPort) && c[3] === '0A') inodes.add(c[9]);
      }
    }
    if (!inodes.size) return false;
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      let link = '';
      try { link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m && inodes.has(m[1])) return true;
    }
    return false;
  } catch {
    return null;
  }
}

function tail(file, n = 40) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '(no log)';
  }
}

function readCreds(file) {
  try {
    const c = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (c && c.AccessKeyId && c.AccessKeySecret) return c;
  } catch { /* not there yet, or half written */ }
  return null;
}

/**
 * Start hbrd on a free loopback port.
 *   opts.dataDir  reuse a data dir (restart); default a fresh temp dir
 *   opts.env      extra environment variables
 *   opts.args     extra hbrd flags (e.g. ['--clock-file', f])
 *   opts.port     listen on this port (first attempt), e.g. to restart in place
 *   opts.t        a node:test context: the server is killed in t.after()
 * Resolves to {port, endpoint, dataDir, logFile, creds, proc, exited,
 * stop(signal) -> Promise<exit code>, kill9() -> Promise<{code, signal}>, alive()}.
 */
async function startServer(opts = {}) {
  const bin = hbrdPath();
  const dataDir = opts.dataDir || makeTempDir();
  const credsFile = path.join(dataDir, 'root-credentials.json');
  const logFile = path.join(dataDir, 'hbrd.log');
  let lastErr = null;

  for (let attempt = 1; attempt <= 3; attempt++) {
    // opts.port: restart on the port clients already know (agents keep
    // the endpoint in their state dir).
    const port = attempt === 1 && opts.port ? opts.port : await freePort();
    const fd = fs.openSync(logFile, 'a');
    fs.writeSync(fd, `\n=== hbr-it: starting hbrd on ${HOST}:${port} (attempt ${attempt}) ===\n`);
    const proc = spawn(bin, ['--data-dir', dataDir, '--listen', `${HOST}:${port}`, ...(opts.args || [])],
      { stdio: ['ignore', fd, fd], env: { ...process.env, ...(opts.env || {}) } });
    fs.closeSync(fd);
    live.add(proc);
    const exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => { live.delete(proc); resolve({ code, signal }); });
      proc.once('error', (err) => { live.delete(proc); resolve({ code: null, signal: null, error: err }); });
    });
    let exitInfo = null;
    exited.then((e) => { exitInfo = e; });

    const deadline = Date.now() + READY_TIMEOUT_MS;
    let creds = null;
    let ready = false;
    while (Date.now() < deadline && !exitInfo) {
      creds = creds || readCreds(credsFile);
      if (creds && await canConnect(port) && ownsPort(proc.pid, port) !== false) { ready = true; break; }
      await sleep(POLL_MS);
    }
    if (ready) {
      const srv = makeServerHandle({ port, dataDir, logFile, creds, proc, exited, getExit: () => exitInfo });
      if (opts.t) opts.t.after(() => srv.kill9());
      return srv;
    }
    if (!exitInfo) {
      proc.kill('SIGKILL');
      await exited;
      throw new Error(`hbrd not ready within ${READY_TIMEOUT_MS} ms (root-credentials.json ` +
        `${creds ? 'present' : 'missing'}, port ${port}); log tail:\n${tail(logFile)}`);
    }
    lastErr = new Error(`hbrd exited during startup (code ${exitInfo.code}, signal ${exitInfo.signal}` +
      `${exitInfo.error ? ', ' + exitInfo.error.message : ''}); log tail:\n${tail(logFile)}`);
    // Retry only if it looks like our free port got taken in the meantime.
    if (!/in use|EADDRINUSE|bind|cannot listen/i.test(tail(logFile, 5))) break;
  }
  throw lastErr;
}

let serverSeq = 0;

function makeServerHandle({ port, dataDir, logFile, creds, proc, exited, getExit }) {
  const id = ++serverSeq;
  exited.then(() => forgetClients(id));
  return {
    id,
    port,
    endpoint: `http://${HOST}:${port}`,
    dataDir,
    logFile,
    creds,
    proc,
    exited,
    alive: () => getExit() === null,
    /** Send `signal`, wait (bounded) for the exit; resolves to the exit code (null if killed by a signal). */
    async stop(signal = 'SIGTERM') {
      if (getExit()) return getExit().code;
      proc.kill(signal);
      let timer;
      const r = await Promise.race([exited, new Promise((res) => { timer = setTimeout(() => res(null), STOP_TIMEOUT_MS); })]);
      clearTimeout(timer);
      if (!r) {
        proc.kill('SIGKILL');
        await exited;
        throw new Error(`hbrd did not exit within ${STOP_TIMEOUT_MS} ms after ${signal}; log tail:\n${tail(logFile)}`);
      }
      return r.code;
    },
    /** SIGKILL now; resolves to {code, signal}. */
    async kill9() {
      if (getExit()) return getExit();
      try { proc.kill('SIGKILL'); } catch { /* gone */ }
      return exited;
    },
    logTail: (n) => tail(logFile, n),
  };
}

// ---------------------------------------------------------------- CLIs

function runCli(args, what) {
  const r = spawnSync(hbrdPath(), args, { encoding: 'utf8', timeout: CLI_TIMEOUT_MS });
  if (r.error) throw new Error(`${what}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${what} exited with ${r.status ?? r.signal}\nstderr: ${r.stderr}\nstdout: ${r.stdout}`);
  }
  const out = r.stdout.trim();
  if (!out) return null;
  try {
    return JSON.parse(out);
  } catch {
    throw new Error(`${what}: stdout is not JSON: ${out.slice(0, 500)}`);
  }
}

/**
 * hbrd ram VERB --data-dir DIR [--account ID] ARGS...
 * A trailing plain object is options: {account}.
 */
function ram(dataDir, verb, ...args) {
  let opts = {};
  if (args.length && typeof args[args.length - 1] === 'object' && args[args.length - 1] !== null) {
    opts = args.pop();
  }
  const argv = ['ram', verb, '--data-dir', dataDir];
  if (opts.account) argv.push('--account', opts.account);
  argv.push(...args.map(String));
  return runCli(argv, `hbrd ${argv.join(' ')}`);
}

/** hbrd admin SUBCOMMAND --data-dir DIR ARGS... */
function admin(dataDir, sub, ...args) {
  const argv = ['admin', sub, '--data-dir', dataDir, ...args.map(String)];
  return runCli(argv, `hbrd ${argv.join(' ')}`);
}

/**
 * hbrd admin seed: N ACTIVATED ECS clients in a fresh vault, each with
 * `plans` plans, `jobs` jobs (`running` of them RUNNING) and `snapshots`
 * snapshots. Returns {VaultId, ClientIds, InstanceIds}.
 */
function seed(dataDir, { clients, plans, jobs, snapshots, running = 0, account } = {}) {
  const args = [];
  if (account) args.push('--account', account);
  args.push('--clients', clients, '--plans', plans, '--jobs', jobs, '--snapshots', snapshots);
  if (running) args.push('--running', running);
  const out = admin(dataDir, 'seed', ...args);
  assert.ok(out && /^v-/.test(out.VaultId), `seed: bad VaultId in ${JSON.stringify(out)}`);
  assert.equal(out.ClientIds.length, clients, 'seed: ClientIds count');
  assert.equal(out.InstanceIds.length, clients, 'seed: InstanceIds count');
  return out;
}

// ---------------------------------------------------------------- encoding

// RFC 3986 as both SDKs do it (hbr-api.md §3.3 step 3).
const enc = (s) => encodeURIComponent(String(s))
  .replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

function formString(pairs) {
  return pairs.map(([k, v]) => enc(k) + '=' + enc(v)).join('&');
}

// Flatten like pop-core / OpenApiUtil.query: arrays -> K.1, objects in arrays -> K.1.Sub.
function flatten(params) {
  const out = {};
  const walk = (prefix, v) => {
    if (v === undefined || v === null) return;
    if (Array.isArray(v)) v.forEach((item, i) => walk(`${prefix}.${i + 1}`, item));
    else if (typeof v === 'object') for (const k of Object.keys(v)) walk(`${prefix}.${k}`, v[k]);
    else out[prefix] = String(v);
  };
  for (const k of Object.keys(params)) walk(k, params[k]);
  return out;
}

function isoNoMillis(d = new Date()) {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const nonce = () => crypto.randomBytes(16).toString('hex');

function endpointOf(ep) {
  const s = typeof ep === 'object' && ep ? ep.endpoint : String(ep);
  const u = new URL(s);
  return { url: s.replace(/\/$/, ''), hostPort: u.host, port: Number(u.port) };
}

// ---------------------------------------------------------------- official clients

// pop-core clients are cached (each holds a keep-alive agent) per server
// instance, never shared with a later server that reuses the same port.
const popClients = new Map();
function popClient(url, creds, serverId) {
  const key = `${serverId}|${url}|${creds.AccessKeyId}|${creds.AccessKeySecret}`;
  let c = popClients.get(key);
  if (!c) {
    c = new RPCClient({
      accessKeyId: creds.AccessKeyId,
      accessKeySecret: creds.AccessKeySecret,
      endpoint: url,
      apiVersion: API_VERSION,
    }, true /* verbose: returns [json, entry] so we see the HTTP status */);
    c.serverId = serverId;
    popClients.set(key, c);
  }
  return c;
}

function forgetClients(serverId) {
  for (const [key, c] of popClients) {
    if (c.serverId === serverId) {
      c.keepAliveAgent.destroy();
      popClients.delete(key);
    }
  }
}

function oacClient(hostPort, creds, v2) {
  const config = new OpenApi.Config({
    accessKeyId: creds.AccessKeyId,
    accessKeySecret: creds.AccessKeySecret,
    endpoint: hostPort,
    protocol: 'HTTP',
    regionId: 'cn-hangzhou',
    readTimeout: CALL_TIMEOUT_MS,
    connectTimeout: 5000,
  });
  if (v2) config.signatureAlgorithm = 'v2';
  return new OpenApi.default(config);
}

// A non-JSON answer is an API-level failure too (json-bigint throws a plain
// {name:'SyntaxError'} object, not a SyntaxError instance).
const isApiError = (e) => !!e && (e.name === 'SyntaxError' || (e.data && typeof e.data === 'object'));

/**
 * Call `action` through one of the official clients.
 *   kind: 'popcore-get' | 'popcore-post' | 'oac-v3' | 'oac-v2'
 *   endpoint: a startServer() handle (preferred) or 'http://127.0.0.1:PORT'
 *   params: list params as JSON strings by default; a JS array is
 *           flattened by the client (ClientIds.1, ...).
 *   opts.body: for oac-*: names of params sent in the form body instead
 *              of the query (the product SDKs put some there).
 * Returns {ok:true, status, body} or {ok:false, status, code, message,
 * body, accessDeniedDetail}. Transport errors (refused, reset, timeout)
 * are thrown.
 */
async function call(kind, endpoint, creds, action, params = {}, opts = {}) {
  const { url, hostPort } = endpointOf(endpoint);
  if (kind === 'popcore-get' || kind === 'popcore-post') {
    const client = popClient(url, creds, typeof endpoint === 'object' && endpoint ? endpoint.id : 0);
    const ropts = { timeout: CALL_TIMEOUT_MS };
    if (kind === 'popcore-post') ropts.method = 'POST';
    try {
      const [body, entry] = await client.request(action, params, ropts);
      return { ok: true, status: entry.response.statusCode, body };
    } catch (e) {
      if (!isApiError(e)) throw e;
      const body = e.data || null;
      return {
        ok: false,
        status: e.entry && e.entry.response ? e.entry.response.statusCode : undefined,
        code: e.code || (body && body.Code),
        message: body ? body.Message : e.message,
        body,
        accessDeniedDetail: body ? body.AccessDeniedDetail : undefined,
      };
    }
  }
  if (kind === 'oac-v3' || kind === 'oac-v2') {
    const client = oacClient(hostPort, creds, kind === 'oac-v2');
    const bodyNames = new Set(opts.body || []);
    const q = {};
    const b = {};
    for (const [k, v] of Object.entries(params)) (bodyNames.has(k) ? b : q)[k] = v;
    const p = new OpenApi.Params({
      action, version: API_VERSION, protocol: 'HTTP', pathname: '/', method: 'POST',
      authType: 'AK', style: 'RPC', reqBodyType: 'formData', bodyType: 'json',
    });
    const req = new OpenApi.OpenApiRequest(bodyNames.size
      ? { query: OpenApiUtil.query(q), body: OpenApiUtil.query(b) }
      : { query: OpenApiUtil.query(q) });
    const runtime = new Util.RuntimeOptions({ autoretry: false, readTimeout: CALL_TIMEOUT_MS, connectTimeout: 5000 });
    try {
      const r = await client.callApi(p, req, runtime);
      return { ok: true, status: r.statusCode, body: r.body };
    } catch (e) {
      if (!isApiError(e)) throw e;
      const body = e.data ? { ...e.data } : null;
      const status = body ? Number(body.statusCode) : undefined;
      if (body) delete body.statusCode; // added by the client, not sent by the server
      return {
        ok: false,
        status,
        code: e.code,
        message: body ? body.Message : e.message,
        body,
        accessDeniedDetail: e.accessDeniedDetail,
      };
    }
  }
  throw new Error(`unknown client kind ${kind}`);
}

const CLIENT_KINDS = ['popcore-get', 'popcore-post', 'oac-v3', 'oac-v2'];

// ---------------------------------------------------------------- raw HTTP

/**
 * Send one HTTP request on a fresh connection and read the whole answer.
 * req: {port, method, path, headers, body (string|Buffer), chunked}
 * Resolves to {status, headers, text, body (parsed JSON or null)};
 * rejects on transport errors (err.code ECONNRESET, EPIPE, ...).
 */
function sendRaw(req) {
  return new Promise((resolve, reject) => {
    const body = req.body === undefined || req.body === null ? null
      : (Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body, 'utf8'));
    const headers = { ...req.headers };
    if (body && !req.chunked && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) {
      headers['content-length'] = String(body.length);
    }
    if (req.chunked) headers['transfer-encoding'] = 'chunked';
    const r = http.request({
      host: HOST, port: req.port, method: req.method, path: req.path, headers,
      agent: false, setHost: !Object.keys(headers).some((h) => h.toLowerCase() === 'host'),
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, text, body: json });
      });
      res.on('error', reject);
    });
    r.setTimeout(req.timeoutMs || CALL_TIMEOUT_MS, () => r.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' })));
    r.on('error', reject);
    if (req.onFinish) r.on('finish', req.onFinish);
    if (body) {
      if (req.chunked && body.length > 1) {
        const mid = Math.floor(body.length / 2); // really two chunks
        r.write(body.subarray(0, mid));
        r.end(body.subarray(mid));
      } else {
        r.end(body);
      }
    } else {
      r.end();
    }
  });
}

function withReplay(req) {
  const send = () => sendRaw(req).then((res) => ({ ...res, request: req, replay: send }));
  return send;
}

/**
 * Build, sign (hbr-api.md §3.3) and send a V1 (HMAC-SHA1) request.
 *   params  API params incl. Action (JS arrays are flattened to K.1...)
 *   opts.method     'GET' (default) | 'POST'
 *   opts.where      'query' | 'body' | 'split' (default: GET query, POST body)
 *   opts.bodyKeys   with 'split': names that go to the body (rest in query)
 *   opts.mutate(p)  edit the common+API params before signing
 *   opts.signOnly(name) -> bool  sign only these params (default all)
 *   opts.tamper(p)  edit params after signing (Signature included)
 *   opts.secret     sign with this secret instead of creds.AccessKeySecret
 *   opts.headers    extra headers;  opts.chunked  send the body chunked
 *   opts.timeoutMs  give up waiting for the answer (err.code ETIMEDOUT)
 *   opts.send=false returns the prepared request instead of sending it
 * Resolves to {status, headers, text, body, request, replay()}.
 */
async function rawV1(endpoint, creds, params, opts = {}) {
  const { port, hostPort } = endpointOf(endpoint);
  const method = opts.method || 'GET';
  const p = {
    Format: 'JSON',
    Version: API_VERSION,
    AccessKeyId: creds.AccessKeyId,
    SignatureMethod: 'HMAC-SHA1',
    SignatureVersion: '1.0',
    SignatureNonce: nonce(),
    Timestamp: isoNoMillis(),
    ...flatten(params),
  };
  if (opts.mutate) opts.mutate(p);
  const signed = Object.keys(p).filter((k) => k !== 'Signature' && (!opts.signOnly || opts.signOnly(k))).sort()
    .map((k) => [k, p[k]]);
  const sts = `${method}&${enc('/')}&${enc(formString(signed))}`;
  p.Signature = crypto.createHmac('sha1', (opts.secret ?? creds.AccessKeySecret) + '&').update(sts).digest('base64');
  if (opts.tamper) opts.tamper(p);

  const where = opts.where || (method === 'GET' ? 'query' : 'body');
  const bodyKeys = new Set(opts.bodyKeys || []);
  const inBody = (k) => where === 'body' || (where === 'split' && bodyKeys.has(k));
  const qPairs = Object.entries(p).filter(([k]) => !inBody(k));
  const bPairs = Object.entries(p).filter(([k]) => inBody(k));
  const headers = { host: hostPort, ...(opts.headers || {}) };
  let body = null;
  if (bPairs.length) {
    body = formString(bPairs);
    headers['content-type'] = 'application/x-www-form-urlencoded';
  }
  const req = {
    port, method, path: '/' + (qPairs.length ? '?' + formString(qPairs) : ''),
    headers, body, chunked: !!opts.chunked, onFinish: opts.onFinish, timeoutMs: opts.timeoutMs, stringToSign: sts,
  };
  if (opts.send === false) return req;
  return withReplay(req)();
}

/**
 * Build, sign (hbr-api.md §3.4, ACS3-HMAC-SHA256) and send a V3 request.
 *   spec.action / spec.version  go in x-acs-action / x-acs-version (omit with null)
 *   spec.query   URL query params;  spec.body  form params object, or a raw string/Buffer
 *   opts.method  'POST' (default)
 *   opts.omitSigned  header names to leave out of SignedHeaders (still sent)
 *   opts.contentSha256  value for x-acs-content-sha256 (default: the real body hash)
 *   opts.date / opts.nonce  x-acs-date / x-acs-signature-nonce values (null = omit header)
 *   opts.secret  sign with another secret;  opts.credential  Credential= value
 *   opts.tamper(req)  edit the prepared request after signing
 *   opts.send=false  return the prepared request
 */
async function rawV3(endpoint, creds, spec = {}, opts = {}) {
  const { port, hostPort } = endpointOf(endpoint);
  const method = opts.method || 'POST';
  const version = spec.version === undefined ? API_VERSION : spec.version;
  const query = flatten(spec.query || {});
  let bodyBuf = Buffer.alloc(0);
  let contentType = null;
  if (spec.body !== undefined && spec.body !== null) {
    if (typeof spec.body === 'string' || Buffer.isBuffer(spec.body)) bodyBuf = Buffer.from(spec.body);
    else bodyBuf = Buffer.from(formString(Object.entries(flatten(spec.body))));
    contentType = 'application/x-www-form-urlencoded';
  }
  const headers = { host: hostPort };
  if (spec.action !== null && spec.action !== undefined) headers['x-acs-action'] = spec.action;
  if (version !== null) headers['x-acs-version'] = version;
  const date = opts.date === undefined ? isoNoMillis() : opts.date;
  if (date !== null) headers['x-acs-date'] = date;
  const n = opts.nonce === undefined ? nonce() : opts.nonce;
  if (n !== null) headers['x-acs-signature-nonce'] = n;
  headers['x-acs-content-sha256'] = opts.contentSha256 ?? crypto.createHash('sha256').update(bodyBuf).digest('hex');
  if (contentType) headers['content-type'] = contentType;
  Object.assign(headers, opts.headers || {});

  const omit = new Set((opts.omitSigned || []).map((h) => h.toLowerCase()));
  const signedNames = Object.keys(headers).map((h) => h.toLowerCase())
    .filter((h) => (h === 'host' || h === 'content-type' || h.startsWith('x-acs-')) && !omit.has(h)).sort();
  const canonHeaders = signedNames.map((h) => `${h}:${String(headers[h]).trim()}\n`).join('');
  const canonQuery = Object.keys(query).sort().map((k) => `${k}=${enc(query[k])}`).join('&');
  const creq = [method, '/', canonQuery, canonHeaders, signedNames.join(';'), headers['x-acs-content-sha256']].join('\n');
  const sts = 'ACS3-HMAC-SHA256\n' + crypto.createHash('sha256').update(creq).digest('hex');
  const sig = crypto.createHmac('sha256', opts.secret ?? creds.AccessKeySecret).update(sts).digest('hex');
  headers.authorization = `ACS3-HMAC-SHA256 Credential=${opts.credential ?? creds.AccessKeyId},` +
    `SignedHeaders=${signedNames.join(';')},Signature=${sig}`;
  headers.accept = 'application/json';

  const qs = formString(Object.entries(query));
  const req = {
    port, method, path: '/' + (qs ? '?' + qs : ''), headers,
    body: bodyBuf.length ? bodyBuf : null, chunked: !!opts.chunked, onFinish: opts.onFinish,
    timeoutMs: opts.timeoutMs, canonicalRequest: creq,
  };
  if (opts.tamper) opts.tamper(req);
  if (opts.send === false) return req;
  return withReplay(req)();
}

module.exports = {
  API_VERSION,
  CLIENT_KINDS,
  REPO,
  admin,
  call,
  clientPath,
  enc,
  flatten,
  formString,
  freePort,
  hbrdPath,
  isoNoMillis,
  makeTempDir,
  nonce,
  ram,
  rawV1,
  rawV3,
  seed,
  sendRaw,
  sleep,
  startServer,
};
