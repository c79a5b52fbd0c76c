// Tenant isolation: account B (hbrd ram create-account) sees nothing of
// account A and cannot act on A's resources.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { ram, seed, startServer } = require('./lib/hbr');
const {
  Api, assertError, countsFor, createPlan, createVault, describeClients, fakeId,
  installClients, snapshotQuery, uniq,
} = require('./lib/api');

const T = { timeout: 30_000 };
const SEED = { clients: 2, plans: 2, jobs: 3, snapshots: 4, running: 1 };

describe('tenant isolation', { timeout: 180_000 }, () => {
  let srv;
  let a; // root of account A (the server's root account)
  let b; // root of account B
  let acctB;
  let vaultA;
  let instA;
  let clientA;
  let planA;
  let taskA;
  let seeded; // seeded in A

  before(async () => {
    // Seed A while the server is stopped, then run it.
    const first = await startServer();
    assert.equal(await first.stop('SIGTERM'), 0, 'clean stop before seeding');
    seeded = seed(first.dataDir, SEED);
    srv = await startServer({ dataDir: first.dataDir });
    a = new Api(srv);
    acctB = ram(srv.dataDir, 'create-account', uniq('tenantb'));
    assert.ok(acctB.AccountId && acctB.AccessKeyId && acctB.AccessKeySecret, `create-account output ${JSON.stringify(acctB)}`);
    assert.notEqual(acctB.AccountId, srv.creds.AccountId, 'a new account id');
    b = new Api(srv, acctB);

    const v = await createVault(a);
    vaultA = v.VaultId;
    taskA = v.TaskId;
    instA = uniq('i-tenant');
    ({ clientIds: [clientA] } = await installClients(a, [instA]));
    planA = await createPlan(a, { vaultId: vaultA, instanceId: instA });
    await a.ok('ExecuteBackupPlan', { PlanId: planA });
  });
  after(() => srv && srv.kill9());

  async function aIntact() {
    const c = await countsFor(a, vaultA, instA);
    assert.deepEqual(c, { plans: 1, jobs: 1, snapshots: 0 }, 'A\'s own client keeps its plan and job');
    for (const inst of seeded.InstanceIds) {
      assert.deepEqual(await countsFor(a, seeded.VaultId, inst),
        { plans: SEED.plans, jobs: SEED.jobs, snapshots: SEED.snapshots }, `A's seeded ${inst} is intact`);
    }
  }

  test('A sees its own resources (precondition)', T, async () => {
    await aIntact();
    const v = await a.ok('DescribeVaults', { PageSize: 99 });
    assert.ok(v.Vaults.Vault.some((x) => x.VaultId === vaultA), 'A sees its vault');
  });

  test('B\'s Describe lists are empty', T, async () => {
    const v = await b.ok('DescribeVaults', { PageSize: 99 });
    assert.equal(v.TotalCount, 0, 'no vaults');
    assert.deepEqual(v.Vaults.Vault, [], 'Vaults.Vault is empty');
    const c = await describeClients(b);
    assert.equal(c.TotalCount, 0, 'no clients');
    assert.deepEqual(c.Clients, []);
    const p = await b.ok('DescribeBackupPlans', { SourceType: 'ECS_FILE', PageSize: 99 });
    assert.equal(p.TotalCount, 0, 'no plans');
    const j = await b.ok('DescribeBackupJobs2', { SourceType: 'ECS_FILE', PageSize: 99 });
    assert.equal(j.TotalCount, 0, 'no jobs');
  });

  test('B cannot find A\'s resources by id', T, async () => {
    const v = await b.ok('DescribeVaults', { VaultId: vaultA });
    assert.equal(v.TotalCount, 0, 'DescribeVaults VaultId=A\'s vault');
    const c = await describeClients(b, { ClientIds: JSON.stringify([clientA, ...seeded.ClientIds]) });
    assert.deepEqual(c.Clients, [], 'DescribeBackupClients ClientIds=A\'s clients');
    const ci = await describeClients(b, { InstanceIds: JSON.stringify([instA]) });
    assert.deepEqual(ci.Clients, [], 'DescribeBackupClients InstanceIds=A\'s instance');
    const p = await b.ok('DescribeBackupPlans', { SourceType: 'ECS_FILE', Filters: [{ Key: 'planId', Values: [planA] }] });
    assert.equal(p.TotalCount, 0, 'DescribeBackupPlans planId=A\'s plan');
    const j = await b.ok('DescribeBackupJobs2', { SourceType: 'ECS_FILE', Filters: [{ Key: 'VaultId', Values: [seeded.VaultId] }] });
    assert.equal(j.TotalCount, 0, 'DescribeBackupJobs2 VaultId=A\'s seeded vault');
  });

  test('B cannot search A\'s snapshots', T, async () => {
    const res = await b.call('SearchHistoricalSnapshots', { SourceType: 'ECS_FILE', Query: snapshotQuery(seeded.VaultId), Limit: 50 });
    if (res.ok) {
      assert.equal(Number(res.body.TotalCount), 0, 'TotalCount 0');
      assert.deepEqual((res.body.Snapshots && res.body.Snapshots.Snapshot) || [], [], 'no snapshots');
    } else {
      assertError(res, 404, null, 'search in a vault B does not own');
    }
  });

  test('B cannot read A\'s task', T, async () => {
    const res = await b.call('DescribeTask', { TaskId: taskA });
    assert.equal(res.ok, false, `DescribeTask of A's task from B must fail, got ${JSON.stringify(res.body)}`);
    assertError(res, 404, null, 'DescribeTask');
  });

  test('B\'s DeleteBackupClientResource on A\'s clients is 404 ClientNotExist and A keeps everything', T, async () => {
    for (const ids of [[clientA], seeded.ClientIds, [clientA, ...seeded.ClientIds]]) {
      const res = await b.call('DeleteBackupClientResource', { ClientIds: JSON.stringify(ids) });
      const body = assertError(res, 404, 'ClientNotExist', `B deletes ${ids.join(',')}`);
      assert.ok(ids.some((id) => body.Message.includes(id)), `message names the id: ${body.Message}`);
    }
    await aIntact();
  });

  test('B cannot use A\'s vault or plan', T, async () => {
    const instB = uniq('i-tenantb');
    await installClients(b, [instB]);
    const res = await b.call('CreateBackupPlan', {
      SourceType: 'ECS_FILE', VaultId: vaultA, InstanceId: instB, PlanName: uniq('p'),
      Schedule: `I|${Math.floor(Date.now() / 1000)}|PT1H`, Retention: 7, Path: ['/data'],
    });
    assertError(res, 404, 'VaultNotExist', 'CreateBackupPlan in A\'s vault');
    const ex = await b.call('ExecuteBackupPlan', { PlanId: planA });
    assertError(ex, 404, null, 'ExecuteBackupPlan of A\'s plan');
    const job = await b.call('CreateBackupJob', { SourceType: 'ECS_FILE', VaultId: vaultA, InstanceId: instB, Include: '["/data"]' });
    assertError(job, 404, 'VaultNotExist', 'CreateBackupJob in A\'s vault');
    await aIntact();
  });

  test('B works normally in its own account, and A does not see it', T, async () => {
    const { VaultId } = await createVault(b);
    const inst = uniq('i-bown');
    const { clientIds: [cB] } = await installClients(b, [inst]);
    await createPlan(b, { vaultId: VaultId, instanceId: inst });
    assert.equal((await countsFor(b, VaultId, inst)).plans, 1, 'B sees its plan');
    assert.equal((await a.ok('DescribeVaults', { VaultId })).TotalCount, 0, 'A does not see B\'s vault');
    const del = await a.call('DeleteBackupClientResource', { ClientIds: JSON.stringify([cB]) });
    assertError(del, 404, 'ClientNotExist', 'A deletes B\'s client');
    assert.equal((await countsFor(b, VaultId, inst)).plans, 1, 'B keeps its plan');
  });

  test('an unknown well-formed id is the same 404 as another tenant\'s id', T, async () => {
    const res = await b.call('DeleteBackupClientResource', { ClientIds: JSON.stringify([fakeId('c')]) });
    assertError(res, 404, 'ClientNotExist');
  });
});
