// The HTTP/1.1 layer itself (src/http): framing, keep-alive, pipelining,
// Expect: 100-continue, HTTP/1.0, malformed and oversize requests, and a
// graceful stop. Raw sockets, so nothing a client library smooths over
// goes untested.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');

const { rawV1, startServer } = require('./lib/hbr');

const T = { timeout: 30_000 };

// Send raw bytes, collect what comes back until the server closes or
// `until(text)` holds; resolves { text, closed }.
function exchange(port, chunks, { until, timeoutMs = 10_000, gapMs = 0 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let text = '';
    let done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ text, closed });
    };
    const timer = setTimeout(() => (done ? null : (done = true, sock.destroy(), reject(new Error(`no answer in ${timeoutMs} ms; got: ${text.slice(0, 300)}`)))), timeoutMs);
    sock.on('data', (d) => {
      text += d.toString('latin1');
      if (until && until(text)) finish(false);
    });
    sock.on('close', () => finish(true));
    sock.on('error', (e) => (done ? null : (done = true, clearTimeout(timer), reject(e))));
    sock.on('connect', async () => {
      for (const c of chunks) {
        sock.write(c);
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
  });
}

// The responses in text, each { status, headers, body } (bodies by
// Content-Length; a 1xx has none).
function responses(text) {
  const out = [];
  let rest = text;
  while (rest.length) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const lines = rest.slice(0, end).split('\r\n');
    const status = Number(lines[0].split(' ')[1]);
    const headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    const len = status < 200 ? 0 : Number(headers['content-length'] || 0);
    const body = rest.slice(end + 4, end + 4 + len);
    out.push({ status, headers, body, json: len ? JSON.parse(body) : null });
    rest = rest.slice(end + 4 + len);
  }
  return out;
}

const complete = (n) => (text) => responses(text).filter((r) => r.status >= 200 && r.json).length >= n;

// A signed V1 request as raw bytes (GET or POST form).
async function rawBytes(srv, params, opts = {}) {
  const req = await rawV1(srv, srv.creds, params, { ...opts, send: false });
  const headers = { ...req.headers };
  if (req.body) headers['content-length'] = String(Buffer.byteLength(req.body));
  for (const [k, v] of Object.entries(opts.extraHeaders || {})) headers[k] = v;
  const head = `${req.method} ${req.path} ${opts.version || 'HTTP/1.1'}\r\n` +
    Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n') + '\r\n\r\n';
  return { head, body: req.body || '' };
}

describe('HTTP/1.1 layer', { timeout: 120_000 }, () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(() => srv && srv.kill9());

  test('two pipelined requests in one write get two answers, in order, on one connection', T, async () => {
    const a = await rawBytes(srv, { Action: 'DescribeVaults', PageSize: 1 });
    const b = await rawBytes(srv, { Action: 'DescribeVaults', PageSize: 2 });
    const { text, closed } = await exchange(srv.port, [a.head + b.head], { until: complete(2) });
    const rs = responses(text);
    assert.equal(closed, false, 'the connection stays open');
    assert.equal(rs.length, 2, text.slice(0, 400));
    assert.deepEqual(rs.map((r) => [r.status, r.json.Success, r.json.PageSize]), [[200, true, 1], [200, true, 2]]);
    assert.notEqual(rs[0].json.RequestId, rs[1].json.RequestId);
  });

  test('a request split into single bytes is answered', T, async () => {
    const a = await rawBytes(srv, { Action: 'DescribeVaults' }, { method: 'POST' });
    const bytes = (a.head + a.body).split('');
    const { text } = await exchange(srv.port, bytes.slice(0, 40).concat([bytes.slice(40).join('')]), { until: complete(1), gapMs: 2 });
    const [r] = responses(text);
    assert.equal(r.status, 200, text.slice(0, 300));
    assert.equal(r.json.Success, true);
  });

  test('Expect: 100-continue gets "100 Continue" before the body is sent', T, async () => {
    const a = await rawBytes(srv, { Action: 'DescribeVaults' }, { method: 'POST', extraHeaders: { expect: '100-continue' } });
    const first = await exchange(srv.port, [a.head], { until: (t) => t.includes('\r\n\r\n') });
    assert.match(first.text, /^HTTP\/1\.1 100 Continue\r\n\r\n/, first.text.slice(0, 100));
    const { text } = await exchange(srv.port, [a.head, a.body], { until: complete(1), gapMs: 50 });
    const rs = responses(text);
    assert.equal(rs[0].status, 100);
    assert.equal(rs[1].status, 200, text.slice(0, 300));
    assert.equal(rs[1].json.Success, true);
  });

  test('a chunked form body with an extension and a trailer is read', T, async () => {
    const a = await rawBytes(srv, { Action: 'DescribeVaults' }, { method: 'POST' });
    const head = a.head.replace(/content-length: \d+\r\n/i, 'transfer-encoding: chunked\r\n');
    const half = Math.floor(a.body.length / 2);
    const body = `${half.toString(16)};x=y\r\n${a.body.slice(0, half)}\r\n` +
      `${(a.body.length - half).toString(16)}\r\n${a.body.slice(half)}\r\n0\r\nx-trailer: 1\r\n\r\n`;
    const { text } = await exchange(srv.port, [head, body], { until: complete(1) });
    const [r] = responses(text);
    assert.equal(r.status, 200, text.slice(0, 300));
    assert.equal(r.json.Success, true);
  });

  test('HTTP/1.0 is answered and closed; with keep-alive it stays open', T, async () => {
    const a = await rawBytes(srv, { Action: 'DescribeVaults' }, { version: 'HTTP/1.0' });
    const one = await exchange(srv.port, [a.head]);
    assert.equal(one.closed, true);
    const [r] = responses(one.text);
    assert.equal(r.status, 200);
    assert.equal(r.headers.connection, 'close');
    const b = await rawBytes(srv, { Action: 'DescribeVaults' }, { version: 'HTTP/1.0', extraHeaders: { connection: 'keep-alive' } });
    const two = await exchange(srv.port, [b.head], { until: complete(1) });
    assert.equal(two.closed, false);
    assert.equal(responses(two.text)[0].headers.connection, 'keep-alive');
  });

  test('Connection: close is honoured', T, async () => {
    const a = await rawBytes(srv, { Action: 'DescribeVaults' }, { extraHeaders: { connection: 'close' } });
    const { text, closed } = await exchange(srv.port, [a.head]);
    assert.equal(closed, true);
    assert.equal(responses(text)[0].status, 200);
  });

  for (const [what, bytes] of [
    ['a malformed request line', 'GET /\r\n\r\n'],
    ['a header without a colon', 'GET / HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n'],
    ['Content-Length and chunked together', 'POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['a bad chunk size', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
  ]) {
    test(`${what}: 400 with an error envelope, then the connection closes`, T, async () => {
      const { text, closed } = await exchange(srv.port, [bytes]);
      const [r] = responses(text);
      assert.equal(r.status, 400, text.slice(0, 300));
      assert.equal(r.json.Success, false);
      assert.equal(r.json.Code, 'InvalidParameter');
      assert.match(r.json.Message, /malformed HTTP request/);
      assert.match(r.json.RequestId, /^[0-9A-F-]{36}$/);
      assert.equal(closed, true);
    });
  }

  test('a head past 128 KiB is answered 413 and closed; the server goes on', T, async () => {
    const { text, closed } = await exchange(srv.port, [`GET / HTTP/1.1\r\nx-pad: ${'h'.repeat(130 * 1024)}\r\n\r\n`]);
    const [r] = responses(text);
    assert.equal(r.status, 413, text.slice(0, 300));
    assert.equal(r.json.Code, 'RequestEntityTooLarge');
    assert.equal(closed, true);
    const a = await rawBytes(srv, { Action: 'DescribeVaults' });
    assert.equal(responses((await exchange(srv.port, [a.head], { until: complete(1) })).text)[0].status, 200);
  });

  // The server stops reading a refused request, so the client's bytes
  // still in flight would make a plain close() send a reset that can
  // overtake the answer. These send far more than the kernel buffers
  // after what gets refused, so the answer must survive that.
  test('a 413 and a 400 reach a client that is still sending (lingering close)', T, async () => {
    const junk = 'j'.repeat(256 * 1024);
    for (let i = 0; i < 3; i++) {
      const big = await exchange(srv.port, [`GET / HTTP/1.1\r\nx-pad: ${'h'.repeat(130 * 1024)}`, junk, junk, junk]);
      assert.equal(responses(big.text)[0]?.status, 413, big.text.slice(0, 300));
      assert.equal(big.closed, true);
      const bad = await exchange(srv.port, ['GARBAGE\r\n\r\n', junk, junk, junk]);
      assert.equal(responses(bad.text)[0]?.status, 400, bad.text.slice(0, 300));
      assert.equal(responses(bad.text)[0].json.Success, false);
    }
  });

  test('a connection lingering after an error does not hold up a stop', T, async () => {
    const own = await startServer();
    try {
      const sock = net.connect({ port: own.port, host: '127.0.0.1', allowHalfOpen: true });
      let text = '';
      sock.on('data', (d) => { text += d.toString('latin1'); });
      sock.on('error', () => {});
      await new Promise((r) => sock.on('connect', r));
      sock.write('GARBAGE\r\n\r\n');
      // Half-open on purpose: the server has answered and shut its side;
      // this client never closes its own.
      for (let i = 0; i < 200 && !text.includes('\r\n\r\n'); i++) await new Promise((r) => setTimeout(r, 10));
      assert.match(text, /^HTTP\/1\.1 400 /);
      assert.equal(await own.stop('SIGTERM'), 0, 'clean exit');
      sock.destroy();
    } finally {
      own.kill9();
    }
  });

  test('a GET with 1000 parameters is answered, 1001 is 400', T, async () => {
    // The query of 1000 parameters is ~12 KiB; what counts is the cap.
    // rawV1 adds Format, Version, AccessKeyId, SignatureMethod,
    // SignatureVersion, SignatureNonce, Timestamp and Signature.
    const params = { Action: 'DescribeVaults' };
    for (let i = 1; i <= 1000 - 9; i++) params[`P${i}`] = 'x';
    const ok = await rawV1(srv, srv.creds, params, { timeoutMs: 10_000 });
    assert.equal(ok.status, 200, ok.text.slice(0, 300));
    params.P9999 = 'x';
    const bad = await rawV1(srv, srv.creds, params, { timeoutMs: 10_000 });
    assert.equal(bad.status, 400, bad.text.slice(0, 300));
  });

  test('SIGTERM lets a request that is being read finish, then exits 0', T, async () => {
    const own = await startServer();
    try {
      const a = await rawBytes(own, { Action: 'DescribeVaults' }, { method: 'POST' });
      const pending = exchange(own.port, [a.head, a.body], { until: complete(1), gapMs: 300 });
      await new Promise((r) => setTimeout(r, 100)); // the head is in, the body not yet
      const stopped = own.stop('SIGTERM');
      const { text } = await pending;
      assert.equal(responses(text)[0].status, 200, text.slice(0, 300));
      assert.equal(await stopped, 0, 'clean exit');
    } finally {
      await own.kill9();
    }
  });
});
