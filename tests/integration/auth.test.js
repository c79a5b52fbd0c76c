// Authentication errors (hbr-api.md §3.3, §3.4, §5.1), driven by
// hand-signed requests that the tests can tamper with.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { call, isoNoMillis, makeTempDir, ram, rawV1, rawV3, sendRaw, startServer } = require('./lib/hbr');
const { Api, assertError, assertSuccessEnvelope, fakeId, uniq, writePolicy } = require('./lib/api');

const T = { timeout: 30_000 };
const MIN = 60 * 1000;
const at = (offsetMs) => isoNoMillis(new Date(Date.now() + offsetMs));
const ACTION = { Action: 'DescribeVaults' };

describe('authentication', { timeout: 240_000 }, () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(() => srv && srv.kill9());

  describe('the test signers are right (sanity for every negative test below)', () => {
    test('V1 GET', T, async () => assertSuccessEnvelope(await rawV1(srv, srv.creds, ACTION), 'V1 GET'));
    test('V1 POST', T, async () => assertSuccessEnvelope(await rawV1(srv, srv.creds, ACTION, { method: 'POST' }), 'V1 POST'));
    test('V1 with characters that need encoding', T, async () => {
      const res = await rawV1(srv, srv.creds, { ...ACTION, Note: "a b*c~d!e'(f)/ü+=&%" });
      assertSuccessEnvelope(res, 'V1 with odd characters');
    });
    test('V3 empty body', T, async () => assertSuccessEnvelope(await rawV3(srv, srv.creds, { action: 'DescribeVaults', query: { PageSize: 2 } }), 'V3'));
    test('V3 form body', T, async () => assertSuccessEnvelope(await rawV3(srv, srv.creds, { action: 'DescribeVaults', body: { PageSize: 2 } }), 'V3 body'));
  });

  describe('SignatureDoesNotMatch (400)', () => {
    test('V1 signed with the wrong secret', T, async () => {
      assertError(await rawV1(srv, srv.creds, ACTION, { secret: 'wrong' }), 400, 'SignatureDoesNotMatch');
    });
    test('V1 parameter changed after signing', T, async () => {
      const res = await rawV1(srv, srv.creds, { ...ACTION, PageSize: 5 }, { tamper: (p) => { p.PageSize = '6'; } });
      assertError(res, 400, 'SignatureDoesNotMatch');
    });
    test('V1 parameter added after signing', T, async () => {
      const res = await rawV1(srv, srv.creds, ACTION, { tamper: (p) => { p.PageSize = '6'; } });
      assertError(res, 400, 'SignatureDoesNotMatch');
    });
    test('V1 POST signed as GET', T, async () => {
      const req = await rawV1(srv, srv.creds, ACTION, { method: 'GET', send: false });
      const [, qs] = req.path.split('?');
      const res = await sendRaw({ ...req, method: 'POST', path: '/', body: qs,
        headers: { ...req.headers, 'content-type': 'application/x-www-form-urlencoded' } });
      assertError(res, 400, 'SignatureDoesNotMatch');
    });
    test('V1 that signs only the query while parameters travel in the body is refused', T, async () => {
      const res = await rawV1(srv, srv.creds, { ...ACTION, PageSize: 3 }, {
        method: 'POST', where: 'split', bodyKeys: ['PageSize'], signOnly: (k) => k !== 'PageSize',
      });
      assertError(res, 400, 'SignatureDoesNotMatch');
    });
    test('V3 signed with the wrong secret', T, async () => {
      assertError(await rawV3(srv, srv.creds, { action: 'DescribeVaults' }, { secret: 'wrong' }), 400, 'SignatureDoesNotMatch');
    });
    test('V3 query changed after signing', T, async () => {
      const res = await rawV3(srv, srv.creds, { action: 'DescribeVaults', query: { PageSize: 2 } },
        { tamper: (r) => { r.path = r.path.replace('PageSize=2', 'PageSize=3'); } });
      assertError(res, 400, 'SignatureDoesNotMatch');
    });
    test('V3 body whose x-acs-content-sha256 does not match', T, async () => {
      const res = await rawV3(srv, srv.creds, { action: 'DescribeVaults', body: { PageSize: 2 } },
        { tamper: (r) => { r.body = Buffer.from('PageSize=3'); } });
      assertError(res, 400, 'SignatureDoesNotMatch');
    });
    test('V3 x-acs-content-sha256 claims the empty body while a body is sent', T, async () => {
      const res = await rawV3(srv, srv.creds, { action: 'DescribeVaults', body: { PageSize: 2 } },
        { contentSha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' });
      assertError(res, 400, 'SignatureDoesNotMatch');
    });
    test('through openapi-client (V3) and pop-core with a wrong secret', T, async () => {
      const bad = { ...srv.creds, AccessKeySecret: 'not-the-secret' };
      for (const kind of ['oac-v3', 'oac-v2', 'popcore-get']) {
        assertError(await call(kind, srv, bad, 'DescribeVaults', {}), 400, 'SignatureDoesNotMatch', kind);
      }
    });
  });

  describe('IncompleteSignature (400)', () => {
    test('V1 without SignatureNonce', T, async () => {
      const res = await rawV1(srv, srv.creds, ACTION, { mutate: (p) => { delete p.SignatureNonce; } });
      assertError(res, 400, 'IncompleteSignature');
    });
    test('V3 without x-acs-date in SignedHeaders', T, async () => {
      const res = await rawV3(srv, srv.creds, { action: 'DescribeVaults' }, { omitSigned: ['x-acs-date'] });
      assertError(res, 400, 'IncompleteSignature');
    });
    test('V3 without x-acs-signature-nonce in SignedHeaders', T, async () => {
      const res = await rawV3(srv, srv.creds, { action: 'DescribeVaults' }, { omitSigned: ['x-acs-signature-nonce'] });
      assertError(res, 400, 'IncompleteSignature');
    });
    test('no signature at all is refused', T, async () => {
      const res = await sendRaw({ port: srv.port, method: 'GET', path: '/?Action=DescribeVaults&Version=2017-09-08&Format=JSON', headers: {} });
      assertError(res, null, null, 'unsigned request');
      assert.ok(res.status === 400 || res.status === 401 || res.status === 403, `4xx auth error, got ${res.status}`);
    });
  });

  describe('access keys', () => {
    test('an unknown AccessKeyId is 404 InvalidAccessKeyId.NotFound (V1 and V3)', T, async () => {
      const nobody = { AccessKeyId: 'LTAI' + uniq('nobody'), AccessKeySecret: 'x' };
      assertError(await rawV1(srv, nobody, ACTION), 404, 'InvalidAccessKeyId.NotFound', 'V1');
      assertError(await rawV3(srv, nobody, { action: 'DescribeVaults' }), 404, 'InvalidAccessKeyId.NotFound', 'V3');
      assertError(await call('oac-v3', srv, nobody, 'DescribeVaults', {}), 404, 'InvalidAccessKeyId.NotFound', 'oac-v3');
    });

    test('a disabled key is 400 InvalidAccessKeyId.Inactive, a deleted one 404', T, async () => {
      const polDir = makeTempDir('hbr-pol-');
      const user = uniq('keyuser');
      ram(srv.dataDir, 'create-user', user);
      ram(srv.dataDir, 'attach-policy', user, writePolicy(polDir, 'all-hbr', [{ Effect: 'Allow', Action: 'hbr:*', Resource: '*' }]));
      const key = ram(srv.dataDir, 'create-access-key', user);
      assert.ok(key.AccessKeyId && key.AccessKeySecret, `create-access-key output: ${JSON.stringify(key)}`);
      const api = new Api(srv, key);
      await api.ok('DescribeVaults');

      ram(srv.dataDir, 'disable-access-key', key.AccessKeyId);
      assertError(await api.call('DescribeVaults'), 400, 'InvalidAccessKeyId.Inactive', 'pop-core after disable');
      assertError(await rawV3(srv, key, { action: 'DescribeVaults' }), 400, 'InvalidAccessKeyId.Inactive', 'V3 after disable');

      ram(srv.dataDir, 'delete-access-key', key.AccessKeyId);
      assertError(await api.call('DescribeVaults'), 404, 'InvalidAccessKeyId.NotFound', 'after delete');
    });
  });

  describe('timestamps', () => {
    for (const [label, off] of [['16 min in the past', -16 * MIN], ['16 min in the future', 16 * MIN], ['one day old', -24 * 60 * MIN]]) {
      test(`V1 Timestamp ${label} is 400 InvalidTimeStamp.Expired`, T, async () => {
        const res = await rawV1(srv, srv.creds, ACTION, { mutate: (p) => { p.Timestamp = at(off); } });
        assertError(res, 400, 'InvalidTimeStamp.Expired');
      });
    }
    test('V3 x-acs-date 16 min in the past is 400 InvalidTimeStamp.Expired', T, async () => {
      assertError(await rawV3(srv, srv.creds, { action: 'DescribeVaults' }, { date: at(-16 * MIN) }), 400, 'InvalidTimeStamp.Expired');
    });
    for (const [label, off] of [['14 min in the past', -14 * MIN], ['14 min in the future', 14 * MIN]]) {
      test(`Timestamp ${label} is inside the 15 min window`, T, async () => {
        assertSuccessEnvelope(await rawV1(srv, srv.creds, ACTION, { mutate: (p) => { p.Timestamp = at(off); } }), 'V1');
        assertSuccessEnvelope(await rawV3(srv, srv.creds, { action: 'DescribeVaults' }, { date: at(off) }), 'V3');
      });
    }
    for (const bad of ['yesterday', '2026-11-27 20:32:52', '20261127T203252Z', '1764275572']) {
      test(`V1 Timestamp ${JSON.stringify(bad)} is 400 InvalidTimeStamp.Format`, T, async () => {
        const res = await rawV1(srv, srv.creds, ACTION, { mutate: (p) => { p.Timestamp = bad; } });
        assertError(res, 400, 'InvalidTimeStamp.Format');
      });
    }
    test('V3 x-acs-date "yesterday" is 400 InvalidTimeStamp.Format', T, async () => {
      assertError(await rawV3(srv, srv.creds, { action: 'DescribeVaults' }, { date: 'yesterday' }), 400, 'InvalidTimeStamp.Format');
    });
  });

  describe('replay protection', () => {
    test('the exact same V1 request twice: the second is 400 SignatureNonceUsed', T, async () => {
      const first = await rawV1(srv, srv.creds, ACTION);
      assertSuccessEnvelope(first, 'first');
      assertError(await first.replay(), 400, 'SignatureNonceUsed', 'replay');
    });
    test('the exact same V1 POST twice', T, async () => {
      const first = await rawV1(srv, srv.creds, ACTION, { method: 'POST' });
      assertSuccessEnvelope(first, 'first');
      assertError(await first.replay(), 400, 'SignatureNonceUsed', 'replay');
    });
    test('a fresh signature that reuses a nonce', T, async () => {
      const n = uniq('nonce');
      assertSuccessEnvelope(await rawV1(srv, srv.creds, ACTION, { mutate: (p) => { p.SignatureNonce = n; } }), 'first');
      const again = await rawV1(srv, srv.creds, { ...ACTION, PageSize: 2 }, { mutate: (p) => { p.SignatureNonce = n; } });
      assertError(again, 400, 'SignatureNonceUsed');
    });
    test('the exact same V3 request twice', T, async () => {
      const first = await rawV3(srv, srv.creds, { action: 'DescribeVaults', body: { PageSize: 2 } });
      assertSuccessEnvelope(first, 'first');
      assertError(await first.replay(), 400, 'SignatureNonceUsed', 'replay');
    });
    test('a replayed mutating call does not act twice', T, async () => {
      const first = await rawV1(srv, srv.creds, { Action: 'CreateVault', VaultName: uniq('replay'), VaultRegionId: 'cn-hangzhou' });
      assertSuccessEnvelope(first, 'CreateVault');
      const before = (await new Api(srv).ok('DescribeVaults', { PageSize: 99 })).TotalCount;
      assertError(await first.replay(), 400, 'SignatureNonceUsed', 'replayed CreateVault');
      const afterCount = (await new Api(srv).ok('DescribeVaults', { PageSize: 99 })).TotalCount;
      assert.equal(afterCount, before, 'no second vault');
    });

    for (const how of ['SIGTERM', 'SIGKILL']) {
      test(`a nonce stays used across a restart (${how})`, { timeout: 60_000 }, async () => {
        const s1 = await startServer();
        let s2;
        try {
          const v1 = await rawV1(s1, s1.creds, ACTION);
          assertSuccessEnvelope(v1, 'V1 before restart');
          const v3 = await rawV3(s1, s1.creds, { action: 'DescribeVaults' });
          assertSuccessEnvelope(v3, 'V3 before restart');
          if (how === 'SIGTERM') assert.equal(await s1.stop('SIGTERM'), 0, 'clean exit');
          else await s1.kill9();
          s2 = await startServer({ dataDir: s1.dataDir });
          assert.deepEqual(s2.creds, s1.creds, 'same root credentials after restart');
          // Same bytes, new port: only the Host header differs, and V1 does not sign it.
          const replayV1 = await sendRaw({ ...v1.request, port: s2.port, headers: { ...v1.request.headers, host: `127.0.0.1:${s2.port}` } });
          assertError(replayV1, 400, 'SignatureNonceUsed', 'V1 replay after restart');
          // V3 signs host, so re-sign with the same nonce for the new port.
          const v3nonce = v3.request.headers['x-acs-signature-nonce'];
          const replayV3 = await rawV3(s2, s2.creds, { action: 'DescribeVaults' }, { nonce: v3nonce });
          assertError(replayV3, 400, 'SignatureNonceUsed', 'V3 nonce reuse after restart');
        } finally {
          await s1.kill9();
          if (s2) await s2.kill9();
        }
      });
    }
  });

  describe('request limits', () => {
    // A server of their own: a limit bug (hang, crash) must not take the
    // other tests down with it.
    let lim;
    before(async () => { lim = await startServer(); });
    after(() => lim && lim.kill9());

    test('a body larger than 1 MiB is refused (>= 400) and the server stays up', T, async () => {
      const big = 'PageSize=2&Pad=' + 'a'.repeat(1024 * 1024 + 16);
      for (const chunked of [false, true]) {
        let res;
        try {
          res = await rawV3(lim, lim.creds, { action: 'DescribeVaults', body: big }, { chunked, timeoutMs: 10_000 });
        } catch (e) {
          // Refusing early and closing the connection while we still write is acceptable too.
          assert.ok(['ECONNRESET', 'EPIPE'].includes(e.code), `transport error ${e.code}: ${e.message}`);
        }
        if (res) assert.ok(res.status >= 400, `oversize body (chunked=${chunked}): HTTP ${res.status}`);
        assert.ok(lim.alive(), 'hbrd is still running');
        assertSuccessEnvelope(await rawV1(lim, lim.creds, ACTION), 'a normal call after the oversize body');
      }
    });

    test('headers past the 128 KiB cap are refused (>= 400); a 40 KiB signed query is not', T, async () => {
      const long = await rawV1(lim, lim.creds, { ...ACTION, Pad: 'q'.repeat(40 * 1024) }, { timeoutMs: 10_000 });
      assertSuccessEnvelope(long, 'a GET whose query is 40 KiB');
      let res;
      try {
        res = await sendRaw({ port: lim.port, method: 'GET', path: '/?Action=DescribeVaults',
          headers: { 'x-pad': 'h'.repeat(160 * 1024) }, timeoutMs: 10_000 });
      } catch (e) {
        // Closing the connection on an oversize header block is acceptable too.
        assert.ok(['ECONNRESET', 'EPIPE'].includes(e.code), `transport error ${e.code}: ${e.message}`);
      }
      if (res) assert.ok(res.status >= 400, `160 KiB header: HTTP ${res.status}`);
      assert.ok(lim.alive(), 'hbrd is still running');
      assertSuccessEnvelope(await rawV1(lim, lim.creds, ACTION), 'a normal call after the oversize header');
    });

    test('more than 1000 parameters is 400', T, async () => {
      const params = { ...ACTION };
      for (let i = 1; i <= 1001; i++) params[`P${i}`] = 'x';
      for (const method of ['GET', 'POST']) {
        let res;
        try {
          res = await rawV1(lim, lim.creds, params, { method, timeoutMs: 10_000 });
        } catch (e) {
          assert.fail(`${method} with 1001 params: no answer (${e.code || e.message})`);
        }
        assert.equal(res.status, 400, `${method} with 1001 params: HTTP ${res.status} ${res.text.slice(0, 200)}`);
        assert.equal(res.body && res.body.Success, false, 'error envelope');
      }
      assertSuccessEnvelope(await rawV1(lim, lim.creds, ACTION), 'a normal call afterwards');
    });
  });

  test('errors come before any effect: a bad signature on CreateVault creates nothing', T, async () => {
    const api = new Api(srv);
    const before = (await api.ok('DescribeVaults', { PageSize: 99 })).TotalCount;
    const res = await rawV1(srv, srv.creds, { Action: 'CreateVault', VaultName: uniq('bad'), VaultRegionId: 'cn-hangzhou' }, { secret: 'nope' });
    assertError(res, 400, 'SignatureDoesNotMatch');
    assert.equal((await api.ok('DescribeVaults', { PageSize: 99 })).TotalCount, before, 'vault count unchanged');
  });

  test('an unknown client id does not leak through a signature error', T, async () => {
    // Signature is checked before the action runs: a bad signature on a
    // valid-looking delete is SignatureDoesNotMatch, never ClientNotExist.
    const res = await rawV1(srv, srv.creds, { Action: 'DeleteBackupClientResource', ClientIds: JSON.stringify([fakeId('c')]) }, { secret: 'nope' });
    assertError(res, 400, 'SignatureDoesNotMatch');
  });
});
