// RAM users and policies (hbr-api.md §5.3): implicit and explicit deny,
// wildcards, IP conditions, AccessDeniedDetail.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { call, makeTempDir, ram, rawV1, startServer } = require('./lib/hbr');
const {
  Api, assertError, assertSuccessEnvelope, countsFor, createPlan, createVault,
  installClients, uniq, writePolicy,
} = require('./lib/api');

const T = { timeout: 30_000 };
const ALLOW_ALL = { Effect: 'Allow', Action: 'hbr:*', Resource: '*' };

function assertDenied(res, { action, user, type }, what) {
  const b = assertError(res, 403, 'Forbidden.RAM', what);
  const d = res.accessDeniedDetail || b.AccessDeniedDetail;
  assert.ok(d && typeof d === 'object', `${what}: AccessDeniedDetail present (${JSON.stringify(b)})`);
  assert.equal(d.AuthAction, `hbr:${action}`, `${what}: AuthAction`);
  assert.equal(d.NoPermissionType, type, `${what}: NoPermissionType`);
  assert.equal(d.AuthPrincipalType, 'SubUser', `${what}: AuthPrincipalType`);
  assert.equal(d.AuthPrincipalDisplayName, user, `${what}: AuthPrincipalDisplayName`);
  assert.equal(d.PolicyType, 'AccountLevelIdentityBasedPolicy', `${what}: PolicyType`);
}

describe('RAM', { timeout: 180_000 }, () => {
  let srv;
  let root;
  let polDir;
  let vaultId;
  let inst;
  let clientId;
  const users = {}; // name -> {name, key, api}

  function makeUser(tag, statements) {
    const name = uniq(tag);
    const u = ram(srv.dataDir, 'create-user', name);
    assert.equal(u.UserName, name, `create-user output ${JSON.stringify(u)}`);
    assert.ok(u.UserId, 'create-user returns a UserId');
    if (statements) ram(srv.dataDir, 'attach-policy', name, writePolicy(polDir, `${tag}-policy`, statements));
    const key = ram(srv.dataDir, 'create-access-key', name);
    assert.ok(key.AccessKeyId && key.AccessKeySecret, `create-access-key output ${JSON.stringify(key)}`);
    const entry = { name, key, api: new Api(srv, key), policy: `${tag}-policy` };
    users[tag] = entry;
    return entry;
  }

  before(async () => {
    srv = await startServer();
    root = new Api(srv);
    polDir = makeTempDir('hbr-pol-');
    ({ VaultId: vaultId } = await createVault(root));
    inst = uniq('i-ram');
    ({ clientIds: [clientId] } = await installClients(root, [inst]));
    await createPlan(root, { vaultId, instanceId: inst });
    makeUser('nopolicy', null);
    makeUser('reader', [{ Effect: 'Allow', Action: 'hbr:Describe*', Resource: '*' }]);
    makeUser('denier', [ALLOW_ALL, { Effect: 'Deny', Action: ['hbr:DeleteBackupClientResource'], Resource: '*' }]);
    makeUser('localip', [{ ...ALLOW_ALL, Condition: { IpAddress: { 'acs:SourceIp': '127.0.0.0/8' } } }]);
    makeUser('remoteip', [{ ...ALLOW_ALL, Condition: { IpAddress: { 'acs:SourceIp': ['10.0.0.0/8'] } } }]);
  });
  after(() => srv && srv.kill9());

  const intact = async () => {
    const c = await countsFor(root, vaultId, inst);
    assert.equal(c.plans, 1, `the root's plan is still there (${JSON.stringify(c)})`);
  };

  test('the root key may do everything in its account', T, async () => {
    await root.ok('DescribeVaults');
    await root.ok('DescribeBackupClients', { ClientType: 'ECS_CLIENT' });
    const { VaultId } = await createVault(root);
    const i = uniq('i-rootdel');
    const { clientIds: [c] } = await installClients(root, [i]);
    await createPlan(root, { vaultId: VaultId, instanceId: i });
    await root.ok('DeleteBackupClientResource', { ClientIds: JSON.stringify([c]) });
    assert.equal((await countsFor(root, VaultId, i)).plans, 0, 'plan deleted by root');
  });

  describe('a user with no policy', () => {
    test('is denied with 403 Forbidden.RAM ImplicitDeny (pop-core)', T, async () => {
      const u = users.nopolicy;
      assertDenied(await u.api.call('DescribeVaults'), { action: 'DescribeVaults', user: u.name, type: 'ImplicitDeny' }, 'pop-core');
    });
    test('openapi-client exposes AccessDeniedDetail on the error (V3 and V2)', T, async () => {
      const u = users.nopolicy;
      for (const kind of ['oac-v3', 'oac-v2']) {
        const res = await call(kind, srv, u.key, 'DescribeBackupClients', { ClientType: 'ECS_CLIENT' });
        assert.ok(res.accessDeniedDetail, `${kind}: err.accessDeniedDetail is set`);
        assertDenied(res, { action: 'DescribeBackupClients', user: u.name, type: 'ImplicitDeny' }, kind);
      }
    });
    test('is denied on DeleteBackupClientResource and nothing is deleted', T, async () => {
      const u = users.nopolicy;
      const res = await u.api.call('DeleteBackupClientResource', { ClientIds: JSON.stringify([clientId]) });
      assertDenied(res, { action: 'DeleteBackupClientResource', user: u.name, type: 'ImplicitDeny' }, 'delete');
      await intact();
    });
    test('raw V1 denial body has the same detail', T, async () => {
      const u = users.nopolicy;
      const res = await rawV1(srv, u.key, { Action: 'DescribeVaults' });
      assertDenied(res, { action: 'DescribeVaults', user: u.name, type: 'ImplicitDeny' }, 'raw');
    });
  });

  describe('Allow hbr:Describe*', () => {
    test('Describe calls succeed and see the account\'s resources', T, async () => {
      const { api } = users.reader;
      const v = await api.ok('DescribeVaults', { VaultId: vaultId });
      assert.equal(v.Vaults.Vault.length, 1, 'the root\'s vault is visible to its RAM user');
      const c = await api.ok('DescribeBackupClients', { ClientType: 'ECS_CLIENT', ClientIds: JSON.stringify([clientId]) });
      assert.equal(c.Clients.length, 1, 'the root\'s client is visible');
      await api.ok('DescribeBackupPlans', { SourceType: 'ECS_FILE' });
      await api.ok('DescribeBackupJobs2', { SourceType: 'ECS_FILE' });
    });
    test('DeleteBackupClientResource is 403 ImplicitDeny and deletes nothing', T, async () => {
      const u = users.reader;
      const res = await u.api.with('oac-v3').call('DeleteBackupClientResource', { ClientIds: JSON.stringify([clientId]) });
      assertDenied(res, { action: 'DeleteBackupClientResource', user: u.name, type: 'ImplicitDeny' }, 'reader delete');
      await intact();
    });
    test('CreateVault and SearchHistoricalSnapshots (not Describe*) are denied', T, async () => {
      const u = users.reader;
      assertDenied(await u.api.call('CreateVault', { VaultName: uniq('v'), VaultRegionId: 'cn-hangzhou' }),
        { action: 'CreateVault', user: u.name, type: 'ImplicitDeny' }, 'CreateVault');
      assertDenied(await u.api.call('SearchHistoricalSnapshots', {
        SourceType: 'ECS_FILE', Query: JSON.stringify([{ field: 'VaultId', value: vaultId, operation: 'MATCH_TERM' }]),
      }), { action: 'SearchHistoricalSnapshots', user: u.name, type: 'ImplicitDeny' }, 'SearchHistoricalSnapshots');
    });
  });

  describe('Allow hbr:* with Deny hbr:DeleteBackupClientResource', () => {
    test('other calls succeed', T, async () => {
      await users.denier.api.ok('DescribeVaults');
      await users.denier.api.ok('DescribeBackupClients', { ClientType: 'ECS_CLIENT' });
    });
    test('DeleteBackupClientResource is 403 ExplicitDeny and deletes nothing', T, async () => {
      const u = users.denier;
      const res = await u.api.with('oac-v3').call('DeleteBackupClientResource', { ClientIds: JSON.stringify([clientId]) });
      assertDenied(res, { action: 'DeleteBackupClientResource', user: u.name, type: 'ExplicitDeny' }, 'denier delete');
      await intact();
    });
  });

  describe('IpAddress acs:SourceIp conditions', () => {
    test('127.0.0.0/8 allows a loopback caller', T, async () => {
      await users.localip.api.ok('DescribeVaults');
      await users.localip.api.with('oac-v3').ok('DescribeBackupClients', { ClientType: 'ECS_CLIENT' });
    });
    test('10.0.0.0/8 does not allow a loopback caller', T, async () => {
      const u = users.remoteip;
      const res = await u.api.call('DescribeVaults');
      assertDenied(res, { action: 'DescribeVaults', user: u.name, type: 'ImplicitDeny' }, 'remoteip');
    });
  });

  describe('policy changes take effect on a running server', () => {
    test('detach-policy (name = file basename) revokes access', T, async () => {
      const u = makeUser('detachme', [ALLOW_ALL]);
      await u.api.ok('DescribeVaults');
      ram(srv.dataDir, 'detach-policy', u.name, u.policy);
      assertDenied(await u.api.call('DescribeVaults'), { action: 'DescribeVaults', user: u.name, type: 'ImplicitDeny' }, 'after detach');
    });
    test('attach-policy --name NAME, detach by that name', T, async () => {
      const u = makeUser('named', null);
      assertDenied(await u.api.call('DescribeVaults'), { action: 'DescribeVaults', user: u.name, type: 'ImplicitDeny' }, 'before attach');
      const file = writePolicy(polDir, uniq('file'), [ALLOW_ALL]);
      ram(srv.dataDir, 'attach-policy', u.name, file, '--name', 'CustomName');
      await u.api.ok('DescribeVaults');
      ram(srv.dataDir, 'detach-policy', u.name, 'CustomName');
      assertDenied(await u.api.call('DescribeVaults'), { action: 'DescribeVaults', user: u.name, type: 'ImplicitDeny' }, 'after detach');
    });
    test('a Deny attached later wins over an existing Allow', T, async () => {
      const u = makeUser('laterdeny', [ALLOW_ALL]);
      await u.api.ok('DescribeVaults');
      ram(srv.dataDir, 'attach-policy', u.name, writePolicy(polDir, uniq('deny'), [{ Effect: 'Deny', Action: 'hbr:DescribeVaults', Resource: '*' }]));
      assertDenied(await u.api.call('DescribeVaults'), { action: 'DescribeVaults', user: u.name, type: 'ExplicitDeny' }, 'after deny');
      await u.api.ok('DescribeBackupClients', { ClientType: 'ECS_CLIENT' });
    });
  });

  test('list-users lists the users created', T, () => {
    const out = ram(srv.dataDir, 'list-users');
    const text = JSON.stringify(out);
    for (const tag of ['nopolicy', 'reader', 'denier']) {
      assert.ok(text.includes(`"${users[tag].name}"`), `list-users mentions ${users[tag].name}: ${text.slice(0, 300)}`);
    }
  });

  test('a RAM user key signs through every client kind', T, async () => {
    for (const kind of ['popcore-get', 'popcore-post', 'oac-v3', 'oac-v2']) {
      assertSuccessEnvelope(await call(kind, srv, users.denier.key, 'DescribeVaults', {}), kind);
    }
  });
});
