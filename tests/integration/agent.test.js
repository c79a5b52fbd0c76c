// The agent's first slice (issue 4): hbr-client register activates the
// instance's client and keeps its own credential; hbr-client heartbeat
// reports the machine. Agent keys reach only the agent actions, and the
// agent actions only agent keys.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { clientPath, makeTempDir, ram, startServer } = require('./lib/hbr');
const {
  Api, ID, assertError, getClient, installClients, uniq, waitTask, writePolicy,
} = require('./lib/api');

const T = { timeout: 30_000 };
const CLIENT_TIMEOUT_MS = 30_000;

/** Run hbr-client; returns {status, stdout, stderr, json}. */
function hbrClient(args) {
  const r = spawnSync(clientPath(), args, { encoding: 'utf8', timeout: CLIENT_TIMEOUT_MS });
  if (r.error) throw r.error;
  let json = null;
  try { json = JSON.parse(r.stdout.trim()); } catch { /* not JSON */ }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json };
}

function register(srv, creds, stateDir, extra = []) {
  return hbrClient(['register', '--endpoint', srv.endpoint, '--access-key-id', creds.AccessKeyId,
    '--access-key-secret', creds.AccessKeySecret, '--state-dir', stateDir, ...extra]);
}

function registerOk(srv, creds, stateDir, extra = []) {
  const r = register(srv, creds, stateDir, extra);
  assert.equal(r.status, 0, `hbr-client register: exit ${r.status}, stderr: ${r.stderr}`);
  assert.ok(r.json, `register prints JSON: ${r.stdout}`);
  assert.deepEqual(Object.keys(r.json).sort(), ['ClientId', 'InstanceId']);
  assert.match(r.json.ClientId, ID.client);
  return r.json;
}

const readCreds = (dir) => JSON.parse(fs.readFileSync(path.join(dir, 'credentials.json'), 'utf8'));
const agentKey = (dir) => {
  const c = readCreds(dir);
  return { AccessKeyId: c.AccessKeyId, AccessKeySecret: c.AccessKeySecret };
};

describe('agent', { timeout: 240_000 }, () => {
  let srv;
  let api;
  before(async () => {
    srv = await startServer();
    api = new Api(srv);
  });
  after(() => srv && srv.kill9());

  test('register activates the pre-registered client; heartbeat reports', T, async () => {
    const inst = uniq('i-a');
    const { clientIds, install } = await installClients(api, [inst]);
    const dir = path.join(makeTempDir(), 'state');

    const out = registerOk(srv, srv.creds, dir, ['--instance-id', inst, '--hostname', 'box-a']);
    assert.equal(out.ClientId, clientIds[0], 'the pre-registered client is activated');
    assert.equal(out.InstanceId, inst);

    const c = await getClient(api, out.ClientId);
    assert.equal(c.Status, 'ACTIVATED');
    assert.equal(c.Hostname, 'box-a');
    assert.equal(c.OsType, 'linux');
    assert.equal(c.InstanceId, inst);

    const task = await waitTask(api, install.TaskId);
    assert.equal(task.Description, 'completed');
    const result = JSON.parse(task.Result);
    assert.equal(result[0].clientStatus, 'ACTIVATED');

    const file = path.join(dir, 'credentials.json');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600, 'credentials.json is 0600');
    const creds = readCreds(dir);
    assert.equal(creds.ClientId, out.ClientId);
    assert.equal(creds.InstanceId, inst);
    assert.equal(creds.Endpoint, srv.endpoint);
    assert.ok(creds.AccessKeyId && creds.AccessKeySecret);
    assert.notEqual(creds.AccessKeyId, srv.creds.AccessKeyId);

    const hb = hbrClient(['heartbeat', '--state-dir', dir]);
    assert.equal(hb.status, 0, `heartbeat: exit ${hb.status}, stderr: ${hb.stderr}`);
    assert.equal(hb.json.ClientId, out.ClientId);
    assert.equal(hb.json.Status, 'ACTIVATED');
    const seen = await getClient(api, out.ClientId);
    assert.ok(seen.LastHeartBeatTime > 0, `LastHeartBeatTime set: ${seen.LastHeartBeatTime}`);
    assert.ok(seen.ClientVersion, 'ClientVersion set');
  });

  test('an agent key may call nothing but the agent actions', T, async () => {
    const inst = uniq('i-k');
    const dir = path.join(makeTempDir(), 'state');
    registerOk(srv, srv.creds, dir, ['--instance-id', inst]);
    const key = agentKey(dir);
    for (const kind of ['oac-v3', 'popcore-get']) {
      const res = await api.as(key, kind).call('DescribeVaults', {});
      const b = assertError(res, 403, 'Forbidden.RAM', `agent key DescribeVaults via ${kind}`);
      assert.equal(b.AccessDeniedDetail.AuthPrincipalType, 'BackupClient');
      assert.equal(b.AccessDeniedDetail.NoPermissionType, 'ImplicitDeny');
    }
    assertError(await api.as(key, 'oac-v3').call('InstallBackupClients', { InstanceIds: JSON.stringify(['i-x']) }),
      403, 'Forbidden.RAM', 'agent key InstallBackupClients');
    assertError(await api.as(key, 'oac-v3').call('RegisterBackupClient', { InstanceId: 'i-x' }),
      403, 'Forbidden.RAM', 'agent key RegisterBackupClient');
    const ok = await api.as(key, 'oac-v3').ok('ReportBackupClientHeartbeat', { Hostname: 'h' });
    assert.match(ok.ClientId, ID.client);
  });

  test('an operator key may not heartbeat', T, async () => {
    for (const kind of ['oac-v3', 'popcore-get']) {
      assertError(await api.with(kind).call('ReportBackupClientHeartbeat', {}), 403, 'Forbidden.RAM',
        `root ReportBackupClientHeartbeat via ${kind}`);
    }
  });

  test('without --instance-id the id is stable for the state dir', T, async () => {
    const dir = path.join(makeTempDir(), 'state');
    const a = registerOk(srv, srv.creds, dir);
    const b = registerOk(srv, srv.creds, dir);
    assert.match(a.InstanceId, /^hbr-[0-9a-f]{20}$/);
    assert.equal(b.InstanceId, a.InstanceId);
    assert.equal(b.ClientId, a.ClientId);
  });

  test('registering again replaces the agent key', T, async () => {
    const inst = uniq('i-r');
    const dir = path.join(makeTempDir(), 'state');
    const a = registerOk(srv, srv.creds, dir, ['--instance-id', inst]);
    const oldKey = agentKey(dir);
    const b = registerOk(srv, srv.creds, dir, ['--instance-id', inst]);
    assert.equal(b.ClientId, a.ClientId);
    const newKey = agentKey(dir);
    assert.notEqual(newKey.AccessKeyId, oldKey.AccessKeyId);
    assertError(await api.as(oldKey, 'oac-v3').call('ReportBackupClientHeartbeat', {}), 404,
      'InvalidAccessKeyId.NotFound', 'the old agent key');
    await api.as(newKey, 'oac-v3').ok('ReportBackupClientHeartbeat', {});
  });

  test('deleting the client deletes its agent key', T, async () => {
    const dir = path.join(makeTempDir(), 'state');
    const a = registerOk(srv, srv.creds, dir, ['--instance-id', uniq('i-d')]);
    const key = agentKey(dir);
    await api.ok('DeleteBackupClient', { ClientId: a.ClientId });
    assertError(await api.as(key, 'oac-v3').call('ReportBackupClientHeartbeat', {}), 404,
      'InvalidAccessKeyId.NotFound', 'the deleted client\'s key');
  });

  test('a RAM user needs hbr:RegisterBackupClient', T, async () => {
    const polDir = makeTempDir();
    const mk = (statements) => {
      const name = uniq('agentu');
      ram(srv.dataDir, 'create-user', name);
      if (statements) ram(srv.dataDir, 'attach-policy', name, writePolicy(polDir, uniq('p'), statements));
      return ram(srv.dataDir, 'create-access-key', name);
    };
    const denied = mk(null);
    const res = await api.as(denied, 'oac-v3').call('RegisterBackupClient', { InstanceId: uniq('i-u') });
    const b = assertError(res, 403, 'Forbidden.RAM', 'RAM user without an allow');
    assert.equal(b.AccessDeniedDetail.AuthPrincipalType, 'SubUser');
    const r = register(srv, denied, path.join(makeTempDir(), 'state'), ['--instance-id', uniq('i-u')]);
    assert.equal(r.status, 1, 'hbr-client exits 1 on a server error');
    assert.match(r.stderr, /Forbidden\.RAM/);

    const allowed = mk([{ Effect: 'Allow', Action: 'hbr:RegisterBackupClient', Resource: '*' }]);
    registerOk(srv, allowed, path.join(makeTempDir(), 'state'), ['--instance-id', uniq('i-u')]);
  });

  test('tenants are isolated', T, async () => {
    const inst = uniq('i-t');
    const { clientIds } = await installClients(api, [inst]);
    const acctB = ram(srv.dataDir, 'create-account', uniq('agentb'));
    const b = registerOk(srv, acctB, path.join(makeTempDir(), 'state'), ['--instance-id', inst]);
    assert.notEqual(b.ClientId, clientIds[0], 'account B gets its own client');
    const mine = await getClient(api, clientIds[0]);
    assert.equal(mine.Status, 'INSTALLING', "A's client is untouched");
    assert.equal(await getClient(api, b.ClientId), undefined, "B's client is not A's");
    const bApi = api.as(acctB);
    const theirs = await getClient(bApi, b.ClientId);
    assert.equal(theirs.Status, 'ACTIVATED');
  });

  test('usage errors exit 2; --help exits 0', T, async () => {
    assert.equal(hbrClient(['--help']).status, 0);
    assert.equal(hbrClient([]).status, 2);
    assert.equal(hbrClient(['bogus']).status, 2);
    assert.equal(hbrClient(['register', '--state-dir', makeTempDir()]).status, 2);
    const hb = hbrClient(['heartbeat', '--state-dir', path.join(makeTempDir(), 'none')]);
    assert.equal(hb.status, 1, 'heartbeat before register fails');
  });
});
