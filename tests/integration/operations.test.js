// The operations of this issue and their response shapes (hbr-api.md §9):
// vaults, tasks, clients, plans, jobs, snapshots.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { CLIENT_KINDS, seed, startServer } = require('./lib/hbr');
const {
  Api, ID, assertError, assertSuccessEnvelope, createPlan, createVault, describeClients,
  describeVault, fakeId, getClient, installClients, listAllPages, searchAllSnapshots,
  snapshotQuery, taskResult, uniq, waitTask,
} = require('./lib/api');

const T = { timeout: 30_000 };
const now = () => Math.floor(Date.now() / 1000);

describe('operations', { timeout: 240_000 }, () => {
  let srv;
  let api;
  before(async () => {
    srv = await startServer();
    api = new Api(srv);
  });
  after(() => srv && srv.kill9());

  describe('CreateVault / DescribeTask / DescribeVaults', () => {
    test('creates a vault with a completed init task', T, async () => {
      const name = uniq('vault');
      const b = await createVault(api, name, { Description: 'integration test vault' });
      const task = await waitTask(api, b.TaskId);
      assertSuccessEnvelope({ status: 200, body: task }, 'DescribeTask');
      assert.equal(task.Description, 'completed', 'task Description is the status "completed"');
      assert.equal(task.Progress, 100, 'task Progress');

      const d = await api.ok('DescribeVaults', { VaultId: b.VaultId });
      assert.ok(d.Vaults && Array.isArray(d.Vaults.Vault), `Vaults.Vault is a wrapped array: ${JSON.stringify(d.Vaults)}`);
      assert.equal(d.Vaults.Vault.length, 1, 'filter by VaultId');
      assert.equal(d.TotalCount, 1, 'TotalCount');
      assert.equal(d.PageNumber, 1, 'PageNumber default');
      assert.equal(d.PageSize, 10, 'PageSize default');
      const v = d.Vaults.Vault[0];
      assert.equal(v.VaultId, b.VaultId);
      assert.equal(v.VaultName, name);
      assert.equal(v.VaultRegionId, 'cn-hangzhou');
      assert.equal(v.VaultType, 'STANDARD', 'VaultType defaults to STANDARD');
      assert.equal(v.Description, 'integration test vault');
      assert.equal(v.Status, 'CREATED');
    });

    test('works through every client kind', T, async () => {
      for (const kind of CLIENT_KINDS) {
        const b = await createVault(api.with(kind), uniq(kind.replace(/-/g, '')));
        assert.equal((await describeVault(api, b.VaultId)).VaultId, b.VaultId, `vault from ${kind} is listed`);
      }
    });

    test('pages through vaults with PageNumber/PageSize', T, async () => {
      for (let i = 0; i < 3; i++) await createVault(api);
      const all = await api.ok('DescribeVaults', { PageSize: 99 });
      const total = all.TotalCount;
      assert.ok(total >= 3, `TotalCount ${total}`);
      const p1 = await api.ok('DescribeVaults', { PageSize: 2, PageNumber: 1 });
      const p2 = await api.ok('DescribeVaults', { PageSize: 2, PageNumber: 2 });
      assert.equal(p1.Vaults.Vault.length, 2, 'page 1 is full');
      assert.equal(p1.PageSize, 2);
      assert.equal(p2.PageNumber, 2);
      assert.equal(p1.TotalCount, total, 'TotalCount does not depend on the page');
      const ids = new Set([...p1.Vaults.Vault, ...p2.Vaults.Vault].map((v) => v.VaultId));
      assert.equal(ids.size, p1.Vaults.Vault.length + p2.Vaults.Vault.length, 'pages do not overlap');
      const { items } = await listAllPages(api, 'DescribeVaults', {}, (b) => b.Vaults.Vault, 2);
      assert.equal(new Set(items.map((v) => v.VaultId)).size, total, 'walking all pages yields TotalCount distinct vaults');
    });

    test('VaultName and VaultRegionId are required', T, async () => {
      assertError(await api.call('CreateVault', { VaultRegionId: 'cn-hangzhou' }), 400, 'MissingVaultName');
      assertError(await api.call('CreateVault', { VaultName: uniq('v') }), 400, 'MissingVaultRegionId');
    });

    test('DescribeTask of an unknown task is an error', T, async () => {
      assertError(await api.call('DescribeTask', { TaskId: fakeId('t') }), 404);
    });
  });

  describe('InstallBackupClients / DescribeBackupClients', () => {
    let inst;
    let installed;
    before(async () => {
      inst = [uniq('i-op'), uniq('i-op')];
    });

    test('returns TaskId and a bare InstanceStatuses array', T, async () => {
      const b = await api.ok('InstallBackupClients', { InstanceIds: JSON.stringify(inst) });
      assert.match(String(b.TaskId), ID.task, 'TaskId');
      assert.ok(Array.isArray(b.InstanceStatuses), `InstanceStatuses is a bare array: ${JSON.stringify(b.InstanceStatuses)}`);
      assert.deepEqual(b.InstanceStatuses.map((s) => s.InstanceId).sort(), [...inst].sort());
      for (const s of b.InstanceStatuses) {
        assert.equal(s.ValidInstance, true, `${s.InstanceId} ValidInstance`);
        assert.equal(s.ErrorCode, '', `${s.InstanceId} ErrorCode empty`);
      }
      const task = await taskResult(api, b.TaskId);
      assert.equal(typeof task.Result, 'string', 'DescribeTask.Result is a string');
      const result = JSON.parse(task.Result);
      assert.ok(Array.isArray(result), 'Result holds a JSON array');
      assert.deepEqual(result.map((r) => r.instanceId).sort(), [...inst].sort());
      for (const r of result) {
        assert.match(String(r.clientId), ID.client, 'clientId');
        assert.equal(r.clientStatus, 'INSTALLING', 'clientStatus');
        assert.ok('errorCode' in r, 'errorCode present');
      }
      installed = Object.fromEntries(result.map((r) => [r.instanceId, r.clientId]));
    });

    test('the clients are listed by DescribeBackupClients', T, async () => {
      const b = await describeClients(api);
      assert.ok(Number.isInteger(b.TotalCount) && b.TotalCount >= 2, 'TotalCount');
      assert.equal(b.PageNumber, 1);
      assert.equal(b.PageSize, 99);
      for (const i of inst) {
        const c = b.Clients.find((x) => x.InstanceId === i);
        assert.ok(c, `client of ${i} listed`);
        assert.equal(c.ClientId, installed[i], 'ClientId matches the task result');
        assert.match(c.ClientId, ID.client);
        assert.equal(c.Status, 'INSTALLING');
        assert.equal(c.ClientType, 'ECS_CLIENT');
        assert.ok(c.BackupStatus === 'UNPROTECTED' || c.BackupStatus === 'PROTECTED', `BackupStatus ${c.BackupStatus}`);
        assert.equal(c.BackupStatus, 'UNPROTECTED', 'no plan yet');
        assert.ok(c.Settings && typeof c.Settings === 'object' && !Array.isArray(c.Settings), 'Settings is an object');
      }
    });

    test('ClientIds and InstanceIds filters', T, async () => {
      const [i0, i1] = inst;
      const byClient = await describeClients(api, { ClientIds: JSON.stringify([installed[i0]]) });
      assert.deepEqual(byClient.Clients.map((c) => c.InstanceId), [i0], 'ClientIds filter');
      assert.equal(byClient.TotalCount, 1);
      const byInst = await describeClients(api, { InstanceIds: JSON.stringify([i1]) });
      assert.deepEqual(byInst.Clients.map((c) => c.ClientId), [installed[i1]], 'InstanceIds filter');
      const both = await describeClients(api, { InstanceIds: JSON.stringify(inst) });
      assert.equal(both.Clients.length, 2);
    });

    test('installing the same instance again returns the same client', T, async () => {
      const again = await installClients(api, [inst[0]]);
      assert.equal(again.clientIds[0], installed[inst[0]]);
      const b = await describeClients(api, { InstanceIds: JSON.stringify([inst[0]]) });
      assert.equal(b.Clients.length, 1, 'no duplicate client');
    });

    test('InstanceIds is validated (1..20 ids)', T, async () => {
      assertError(await api.call('InstallBackupClients', {}), 400, 'MissingInstanceIds');
      assertError(await api.call('InstallBackupClients', { InstanceIds: '[]' }), 400, /^Invalid/);
      const many = Array.from({ length: 21 }, () => uniq('i-many'));
      assertError(await api.call('InstallBackupClients', { InstanceIds: JSON.stringify(many) }), 400, /^Invalid/);
      assertError(await api.call('InstallBackupClients', { InstanceIds: '["i-' }), 400, /^Invalid/);
      const twenty = Array.from({ length: 20 }, () => uniq('i-twenty'));
      await api.ok('InstallBackupClients', { InstanceIds: JSON.stringify(twenty) });
    });

    test('ClientType is required', T, async () => {
      assertError(await api.call('DescribeBackupClients', {}), 400, 'MissingClientType');
    });
  });

  describe('CreateBackupPlan / DescribeBackupPlans', () => {
    let vaultId;
    let inst;
    let clientId;
    before(async () => {
      ({ VaultId: vaultId } = await createVault(api));
      inst = uniq('i-plan');
      ({ clientIds: [clientId] } = await installClients(api, [inst]));
    });

    test('creates a plan that DescribeBackupPlans returns, wrapped', T, async () => {
      const start = now();
      const name = uniq('plan');
      const planId = await createPlan(api, {
        vaultId, instanceId: inst, name,
        extra: { Schedule: `I|${start}|PT1H`, Exclude: '["/data/tmp"]' },
      });
      const b = await api.ok('DescribeBackupPlans', {
        SourceType: 'ECS_FILE', Filters: [{ Key: 'planId', Values: [planId] }],
      });
      assert.ok(b.BackupPlans && Array.isArray(b.BackupPlans.BackupPlan), `BackupPlans.BackupPlan wrapped: ${JSON.stringify(b.BackupPlans)}`);
      assert.equal(b.TotalCount, 1, 'planId filter');
      assert.equal(b.PageNumber, 1);
      assert.equal(b.PageSize, 10);
      const p = b.BackupPlans.BackupPlan[0];
      assert.equal(p.PlanId, planId);
      assert.equal(p.PlanName, name);
      assert.equal(p.VaultId, vaultId);
      assert.equal(p.InstanceId, inst);
      assert.equal(p.SourceType, 'ECS_FILE');
      assert.equal(p.Schedule, `I|${start}|PT1H`);
      assert.equal(Number(p.Retention), 7);
      assert.equal(p.Exclude, '["/data/tmp"]');
      assert.ok(p.Paths && Array.isArray(p.Paths.Path), `Paths.Path wrapped: ${JSON.stringify(p.Paths)}`);
      assert.deepEqual(p.Paths.Path, ['/data']);
    });

    test('the client becomes PROTECTED', T, async () => {
      const c = await getClient(api, clientId);
      assert.equal(c.BackupStatus, 'PROTECTED');
    });

    test('works through every client kind, Path flattened by each', T, async () => {
      for (const kind of CLIENT_KINDS) {
        const planId = await createPlan(api.with(kind), { vaultId, instanceId: inst, name: uniq(kind.replace(/-/g, '')) });
        const b = await api.ok('DescribeBackupPlans', { SourceType: 'ECS_FILE', Filters: [{ Key: 'planId', Values: [planId] }] });
        assert.deepEqual(b.BackupPlans.BackupPlan[0].Paths.Path, ['/data'], `Paths from ${kind}`);
      }
    });

    test('filters by vaultId and instanceId', T, async () => {
      const b = await api.ok('DescribeBackupPlans', {
        SourceType: 'ECS_FILE', PageSize: 99,
        Filters: [{ Key: 'vaultId', Values: [vaultId] }, { Key: 'instanceId', Values: [inst] }],
      });
      assert.ok(b.TotalCount >= 1);
      for (const p of b.BackupPlans.BackupPlan) {
        assert.equal(p.VaultId, vaultId);
        assert.equal(p.InstanceId, inst);
      }
    });

    for (const bad of ['every hour', 'I|abc|PT1H', 'I|1602673264|1H', 'I|1602673264', 'C|1602673264|PT1H']) {
      test(`Schedule ${JSON.stringify(bad)} is 400 InvalidSchedule`, T, async () => {
        const res = await api.call('CreateBackupPlan', {
          SourceType: 'ECS_FILE', VaultId: vaultId, InstanceId: inst, PlanName: uniq('bad'),
          Schedule: bad, Retention: 7, Path: ['/data'],
        });
        assertError(res, 400, 'InvalidSchedule');
      });
    }

    test('an unknown VaultId is 404 VaultNotExist', T, async () => {
      const res = await api.call('CreateBackupPlan', {
        SourceType: 'ECS_FILE', VaultId: fakeId('v'), InstanceId: inst, PlanName: uniq('p'),
        Schedule: `I|${now()}|PT1H`, Retention: 7, Path: ['/data'],
      });
      assertError(res, 404, 'VaultNotExist');
    });
  });

  describe('ExecuteBackupPlan / CreateBackupJob / DescribeBackupJobs2', () => {
    let vaultId;
    let inst;
    let planId;
    before(async () => {
      ({ VaultId: vaultId } = await createVault(api));
      inst = uniq('i-job');
      await installClients(api, [inst]);
      planId = await createPlan(api, { vaultId, instanceId: inst });
    });

    test('ExecuteBackupPlan queues a job of that plan', T, async () => {
      const b = await api.ok('ExecuteBackupPlan', { PlanId: planId });
      assert.match(String(b.JobId), ID.job, 'JobId');
      const j = await api.ok('DescribeBackupJobs2', {
        SourceType: 'ECS_FILE', Filters: [{ Key: 'PlanId', Values: [planId] }],
      });
      assert.ok(j.BackupJobs && Array.isArray(j.BackupJobs.BackupJob), `BackupJobs.BackupJob wrapped: ${JSON.stringify(j.BackupJobs)}`);
      assert.equal(j.TotalCount, 1);
      assert.equal(j.PageNumber, 1);
      assert.equal(j.PageSize, 10);
      const job = j.BackupJobs.BackupJob[0];
      assert.equal(job.JobId, b.JobId);
      assert.equal(job.PlanId, planId);
      assert.equal(job.Status, 'QUEUED');
    });

    test('CreateBackupJob queues a job; filters JobId with EQUAL, VaultId with IN', T, async () => {
      const b = await api.ok('CreateBackupJob', { SourceType: 'ECS_FILE', VaultId: vaultId, InstanceId: inst, Include: '["/data"]' });
      assert.match(String(b.JobId), ID.job, 'JobId');
      const eq = await api.ok('DescribeBackupJobs2', {
        SourceType: 'ECS_FILE', Filters: [{ Key: 'JobId', Operator: 'EQUAL', Values: [b.JobId] }],
      });
      assert.equal(eq.TotalCount, 1, 'JobId EQUAL');
      assert.equal(eq.BackupJobs.BackupJob[0].Status, 'QUEUED');
      assert.equal(eq.BackupJobs.BackupJob[0].VaultId, vaultId);
      const inVault = await api.ok('DescribeBackupJobs2', {
        SourceType: 'ECS_FILE', PageSize: 99, Filters: [{ Key: 'VaultId', Operator: 'IN', Values: [vaultId, fakeId('v')] }],
      });
      assert.ok(inVault.BackupJobs.BackupJob.some((j) => j.JobId === b.JobId), 'VaultId IN');
      for (const j of inVault.BackupJobs.BackupJob) assert.equal(j.VaultId, vaultId);
    });

    test('ExecuteBackupPlan of an unknown plan is an error', T, async () => {
      assertError(await api.call('ExecuteBackupPlan', { PlanId: fakeId('plan') }), 404);
    });
  });

  describe('seeded data: SearchHistoricalSnapshots and counts', () => {
    const SEED = { clients: 3, plans: 2, jobs: 6, snapshots: 23, running: 2 };
    let s;
    let sApi;
    let seeded;
    before(async () => {
      const first = await startServer();
      assert.equal(await first.stop('SIGTERM'), 0, 'clean stop before seeding');
      seeded = seed(first.dataDir, SEED);
      s = await startServer({ dataDir: first.dataDir });
      sApi = new Api(s);
    });
    after(() => s && s.kill9());

    test('seeded clients are ACTIVATED ECS clients with instance ids i-seed-<k>', T, async () => {
      const b = await describeClients(sApi, { ClientIds: JSON.stringify(seeded.ClientIds) });
      assert.equal(b.Clients.length, SEED.clients);
      for (const c of b.Clients) {
        assert.equal(c.Status, 'ACTIVATED');
        assert.equal(c.ClientType, 'ECS_CLIENT');
        assert.match(c.InstanceId, /^i-seed-/);
        assert.equal(c.BackupStatus, 'PROTECTED', 'a client with plans is PROTECTED');
      }
    });

    test('seeded plans and jobs are listed, RUNNING ones included', T, async () => {
      const plans = await listAllPages(sApi, 'DescribeBackupPlans',
        { SourceType: 'ECS_FILE', Filters: [{ Key: 'vaultId', Values: [seeded.VaultId] }] }, (b) => b.BackupPlans.BackupPlan);
      assert.equal(plans.total, SEED.clients * SEED.plans, 'plan TotalCount');
      assert.equal(plans.items.length, plans.total, 'paging yields every plan');
      const jobs = await listAllPages(sApi, 'DescribeBackupJobs2',
        { SourceType: 'ECS_FILE', Filters: [{ Key: 'VaultId', Values: [seeded.VaultId] }] }, (b) => b.BackupJobs.BackupJob, 5);
      assert.equal(jobs.total, SEED.clients * SEED.jobs, 'job TotalCount');
      assert.equal(new Set(jobs.items.map((j) => j.JobId)).size, jobs.total, 'paging with PageSize 5 yields every job once');
      const running = await sApi.ok('DescribeBackupJobs2', {
        SourceType: 'ECS_FILE',
        Filters: [{ Key: 'VaultId', Values: [seeded.VaultId] }, { Key: 'Status', Values: ['RUNNING'] }],
      });
      assert.equal(running.TotalCount, SEED.clients * SEED.running, 'RUNNING jobs');
    });

    test('SearchHistoricalSnapshots returns Snapshots.Snapshot wrapped, with TotalCount and Limit', T, async () => {
      const b = await sApi.ok('SearchHistoricalSnapshots', { SourceType: 'ECS_FILE', Query: snapshotQuery(seeded.VaultId), Limit: 10 });
      assert.ok(b.Snapshots && Array.isArray(b.Snapshots.Snapshot), `Snapshots.Snapshot wrapped: ${JSON.stringify(b.Snapshots).slice(0, 200)}`);
      assert.equal(b.Snapshots.Snapshot.length, 10, 'first page has Limit entries');
      assert.equal(b.TotalCount, SEED.clients * SEED.snapshots, 'TotalCount');
      assert.equal(b.Limit, 10, 'Limit echoed');
      assert.ok(typeof b.NextToken === 'string' && b.NextToken.length > 0, 'NextToken for the next page');
      for (const snap of b.Snapshots.Snapshot) {
        assert.match(snap.SnapshotId, ID.snapshot, 'SnapshotId');
        assert.equal(snap.VaultId, seeded.VaultId);
        assert.ok(seeded.ClientIds.includes(snap.ClientId), `ClientId ${snap.ClientId} is a seeded client`);
      }
    });

    test('NextToken pages through every snapshot exactly once', T, async () => {
      const { snapshots, pages } = await searchAllSnapshots(sApi, snapshotQuery(seeded.VaultId), 7);
      assert.equal(snapshots.length, SEED.clients * SEED.snapshots, 'all snapshots');
      assert.equal(new Set(snapshots.map((x) => x.SnapshotId)).size, snapshots.length, 'no duplicates across pages');
      assert.ok(pages.length >= Math.ceil(snapshots.length / 7), `paged (${pages.length} pages)`);
      for (const p of pages) assert.ok(p.n <= 7, 'a page never exceeds Limit');
    });

    test('InstanceId narrows the search to one client', T, async () => {
      const q = snapshotQuery(seeded.VaultId, seeded.InstanceIds[1]);
      const { snapshots } = await searchAllSnapshots(sApi, q, 10);
      assert.equal(snapshots.length, SEED.snapshots);
      for (const x of snapshots) assert.equal(x.InstanceId, seeded.InstanceIds[1]);
    });

    test('a malformed Query is 400', T, async () => {
      const res = await sApi.call('SearchHistoricalSnapshots', { SourceType: 'ECS_FILE', Query: '[{"field":' });
      assertError(res, 400, /^Invalid/);
    });
  });
});
