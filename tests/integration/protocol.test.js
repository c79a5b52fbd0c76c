// Wire protocol (hbr-api.md §3): methods, parameter sources, Action and
// Version, Format, list parameters, envelopes.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');

const { CLIENT_KINDS, rawV1, rawV3, startServer } = require('./lib/hbr');
const {
  Api, assertError, assertSuccessEnvelope, installClients, uniq,
} = require('./lib/api');

const T = { timeout: 30_000 };

describe('protocol', { timeout: 120_000 }, () => {
  let srv;
  let api;
  before(async () => {
    srv = await startServer();
    api = new Api(srv);
  });
  after(() => srv && srv.kill9());

  for (const kind of CLIENT_KINDS) {
    test(`success envelope through ${kind}`, T, async () => {
      const res = await api.with(kind).call('DescribeVaults', {});
      const b = assertSuccessEnvelope(res, `DescribeVaults via ${kind}`);
      assert.ok(Number.isInteger(b.TotalCount), 'TotalCount is a number');
    });
  }

  test('answers JSON with a JSON content type', T, async () => {
    const res = await rawV1(srv, srv.creds, { Action: 'DescribeVaults' });
    assertSuccessEnvelope(res, 'raw GET');
    assert.match(String(res.headers['content-type']), /^application\/json/i, 'Content-Type');
  });

  test('GET with every parameter in the query', T, async () => {
    assertSuccessEnvelope(await rawV1(srv, srv.creds, { Action: 'DescribeVaults', PageSize: 5 }), 'GET');
  });

  test('POST with every parameter in a form body', T, async () => {
    const res = await rawV1(srv, srv.creds, { Action: 'DescribeVaults', PageSize: 5 }, { method: 'POST' });
    const b = assertSuccessEnvelope(res, 'POST body');
    assert.equal(b.PageSize, 5, 'PageSize read from the body');
  });

  test('POST with parameters split between query and body are merged', T, async () => {
    const res = await rawV1(srv, srv.creds, { Action: 'DescribeVaults', PageSize: 7 },
      { method: 'POST', where: 'split', bodyKeys: ['PageSize', 'Timestamp', 'Signature'] });
    const b = assertSuccessEnvelope(res, 'POST split');
    assert.equal(b.PageSize, 7, 'PageSize read from the body while Action is in the query');
  });

  test('POST with a chunked form body', T, async () => {
    const res = await rawV1(srv, srv.creds, { Action: 'DescribeVaults', PageSize: 3 }, { method: 'POST', chunked: true });
    const b = assertSuccessEnvelope(res, 'POST chunked');
    assert.equal(b.PageSize, 3, 'PageSize read from the chunked body');
  });

  test('V3 with a chunked form body (as openapi-client sends it)', T, async () => {
    const res = await rawV3(srv, srv.creds, { action: 'DescribeVaults', body: { PageSize: 4 } }, { chunked: true });
    const b = assertSuccessEnvelope(res, 'V3 chunked');
    assert.equal(b.PageSize, 4, 'PageSize read from the chunked body');
  });

  test('Action and Version may come from x-acs-action / x-acs-version headers (V1)', T, async () => {
    const res = await rawV1(srv, srv.creds, {}, {
      mutate: (p) => { delete p.Version; },
      headers: { 'x-acs-action': 'DescribeVaults', 'x-acs-version': '2017-09-08' },
    });
    assertSuccessEnvelope(res, 'V1 with Action/Version in headers');
  });

  test('oac-v3 sends Action/Version only in headers and params in the body', T, async () => {
    const res = await api.with('oac-v3').call('DescribeVaults', { PageSize: 6 }, { body: ['PageSize'] });
    const b = assertSuccessEnvelope(res, 'oac-v3 body');
    assert.equal(b.PageSize, 6);
  });

  test('an unsupported Version is 400 InvalidVersion', T, async () => {
    const v1 = await rawV1(srv, srv.creds, { Action: 'DescribeVaults' }, { mutate: (p) => { p.Version = '2016-01-01'; } });
    assertError(v1, 400, 'InvalidVersion', 'V1 Version=2016-01-01');
    const v3 = await rawV3(srv, srv.creds, { action: 'DescribeVaults', version: '2099-12-31' });
    assertError(v3, 400, 'InvalidVersion', 'V3 x-acs-version=2099-12-31');
  });

  for (const format of ['JSON', 'json', 'Json']) {
    test(`Format=${format} is accepted`, T, async () => {
      const res = await rawV1(srv, srv.creds, { Action: 'DescribeVaults' }, { mutate: (p) => { p.Format = format; } });
      assertSuccessEnvelope(res, `Format=${format}`);
    });
  }

  test('the answer is JSON whatever Format asks for', T, async () => {
    const res = await rawV1(srv, srv.creds, { Action: 'DescribeVaults' }, { mutate: (p) => { p.Format = 'XML'; } });
    assert.ok(res.body && typeof res.body === 'object', `body is JSON: ${res.text.slice(0, 200)}`);
    assert.ok('RequestId' in res.body && 'Code' in res.body, 'envelope fields present');
  });

  test('an unknown Action is 404 InvalidAction.NotFound', T, async () => {
    assertError(await api.call('DescribeNothing', {}), 404, 'InvalidAction.NotFound', 'pop-core');
    assertError(await api.with('oac-v3').call('DescribeNothing', {}), 404, 'InvalidAction.NotFound', 'oac-v3');
    assertError(await rawV1(srv, srv.creds, { Action: 'DescribeNothing' }), 404, 'InvalidAction.NotFound', 'raw V1');
  });

  test('error envelope carries RequestId, HostId, Code, Message and Success=false', T, async () => {
    const res = await rawV1(srv, srv.creds, { Action: 'NoSuchAction' });
    const b = assertError(res, 404, 'InvalidAction.NotFound');
    assert.match(String(res.headers['content-type']), /^application\/json/i, 'error Content-Type');
    assert.notEqual(b.Code, '200');
  });

  test('unknown extra parameters are ignored', T, async () => {
    const res = await api.call('DescribeVaults', { ClientToken: 'abc', SomethingNew: 'x', 'Odd.1.Name': 'y' });
    assertSuccessEnvelope(res, 'DescribeVaults with unknown params');
  });

  test('a missing required parameter is 400 Missing<Name>', T, async () => {
    assertError(await api.call('CreateVault', { VaultRegionId: 'cn-hangzhou' }), 400, 'MissingVaultName');
    assertError(await api.call('CreateVault', { VaultName: uniq('v') }), 400, 'MissingVaultRegionId');
    assertError(await api.call('DeleteBackupClientResource', {}), 400, 'MissingClientIds');
  });

  for (const bad of ['0', '100', 'abc', '-1', '1.5']) {
    test(`PageSize=${bad} is 400 InvalidPageSize`, T, async () => {
      assertError(await api.call('DescribeVaults', { PageSize: bad }), 400, 'InvalidPageSize');
    });
  }

  describe('list parameters', () => {
    let inst;
    let ids;
    before(async () => {
      inst = [uniq('i-lp'), uniq('i-lp'), uniq('i-lp')];
      ({ clientIds: ids } = await installClients(api, inst));
    });

    const pick = (b) => b.Clients.map((c) => c.ClientId).sort();

    test('as one JSON string', T, async () => {
      const b = await api.ok('DescribeBackupClients', { ClientType: 'ECS_CLIENT', ClientIds: JSON.stringify(ids.slice(0, 2)) });
      assert.deepEqual(pick(b), ids.slice(0, 2).sort());
    });

    test('flattened as Name.1, Name.2 (pop-core with a JS array)', T, async () => {
      const b = await api.ok('DescribeBackupClients', { ClientType: 'ECS_CLIENT', ClientIds: ids.slice(0, 2) });
      assert.deepEqual(pick(b), ids.slice(0, 2).sort());
    });

    test('flattened through the openapi-client body', T, async () => {
      const res = await api.with('oac-v3').call('DescribeBackupClients',
        { ClientType: 'ECS_CLIENT', InstanceIds: inst.slice(1) }, { body: ['InstanceIds'] });
      const b = assertSuccessEnvelope(res);
      assert.deepEqual(pick(b), ids.slice(1).sort());
    });

    test('as a JSON string in the body (V3), as the product SDKs send DescribeBackupClients', T, async () => {
      const res = await rawV3(srv, srv.creds, {
        action: 'DescribeBackupClients', query: { ClientType: 'ECS_CLIENT' },
        body: { ClientIds: JSON.stringify([ids[2]]) },
      }, { chunked: true });
      const b = assertSuccessEnvelope(res);
      assert.deepEqual(pick(b), [ids[2]]);
    });
  });

  test('several requests on one keep-alive connection', T, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set();
    try {
      for (let i = 0; i < 5; i++) {
        const req = await rawV1(srv, srv.creds, { Action: 'DescribeVaults' }, { send: false });
        const res = await new Promise((resolve, reject) => {
          const r = http.request({ host: '127.0.0.1', port: srv.port, method: 'GET', path: req.path, headers: req.headers, agent }, (x) => {
            sockets.add(x.socket);
            let text = '';
            x.on('data', (c) => { text += c; });
            x.on('end', () => resolve({ status: x.statusCode, headers: x.headers, body: JSON.parse(text) }));
          });
          r.setTimeout(10_000, () => r.destroy(new Error('timeout')));
          r.on('error', reject);
          r.end();
        });
        assertSuccessEnvelope(res, `keep-alive request ${i + 1}`);
      }
      assert.equal(sockets.size, 1, 'all five requests used the same connection');
    } finally {
      agent.destroy();
    }
  });
});
