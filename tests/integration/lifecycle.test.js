// Resource lifecycle (issue 3): updating, deleting and cancelling vaults,
// clients, plans, jobs, snapshots and restore jobs through the official
// clients (pop-core and openapi-client V3), with each refusal, the
// response shapes of hbr-api.md §9 and tenant isolation.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { call, ram, seed, startServer } = require('./lib/hbr');
const {
  Api, ID, assertError, assertSuccessEnvelope, auditRecord, countJobs, countPlans, countSnapshots, createPlan,
  createVault, describeVault, fakeId, getClient, installClients, planFilters, snapshotQuery, uniq,
} = require('./lib/api');

const T = { timeout: 60_000 };
const KINDS = ['popcore-get', 'oac-v3'];
const SEED = { clients: 5, plans: 1, jobs: 2, snapshots: 3, running: 1 };
const FOUR_FIELDS = ['Code', 'Message', 'RequestId', 'Success'];
const RESTORE_ID = /^r-[0-9a-z]{20}$/;

function without(obj, key) {
  const copy = { ...obj };
  delete copy[key];
  return copy;
}

function fourFields(res, what) {
  const b = assertSuccessEnvelope(res, what);
  assert.deepEqual(Object.keys(b).sort(), FOUR_FIELDS, `${what}: only the envelope, got ${JSON.stringify(b)}`);
  return b;
}

describe('resource lifecycle', { timeout: 280_000 }, () => {
  let srv;
  let a; // root of the server's account
  let b; // root of a second account
  let seeded;
  let beating = null; // a seeded client with a fresh heartbeat (needs the sqlite3 CLI)
  let vault; // a vault made through the API
  let inst; // an instance with a client in it
  let clientId;

  before(async () => {
    const first = await startServer();
    assert.equal(await first.stop('SIGTERM'), 0, 'clean stop before seeding');
    seeded = seed(first.dataDir, SEED);
    // No API sets a heartbeat (the agent will): write one directly.
    const r = spawnSync('sqlite3', [path.join(first.dataDir, 'hbr.db'),
      `UPDATE clients SET last_heartbeat = strftime('%s','now') WHERE client_id = '${seeded.ClientIds[4]}'`],
    { encoding: 'utf8' });
    if (!r.error && r.status === 0) beating = seeded.ClientIds[4];
    srv = await startServer({ dataDir: first.dataDir });
    a = new Api(srv);
    const acctB = ram(srv.dataDir, 'create-account', uniq('lifeb'));
    b = new Api(srv, acctB);
    vault = (await createVault(a)).VaultId;
    inst = uniq('i-life');
    ({ clientIds: [clientId] } = await installClients(a, [inst]));
  });
  after(() => srv && srv.kill9());

  async function planOf(instanceId) {
    const r = await a.ok('DescribeBackupPlans', { SourceType: 'ECS_FILE', Filters: planFilters([['instanceId', instanceId]]) });
    return r.BackupPlans.BackupPlan;
  }

  async function jobStatus(jobId) {
    const r = await a.ok('DescribeBackupJobs2', { SourceType: 'ECS_FILE', Filters: planFilters([['JobId', jobId]]) });
    assert.equal(r.BackupJobs.BackupJob.length, 1, `job ${jobId} listed once`);
    return r.BackupJobs.BackupJob[0].Status;
  }

  async function snapshotsOf(instanceId) {
    const r = await a.ok('SearchHistoricalSnapshots', { SourceType: 'ECS_FILE', Query: snapshotQuery(seeded.VaultId, instanceId), Limit: 100 });
    return r.Snapshots.Snapshot;
  }

  // ------------------------------------------------------------- vaults

  KINDS.forEach((kind) => {
    test(`UpdateVault via ${kind}: name and description change`, T, async () => {
      const name = uniq('renamed');
      fourFields(await call(kind, srv, srv.creds, 'UpdateVault', { VaultId: vault, VaultName: name, Description: `d ${kind}` }), kind);
      const v = await describeVault(a, vault);
      assert.equal(v.VaultName, name);
      assert.equal(v.Description, `d ${kind}`);
      assert.equal(v.Status, 'CREATED');
    });
  });

  test('UpdateVault refusals', T, async () => {
    assertError(await a.call('UpdateVault', {}), 400, 'MissingVaultId');
    assertError(await a.call('UpdateVault', { VaultId: vault, VaultName: 'x'.repeat(65) }), 400, 'InvalidVaultName');
    assertError(await a.call('UpdateVault', { VaultId: fakeId('v') }), 404, 'VaultNotExist');
    assertError(await b.call('UpdateVault', { VaultId: vault, VaultName: 'hijack' }), 404, 'VaultNotExist');
    assert.notEqual((await describeVault(a, vault)).VaultName, 'hijack');
  });

  // ------------------------------------------------------------- plans

  test('UpdateBackupPlan, EnableBackupPlan, DisableBackupPlan', T, async () => {
    const planId = await createPlan(a, { vaultId: vault, instanceId: inst });
    for (const kind of KINDS) {
      const name = uniq('p');
      fourFields(await call(kind, srv, srv.creds, 'UpdateBackupPlan', {
        PlanId: planId, VaultId: vault, PlanName: name, Schedule: 'I|1700000000|P1D', Retention: 30, Path: ['/srv', '/home'],
      }), `UpdateBackupPlan via ${kind}`);
      const [p] = (await planOf(inst)).filter((x) => x.PlanId === planId);
      assert.equal(p.PlanName, name);
      assert.equal(p.Schedule, 'I|1700000000|P1D');
      assert.equal(p.Retention, 30);
      assert.deepEqual(p.Paths.Path, ['/srv', '/home']);

      fourFields(await call(kind, srv, srv.creds, 'DisableBackupPlan', { PlanId: planId }), `Disable via ${kind}`);
      assert.equal((await planOf(inst)).find((x) => x.PlanId === planId).Disabled, true);
      fourFields(await call(kind, srv, srv.creds, 'EnableBackupPlan', { PlanId: planId }), `Enable via ${kind}`);
      assert.equal((await planOf(inst)).find((x) => x.PlanId === planId).Disabled, false);
    }
    // the same validation as CreateBackupPlan
    assertError(await a.call('UpdateBackupPlan', {}), 400, 'MissingPlanId');
    assertError(await a.call('UpdateBackupPlan', { PlanId: planId, Schedule: 'I|1|P1Y' }), 400, 'InvalidSchedule');
    assertError(await a.call('UpdateBackupPlan', { PlanId: planId, Path: ['relative'] }), 400, 'InvalidPath');
    assertError(await a.call('UpdateBackupPlan', { PlanId: planId, SpeedLimit: '0:25:1' }), 400, 'InvalidSpeedLimit');
    assertError(await a.call('UpdateBackupPlan', { PlanId: planId, SourceType: 'OSS' }), 400, 'InvalidSourceType');
    assertError(await a.call('UpdateBackupPlan', { PlanId: planId, VaultId: seeded.VaultId }), 404, 'BackupPlanNotExist');
    assertError(await a.call('EnableBackupPlan', { PlanId: fakeId('plan') }), 404, 'BackupPlanNotExist');
    // another tenant: exactly like a missing plan
    assertError(await b.call('UpdateBackupPlan', { PlanId: planId, PlanName: 'hijack' }), 404, 'BackupPlanNotExist');
    assertError(await b.call('DisableBackupPlan', { PlanId: planId }), 404, 'BackupPlanNotExist');
    assertError(await b.call('DeleteBackupPlan', { PlanId: planId }), 404, 'BackupPlanNotExist');
    const p = (await planOf(inst)).find((x) => x.PlanId === planId);
    assert.notEqual(p.PlanName, 'hijack');
    assert.equal(p.Disabled, false);
  });

  test('DeleteBackupPlan: RequireNoRunningJobs refuses, otherwise jobs go and snapshots stay', T, async () => {
    const target = seeded.InstanceIds[0];
    const [plan] = await planOf(target);
    assert.ok(plan, 'the seeded plan');
    assert.equal(await countJobs(a, [['PlanId', plan.PlanId]]), SEED.jobs);
    const refused = assertError(await a.call('DeleteBackupPlan', { PlanId: plan.PlanId, RequireNoRunningJobs: true }), 409, 'OperationConflict');
    assert.match(refused.Message, /RequireNoRunningJobs/);
    assert.equal((await planOf(target)).length, 1, 'refused: the plan is still there');

    fourFields(await call('oac-v3', srv, srv.creds, 'DeleteBackupPlan', { PlanId: plan.PlanId, VaultId: seeded.VaultId }), 'DeleteBackupPlan');
    assert.equal((await planOf(target)).length, 0, 'plan gone');
    assert.equal(await countJobs(a, [['PlanId', plan.PlanId]]), 0, 'its jobs (the running one too) gone');
    assert.equal(await countSnapshots(a, seeded.VaultId, target), SEED.snapshots, 'its snapshots kept');
    assert.equal((await getClient(a, seeded.ClientIds[0])).BackupStatus, 'UNPROTECTED', 'client without plans');
    assertError(await a.call('DeleteBackupPlan', { PlanId: plan.PlanId }), 404, 'BackupPlanNotExist');

    // a plan with a QUEUED job and no RequireNoRunningJobs: the job goes too
    const planId = await createPlan(a, { vaultId: vault, instanceId: inst });
    const { JobId } = await a.ok('ExecuteBackupPlan', { PlanId: planId });
    fourFields(await call('popcore-get', srv, srv.creds, 'DeleteBackupPlan', { PlanId: planId }), 'DeleteBackupPlan');
    assert.equal(await countJobs(a, [['JobId', JobId]]), 0);
  });

  // ------------------------------------------------------------- jobs

  test('CancelBackupJob: QUEUED and RUNNING jobs are cancelled, finished ones refused', T, async () => {
    const planId = await createPlan(a, { vaultId: vault, instanceId: inst });
    for (const kind of KINDS) {
      const { JobId } = await a.ok('ExecuteBackupPlan', { PlanId: planId });
      assert.equal(await jobStatus(JobId), 'QUEUED');
      assertError(await b.call('CancelBackupJob', { JobId }), 404, 'JobNotExist');
      assertError(await a.call('CancelBackupJob', { JobId, VaultId: seeded.VaultId }), 404, 'JobNotExist');
      fourFields(await call(kind, srv, srv.creds, 'CancelBackupJob', { JobId, VaultId: vault }), `CancelBackupJob via ${kind}`);
      assert.equal(await jobStatus(JobId), 'CANCELED');
      const again = assertError(await call(kind, srv, srv.creds, 'CancelBackupJob', { JobId }), 409, 'OperationConflict');
      assert.match(again.Message, /already CANCELED/);
    }
    // a RUNNING seeded job
    const r = await a.ok('DescribeBackupJobs2', { SourceType: 'ECS_FILE', Filters: planFilters([['InstanceId', seeded.InstanceIds[1]], ['Status', 'RUNNING']]) });
    const running = r.BackupJobs.BackupJob[0].JobId;
    const done = (await a.ok('DescribeBackupJobs2', { SourceType: 'ECS_FILE', Filters: planFilters([['InstanceId', seeded.InstanceIds[1]], ['Status', 'COMPLETE']]) })).BackupJobs.BackupJob[0].JobId;
    await a.ok('CancelBackupJob', { JobId: running });
    assert.equal(await jobStatus(running), 'CANCELED');
    assertError(await a.call('CancelBackupJob', { JobId: done }), 409, 'OperationConflict');
    assertError(await a.call('CancelBackupJob', {}), 400, 'MissingJobId');
    assertError(await a.call('CancelBackupJob', { JobId: fakeId('job') }), 404, 'JobNotExist');
  });

  // ------------------------------------------------------------- restore

  test('CreateRestoreJob, DescribeRestoreJobs2, CancelRestoreJob; DeleteSnapshot waits for the restore', T, async () => {
    const source = seeded.InstanceIds[1];
    const [snap] = await snapshotsOf(source);
    const ids = [];
    for (const kind of KINDS) {
      const res = await call(kind, srv, srv.creds, 'CreateRestoreJob', {
        RestoreType: 'ECS_FILE', SourceType: 'ECS_FILE', SnapshotId: snap.SnapshotId, VaultId: seeded.VaultId,
        TargetInstanceId: inst, TargetPath: '/restore', Include: JSON.stringify(['/data/a']),
      }, { body: ['TargetInstanceId', 'TargetPath', 'Include'] });
      const body = assertSuccessEnvelope(res, `CreateRestoreJob via ${kind}`);
      assert.match(String(body.RestoreId), RESTORE_ID);
      ids.push(body.RestoreId);
    }
    const list = await a.ok('DescribeRestoreJobs2', { RestoreType: 'ECS_FILE', PageSize: 99 });
    assert.ok(list.RestoreJobs && Array.isArray(list.RestoreJobs.RestoreJob), 'RestoreJobs.RestoreJob[]');
    assert.equal(list.TotalCount, 2);
    assert.equal(list.PageNumber, 1);
    assert.equal(list.PageSize, 99);
    const job = list.RestoreJobs.RestoreJob.find((j) => j.RestoreId === ids[0]);
    assert.equal(job.Status, 'QUEUED');
    assert.equal(job.SnapshotId, snap.SnapshotId);
    assert.equal(job.VaultId, seeded.VaultId);
    assert.equal(job.TargetInstanceId, inst);
    assert.equal(job.TargetClientId, clientId);
    assert.equal(job.TargetPath, '/restore');
    assert.equal(job.Include, '["/data/a"]');
    assert.equal(job.RestoreType, 'ECS_FILE');
    assert.equal(job.SourceType, 'ECS_FILE');
    assert.equal(typeof job.CreatedTime, 'number');

    // filters, operators, paging and sorting
    const one = await a.ok('DescribeRestoreJobs2', { Filters: [{ Key: 'RestoreId', Values: [ids[1]], Operator: 'EQUAL' }] });
    assert.deepEqual(one.RestoreJobs.RestoreJob.map((j) => j.RestoreId), [ids[1]]);
    const notIn = await a.ok('DescribeRestoreJobs2', { Filters: [{ Key: 'RestoreId', Values: [ids[1]], Operator: 'NOT_IN' }] });
    assert.deepEqual(notIn.RestoreJobs.RestoreJob.map((j) => j.RestoreId), [ids[0]]);
    const byVault = await a.ok('DescribeRestoreJobs2', { Filters: [{ Key: 'VaultId', Values: [vault] }] });
    assert.equal(byVault.TotalCount, 0);
    const desc = (await a.ok('DescribeRestoreJobs2', { SortDirection: 'DESCEND' })).RestoreJobs.RestoreJob.map((j) => j.RestoreId);
    const asc = (await a.ok('DescribeRestoreJobs2', { SortDirection: 'ASCEND' })).RestoreJobs.RestoreJob.map((j) => j.RestoreId);
    assert.deepEqual(asc, [...desc].reverse());
    const page2 = await a.ok('DescribeRestoreJobs2', { SortDirection: 'ASCEND', PageSize: 1, PageNumber: 2 });
    assert.deepEqual(page2.RestoreJobs.RestoreJob.map((j) => j.RestoreId), [asc[1]]);
    assert.equal(page2.TotalCount, 2);
    assertError(await a.call('DescribeRestoreJobs2', { Filters: [{ Key: 'Bogus', Values: ['x'] }] }), 400, 'InvalidFilters');
    assertError(await a.call('DescribeRestoreJobs2', { Filters: [{ Key: 'CompleteTime', Values: ['1'], Operator: 'IN' }] }), 400, 'InvalidFilters');
    assertError(await a.call('DescribeRestoreJobs2', { SortDirection: 'UP' }), 400, 'InvalidSortDirection');

    // refusals
    const base = { RestoreType: 'ECS_FILE', SnapshotId: snap.SnapshotId, TargetInstanceId: inst, TargetPath: '/r' };
    assertError(await a.call('CreateRestoreJob', without(base, 'RestoreType')), 400, 'MissingRestoreType');
    assertError(await a.call('CreateRestoreJob', { ...base, RestoreType: 'OSS' }), 400, 'InvalidRestoreType');
    assertError(await a.call('CreateRestoreJob', without(base, 'TargetPath')), 400, 'MissingTargetPath');
    assertError(await a.call('CreateRestoreJob', { ...base, Include: 'not json' }), 400, 'InvalidInclude');
    assertError(await a.call('CreateRestoreJob', { ...base, SnapshotId: fakeId('s') }), 404, 'SnapshotNotExist');
    assertError(await a.call('CreateRestoreJob', { ...base, VaultId: vault }), 404, 'SnapshotNotExist');
    assertError(await a.call('CreateRestoreJob', { ...base, TargetInstanceId: uniq('i-none') }), 404, 'ClientNotExist');

    // a snapshot being restored cannot be deleted
    const busy = assertError(await a.call('DeleteSnapshot', { SnapshotId: snap.SnapshotId }), 409, 'OperationConflict');
    assert.match(busy.Message, /restore/);

    // another tenant sees and touches nothing
    const bl = await b.ok('DescribeRestoreJobs2', {});
    assert.equal(bl.TotalCount, 0);
    assert.deepEqual(bl.RestoreJobs.RestoreJob, []);
    assertError(await b.call('CancelRestoreJob', { RestoreId: ids[0] }), 404, 'RestoreJobNotExist');
    assertError(await b.call('CreateRestoreJob', { ...base }), 404, 'SnapshotNotExist');

    for (const [k, kind] of KINDS.entries()) {
      fourFields(await call(kind, srv, srv.creds, 'CancelRestoreJob', { RestoreId: ids[k] }), `CancelRestoreJob via ${kind}`);
      assertError(await call(kind, srv, srv.creds, 'CancelRestoreJob', { RestoreId: ids[k] }), 409, 'OperationConflict');
    }
    const canceled = await a.ok('DescribeRestoreJobs2', { Filters: [{ Key: 'Status', Values: ['CANCELED'] }] });
    assert.equal(canceled.TotalCount, 2);
    assertError(await a.call('CancelRestoreJob', { RestoreId: fakeId('r') }), 404, 'RestoreJobNotExist');
    assertError(await a.call('CancelRestoreJob', {}), 400, 'MissingRestoreId');
  });

  // ------------------------------------------------------------- snapshots

  test('DeleteSnapshot: gone from SearchHistoricalSnapshots, refusals', T, async () => {
    const source = seeded.InstanceIds[1];
    const before = await snapshotsOf(source);
    assert.equal(before.length, SEED.snapshots);
    assertError(await b.call('DeleteSnapshot', { SnapshotId: before[0].SnapshotId }), 404, 'SnapshotNotExist');
    assertError(await a.call('DeleteSnapshot', { SnapshotId: before[0].SnapshotId, InstanceId: inst }), 404, 'SnapshotNotExist');
    assertError(await a.call('DeleteSnapshot', {}), 400, 'MissingSnapshotId');
    for (const [k, kind] of KINDS.entries()) {
      fourFields(await call(kind, srv, srv.creds, 'DeleteSnapshot', {
        SnapshotId: before[k].SnapshotId, SourceType: 'ECS_FILE', VaultId: seeded.VaultId, InstanceId: source,
      }), `DeleteSnapshot via ${kind}`);
      assertError(await call(kind, srv, srv.creds, 'DeleteSnapshot', { SnapshotId: before[k].SnapshotId }), 404, 'SnapshotNotExist');
    }
    const after = await snapshotsOf(source);
    assert.deepEqual(after.map((s) => s.SnapshotId), [before[2].SnapshotId]);
    const v = await describeVault(a, seeded.VaultId);
    assert.equal(v.SnapshotCount, SEED.clients * SEED.snapshots - 2);
  });

  // ------------------------------------------------------------- clients

  KINDS.forEach((kind) => {
    test(`UpdateClientSettings via ${kind}: typed as §4.1, password never shown`, T, async () => {
      fourFields(await call(kind, srv, srv.creds, 'UpdateClientSettings', {
        ClientId: clientId, MaxCpuCore: 2, MaxWorker: 3, MaxMemory: 4096, UseHttps: true, DataNetworkType: 'PUBLIC',
        DataProxySetting: 'CUSTOM', ProxyHost: '10.0.0.1', ProxyPort: 3128, ProxyUser: 'u', ProxyPassword: 'pw-secret',
        AlertOnPartialComplete: true,
      }), kind);
      const c = await getClient(a, clientId);
      assert.deepEqual({ ...c.Settings }, {
        MaxCpuCore: '2', MaxWorker: '3', MaxMemory: 4096, UseHttps: 'true', DataNetworkType: 'PUBLIC',
        DataProxySetting: 'CUSTOM', ProxyHost: '10.0.0.1', ProxyPort: 3128, ProxyUser: 'u', ProxyPassword: '******',
        AlertOnPartialComplete: true,
      });
      assert.ok(!JSON.stringify(c).includes('pw-secret'));
      // a partial update keeps the rest
      await a.ok('UpdateClientSettings', { ClientId: clientId, UseHttps: false, MaxCpuCore: 0 });
      const c2 = await getClient(a, clientId);
      assert.equal(c2.Settings.UseHttps, 'false');
      assert.equal(c2.Settings.MaxCpuCore, '0');
      assert.equal(c2.Settings.MaxWorker, '3');
    });
  });

  test('UpdateClientSettings refusals', T, async () => {
    assertError(await a.call('UpdateClientSettings', {}), 400, 'MissingClientId');
    assertError(await a.call('UpdateClientSettings', { ClientId: clientId, DataNetworkType: 'WIFI' }), 400, 'InvalidDataNetworkType');
    assertError(await a.call('UpdateClientSettings', { ClientId: clientId, ProxyPort: 70000 }), 400, 'InvalidProxyPort');
    assertError(await a.call('UpdateClientSettings', { ClientId: clientId, MaxWorker: -1 }), 400, 'InvalidMaxWorker');
    assertError(await a.call('UpdateClientSettings', { ClientId: fakeId('c') }), 404, 'ClientNotExist');
    assertError(await b.call('UpdateClientSettings', { ClientId: clientId, ProxyHost: 'evil' }), 404, 'ClientNotExist');
    assert.notEqual((await getClient(a, clientId)).Settings.ProxyHost, 'evil');
  });

  test('UninstallBackupClients then DeleteBackupClient: the task completes', T, async () => {
    const i2 = uniq('i-uninst');
    const { clientIds: [c2] } = await installClients(a, [i2]);
    const missing = uniq('i-missing');
    assertError(await b.call('UninstallBackupClients', { ClientIds: JSON.stringify([c2]) }), 404, 'ClientNotExist');
    assertError(await a.call('UninstallBackupClients', {}), 400, 'MissingClientIds');
    const res = await call('oac-v3', srv, srv.creds, 'UninstallBackupClients', { InstanceIds: JSON.stringify([i2, missing]) });
    const u = assertSuccessEnvelope(res, 'UninstallBackupClients');
    assert.match(String(u.TaskId), ID.task);
    assert.deepEqual(u.InstanceStatuses, [
      { InstanceId: i2, ValidInstance: true, ErrorCode: '' },
      { InstanceId: missing, ValidInstance: false, ErrorCode: 'InstanceNotExists' },
    ]);
    assert.equal((await getClient(a, c2)).Status, 'UNINSTALLING');
    let task = await a.ok('DescribeTask', { TaskId: u.TaskId });
    assert.equal(task.Description, 'created');
    assert.deepEqual(JSON.parse(task.Result), [{ instanceId: i2, clientId: c2, clientStatus: 'UNINSTALLING', errorCode: '' }]);
    assertError(await b.call('DescribeTask', { TaskId: u.TaskId }), 404, 'TaskNotFound');

    // the agent would report NOT_INSTALLED; deleting the client ends it too
    fourFields(await call('popcore-get', srv, srv.creds, 'DeleteBackupClient', { ClientId: c2 }), 'DeleteBackupClient');
    task = await a.ok('DescribeTask', { TaskId: u.TaskId });
    assert.equal(task.Description, 'completed');
    assert.equal(task.Progress, 100);
    assert.equal(JSON.parse(task.Result)[0].clientStatus, 'NOT_INSTALLED');

    // the instance can get a new client
    const { clientIds: [c3] } = await installClients(a, [i2]);
    assert.notEqual(c3, c2);
  });

  test('InstallBackupClients after UninstallBackupClients: the same client waits for its agent again', T, async () => {
    const i3 = uniq('i-reinst');
    const { clientIds: [c] } = await installClients(a, [i3]);
    await a.ok('UninstallBackupClients', { ClientIds: JSON.stringify([c]) });
    assert.equal((await getClient(a, c)).Status, 'UNINSTALLING');
    const again = await installClients(a, [i3]);
    assert.equal(again.clientIds[0], c, 'the same client');
    assert.equal((await getClient(a, c)).Status, 'INSTALLING');
    assert.equal(again.result[0].clientStatus, 'INSTALLING');
  });

  test('DeleteBackupClient: refused while heartbeating, otherwise deletes its resources and itself', T, async (t) => {
    if (beating) {
      const r = assertError(await a.call('DeleteBackupClient', { ClientId: beating }), 409, 'OperationConflict');
      assert.match(r.Message, /heartbeat/);
      assert.ok(await getClient(a, beating), 'refused: still listed');
      assert.equal(await countSnapshots(a, seeded.VaultId, seeded.InstanceIds[4]), SEED.snapshots);
    } else {
      t.diagnostic('sqlite3 CLI not found: heartbeat refusal covered by unit.store_lifecycle only');
    }
    assertError(await b.call('DeleteBackupClient', { ClientId: seeded.ClientIds[2] }), 404, 'ClientNotExist');
    assertError(await a.call('DeleteBackupClient', {}), 400, 'MissingClientId');
    const target = seeded.InstanceIds[2];
    const del = fourFields(await call('oac-v3', srv, srv.creds, 'DeleteBackupClient', { ClientId: seeded.ClientIds[2] }), 'DeleteBackupClient');
    const rec = await auditRecord(srv.dataDir, del.RequestId);
    assert.equal(rec.Action, 'DeleteBackupClient');
    assert.ok(JSON.stringify(rec.ClientIds).includes(seeded.ClientIds[2]), 'audit names the client');
    assert.deepEqual([rec.PlansDeleted, rec.JobsDeleted, rec.SnapshotsDeleted], [SEED.plans, SEED.jobs, SEED.snapshots]);
    assert.equal(await getClient(a, seeded.ClientIds[2]), undefined, 'no longer listed');
    assert.equal(await countPlans(a, [['instanceId', target]]), 0);
    assert.equal(await countJobs(a, [['InstanceId', target]]), 0);
    assert.equal(await countSnapshots(a, seeded.VaultId, target), 0);
    assertError(await a.call('DeleteBackupClient', { ClientId: seeded.ClientIds[2] }), 404, 'ClientNotExist');
    assertError(await a.call('DeleteBackupClientResource', { ClientIds: JSON.stringify([seeded.ClientIds[2]]) }), 404, 'ClientNotExist');
    // the others are untouched
    assert.equal(await countSnapshots(a, seeded.VaultId, seeded.InstanceIds[3]), SEED.snapshots);
  });

  // ------------------------------------------------------------- vault deletion

  test('DeleteVault: refused with unfinished jobs, then deletes what it holds', T, async () => {
    const seededRefusal = assertError(await a.call('DeleteVault', { VaultId: seeded.VaultId }), 409, 'OperationConflict');
    assert.match(seededRefusal.Message, /unfinished backup job/);

    const v = (await createVault(a)).VaultId;
    const planId = await createPlan(a, { vaultId: v, instanceId: inst });
    const { JobId } = await a.ok('ExecuteBackupPlan', { PlanId: planId });
    assertError(await a.call('DeleteVault', { VaultId: v }), 409, 'OperationConflict');
    assertError(await b.call('DeleteVault', { VaultId: v }), 404, 'VaultNotExist');
    assert.ok(await describeVault(a, v), 'refused: still there');

    await a.ok('CancelBackupJob', { JobId });
    const vaultDir = path.join(srv.dataDir, 'vaults', v);
    assert.ok(fs.existsSync(vaultDir), 'CreateVault made the vault directory');
    fs.writeFileSync(path.join(vaultDir, 'pack-0001'), 'data');
    fourFields(await call('oac-v3', srv, srv.creds, 'DeleteVault', { VaultId: v }), 'DeleteVault');
    assert.equal(await describeVault(a, v), undefined, 'no longer listed');
    assert.equal(fs.existsSync(vaultDir), false, 'the vault data is removed');
    assert.equal(await countPlans(a, [['vaultId', v]]), 0);
    assert.equal(await countJobs(a, [['VaultId', v]]), 0);
    assertError(await a.call('DeleteVault', { VaultId: v }), 404, 'VaultNotExist');
    assertError(await a.call('UpdateVault', { VaultId: v, VaultName: 'x' }), 404, 'VaultNotExist');
    assertError(await a.call('CreateBackupPlan', {
      SourceType: 'ECS_FILE', VaultId: v, InstanceId: inst, PlanName: 'p', Schedule: 'I|1700000000|P1D', Path: ['/d'],
    }), 404, 'VaultNotExist');
    assertError(await a.call('DeleteVault', {}), 400, 'MissingVaultId');

    // popcore as well, on an empty vault
    const empty = (await createVault(a)).VaultId;
    fourFields(await call('popcore-get', srv, srv.creds, 'DeleteVault', { VaultId: empty }), 'DeleteVault via popcore');
    assert.equal(await describeVault(a, empty), undefined);
  });
});
