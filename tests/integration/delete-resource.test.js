// DeleteBackupClientResource (hbr-api.md §1.10, §7): deletes the plans,
// jobs (RUNNING ones included) and snapshots of the given clients, keeps
// the clients, all or nothing, and writes an audit record.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { CLIENT_KINDS, call, ram, rawV1, seed, startServer } = require('./lib/hbr');
const {
  Api, assertError, assertSuccessEnvelope, auditRecord, countJobs, countsFor, createPlan,
  createVault, fakeId, getClient, installClients, readAudit, uniq,
} = require('./lib/api');

const T = { timeout: 60_000 };
const SEED = { clients: 10, plans: 2, jobs: 5, snapshots: 6, running: 2 };
const FULL = { plans: SEED.plans, jobs: SEED.jobs, snapshots: SEED.snapshots };
const ZERO = { plans: 0, jobs: 0, snapshots: 0 };
const FOUR_FIELDS = ['Code', 'Message', 'RequestId', 'Success'];

describe('DeleteBackupClientResource', { timeout: 280_000 }, () => {
  let srv;
  let api;
  let seeded;
  const expected = new Map(); // instanceId -> counts we expect now
  const client = (k) => ({ id: seeded.ClientIds[k], inst: seeded.InstanceIds[k] });

  before(async () => {
    const first = await startServer();
    assert.equal(await first.stop('SIGTERM'), 0, 'clean stop before seeding');
    seeded = seed(first.dataDir, SEED);
    srv = await startServer({ dataDir: first.dataDir });
    api = new Api(srv);
    for (const inst of seeded.InstanceIds) expected.set(inst, { ...FULL });
  });
  after(() => srv && srv.kill9());

  /** Every seeded client has exactly the counts we expect. */
  async function checkAll(what) {
    for (const [inst, want] of expected) {
      assert.deepEqual(await countsFor(api, seeded.VaultId, inst), want, `${what}: counts of ${inst}`);
    }
  }

  function assertFourFields(res, what) {
    const b = assertSuccessEnvelope(res, what);
    assert.deepEqual(Object.keys(b).sort(), FOUR_FIELDS, `${what}: exactly Code/Message/RequestId/Success, got ${JSON.stringify(b)}`);
    return b;
  }

  async function assertCleared(k, what) {
    const { id, inst } = client(k);
    assert.deepEqual(await countsFor(api, seeded.VaultId, inst), ZERO, `${what}: ${inst} has no plans/jobs/snapshots`);
    assert.equal(await countJobs(api, [['InstanceId', inst], ['Status', 'RUNNING']]), 0, `${what}: no RUNNING job left`);
    const c = await getClient(api, id);
    assert.ok(c, `${what}: client ${id} still listed by DescribeBackupClients`);
    assert.equal(c.BackupStatus, 'UNPROTECTED', `${what}: BackupStatus`);
    assert.equal(c.Status, 'ACTIVATED', `${what}: client Status unchanged`);
    assert.ok(c.Settings && typeof c.Settings === 'object', `${what}: Settings kept`);
    expected.set(inst, { ...ZERO });
  }

  test('precondition: every seeded client has its resources', T, async () => {
    await checkAll('after seeding');
    assert.equal(await countJobs(api, [['VaultId', seeded.VaultId], ['Status', 'RUNNING']]), SEED.clients * SEED.running, 'RUNNING jobs seeded');
  });

  CLIENT_KINDS.forEach((kind, k) => {
    test(`through ${kind}: 4-field answer, resources gone, client kept, others untouched, repeatable`, T, async () => {
      const { id } = client(k);
      const settingsBefore = (await getClient(api, id)).Settings;
      const res = await call(kind, srv, srv.creds, 'DeleteBackupClientResource', { ClientIds: JSON.stringify([id]) });
      const b = assertFourFields(res, kind);
      await assertCleared(k, kind);
      assert.deepEqual((await getClient(api, id)).Settings, settingsBefore, `${kind}: Settings unchanged`);
      await checkAll(`after delete via ${kind}`);

      const rec = await auditRecord(srv.dataDir, b.RequestId);
      assert.equal(rec.Action, 'DeleteBackupClientResource', 'audit Action');
      assert.equal(rec.AccountId, srv.creds.AccountId, 'audit AccountId');
      assert.equal(rec.AccessKeyId, srv.creds.AccessKeyId, 'audit AccessKeyId');
      assert.ok(JSON.stringify(rec.ClientIds).includes(id), `audit ClientIds names ${id}: ${JSON.stringify(rec.ClientIds)}`);
      assert.equal(String(rec.Code), '200', 'audit Code');
      assert.equal(rec.PlansDeleted, SEED.plans, 'audit PlansDeleted');
      assert.equal(rec.JobsDeleted, SEED.jobs, 'audit JobsDeleted');
      assert.equal(rec.SnapshotsDeleted, SEED.snapshots, 'audit SnapshotsDeleted');

      const again = await call(kind, srv, srv.creds, 'DeleteBackupClientResource', { ClientIds: JSON.stringify([id]) });
      const b2 = assertFourFields(again, `${kind} repeated`);
      const rec2 = await auditRecord(srv.dataDir, b2.RequestId);
      assert.deepEqual([rec2.PlansDeleted, rec2.JobsDeleted, rec2.SnapshotsDeleted], [0, 0, 0], 'repeat deletes nothing');
      await assertCleared(k, `${kind} repeated`);
    });
  });

  test('ClientIds as comma-separated "c-a,c-b"', T, async () => {
    const ids = [client(4).id, client(5).id];
    assertFourFields(await api.call('DeleteBackupClientResource', { ClientIds: ids.join(',') }), 'comma-separated');
    await assertCleared(4, 'comma 1');
    await assertCleared(5, 'comma 2');
    await checkAll('after comma-separated delete');
  });

  test('ClientIds flattened as ClientIds.1 (pop-core GET and POST with a JS array)', T, async () => {
    const { id } = client(6);
    assertFourFields(await api.call('DeleteBackupClientResource', { ClientIds: [id] }), 'flattened GET');
    await assertCleared(6, 'flattened');
    assertFourFields(await api.with('popcore-post').call('DeleteBackupClientResource', { ClientIds: [id, client(0).id] }), 'flattened POST');
    await checkAll('after flattened delete');
  });

  test('duplicate ids count once', T, async () => {
    const { id } = client(7);
    const b = assertFourFields(await api.call('DeleteBackupClientResource', { ClientIds: JSON.stringify([id, id, id]) }), 'duplicates');
    const rec = await auditRecord(srv.dataDir, b.RequestId);
    assert.deepEqual([rec.PlansDeleted, rec.JobsDeleted, rec.SnapshotsDeleted], [SEED.plans, SEED.jobs, SEED.snapshots],
      'each resource counted once');
    await assertCleared(7, 'duplicates');
    await checkAll('after duplicate delete');
  });

  test('JSON with whitespace is accepted', T, async () => {
    const { id } = client(7);
    assertFourFields(await api.call('DeleteBackupClientResource', { ClientIds: `[ "${id}" ,\n "${id}" ]` }), 'whitespace JSON');
  });

  test('API-created plans and jobs of an installed client are deleted too', T, async () => {
    const { VaultId } = await createVault(api);
    const inst = uniq('i-del');
    const { clientIds: [id] } = await installClients(api, [inst]);
    const planId = await createPlan(api, { vaultId: VaultId, instanceId: inst });
    await api.ok('ExecuteBackupPlan', { PlanId: planId });
    await api.ok('CreateBackupJob', { SourceType: 'ECS_FILE', VaultId, InstanceId: inst, Include: '["/data"]' });
    assert.deepEqual(await countsFor(api, VaultId, inst), { plans: 1, jobs: 2, snapshots: 0 }, 'before');
    assert.equal((await getClient(api, id)).BackupStatus, 'PROTECTED');
    assertFourFields(await api.with('oac-v3').call('DeleteBackupClientResource', { ClientIds: JSON.stringify([id]) }), 'installed client');
    assert.deepEqual(await countsFor(api, VaultId, inst), ZERO, 'after');
    const c = await getClient(api, id);
    assert.ok(c, 'client kept');
    assert.equal(c.BackupStatus, 'UNPROTECTED');
    assert.equal(c.Status, 'INSTALLING', 'client status untouched');
  });

  describe('invalid ClientIds: 400, nothing deleted', () => {
    const live = () => [client(8).id, client(9).id];

    test('missing is 400 MissingClientIds (every client kind)', T, async () => {
      for (const kind of CLIENT_KINDS) {
        assertError(await call(kind, srv, srv.creds, 'DeleteBackupClientResource', {}), 400, 'MissingClientIds', kind);
      }
    });

    const cases = [
      ['an empty array', () => '[]', null],
      ['101 ids', () => JSON.stringify(Array.from({ length: 101 }, () => fakeId('c'))), null],
      ['101 ids, two of them real', () => JSON.stringify([...live(), ...Array.from({ length: 99 }, () => fakeId('c'))]), null],
      ['malformed JSON ["c-', () => '["c-', null],
      ['a non-string entry [1]', () => '[1]', '1'],
      ['a non-string entry among real ids', () => `["${live()[0]}", {"id": "x"}]`, null],
      ['an entry not shaped like a client id "x-1"', () => JSON.stringify([live()[0], 'x-1']), 'x-1'],
      ['a too short id "c-short"', () => JSON.stringify(['c-short']), 'c-short'],
      ['an upper-case id', () => JSON.stringify([live()[0].toUpperCase()]), () => live()[0].toUpperCase()],
      ['a JSON object', () => '{"ClientIds":["c-1"]}', null],
    ];
    for (const [label, value, named] of cases) {
      test(`${label} is 400 Invalid*`, T, async () => {
        const res = await api.call('DeleteBackupClientResource', { ClientIds: value() });
        const b = assertError(res, 400, /^Invalid/, label);
        const entry = typeof named === 'function' ? named() : named;
        if (entry) assert.ok(b.Message.includes(entry), `Message names the bad entry ${entry}: ${b.Message}`);
      });
    }

    test('the live clients kept everything', T, async () => {
      await checkAll('after invalid requests');
      assert.deepEqual(expected.get(client(8).inst), FULL, 'control client 8 was never deleted');
    });
  });

  describe('unknown ids: 404 ClientNotExist, nothing deleted', () => {
    test('one unknown id, through every client kind', T, async () => {
      const ghost = fakeId('c');
      for (const kind of CLIENT_KINDS) {
        const res = await call(kind, srv, srv.creds, 'DeleteBackupClientResource', { ClientIds: JSON.stringify([ghost]) });
        const b = assertError(res, 404, 'ClientNotExist', kind);
        assert.ok(b.Message.includes(ghost), `${kind}: Message names ${ghost}: ${b.Message}`);
      }
    });

    test('an unknown id among real ones deletes nothing', T, async () => {
      const ghost = fakeId('c');
      const ids = [client(8).id, ghost, client(9).id];
      const res = await api.call('DeleteBackupClientResource', { ClientIds: JSON.stringify(ids) });
      const b = assertError(res, 404, 'ClientNotExist');
      assert.ok(b.Message.includes(ghost), `Message names ${ghost}: ${b.Message}`);
      assert.ok(!b.Message.includes(client(8).id), 'Message does not blame a real id');
      await checkAll('after the failed mixed delete');
      assert.deepEqual(await countsFor(api, seeded.VaultId, client(8).inst), FULL, 'client 8 intact');
      assert.deepEqual(await countsFor(api, seeded.VaultId, client(9).inst), FULL, 'client 9 intact');
      const rec = await auditRecord(srv.dataDir, b.RequestId);
      assert.equal(rec.Code, 'ClientNotExist', 'failed call audited with its Code');
      assert.ok(!rec.PlansDeleted && !rec.JobsDeleted && !rec.SnapshotsDeleted, `nothing counted as deleted: ${JSON.stringify(rec)}`);
    });

    test('comma-separated with an unknown id deletes nothing', T, async () => {
      const ghost = fakeId('c');
      const res = await api.call('DeleteBackupClientResource', { ClientIds: `${client(8).id},${ghost}` });
      assertError(res, 404, 'ClientNotExist');
      assert.deepEqual(await countsFor(api, seeded.VaultId, client(8).inst), FULL, 'client 8 intact');
    });
  });

  describe('audit log', () => {
    test('a RAM-denied call is audited with Forbidden.RAM and deletes nothing', T, async () => {
      const user = uniq('auditdeny');
      ram(srv.dataDir, 'create-user', user);
      const key = ram(srv.dataDir, 'create-access-key', user);
      const res = await call('popcore-get', srv, key, 'DeleteBackupClientResource', { ClientIds: JSON.stringify([client(8).id]) });
      const b = assertError(res, 403, 'Forbidden.RAM');
      const rec = await auditRecord(srv.dataDir, b.RequestId);
      assert.equal(rec.Code, 'Forbidden.RAM');
      assert.equal(rec.AccessKeyId, key.AccessKeyId, 'the RAM user\'s key is recorded');
      assert.equal(rec.AccountId, srv.creds.AccountId, 'the user\'s account is recorded');
      assert.equal(rec.Action, 'DeleteBackupClientResource');
      assert.deepEqual(await countsFor(api, seeded.VaultId, client(8).inst), FULL, 'client 8 intact');
    });

    test('every line is JSON with the documented fields', T, () => {
      const recs = readAudit(srv.dataDir).filter((r) => r.Action === 'DeleteBackupClientResource');
      assert.ok(recs.length >= 10, `audit.log has the delete calls (${recs.length})`);
      for (const r of recs) {
        for (const f of ['RequestId', 'Action', 'Code']) assert.ok(f in r, `audit record has ${f}: ${JSON.stringify(r)}`);
      }
      const ok = recs.filter((r) => String(r.Code) === '200');
      assert.ok(ok.length > 0, 'successful calls are audited');
      for (const r of ok) {
        for (const f of ['AccountId', 'AccessKeyId', 'ClientIds']) assert.ok(f in r, `successful record has ${f}: ${JSON.stringify(r)}`);
        for (const f of ['PlansDeleted', 'JobsDeleted', 'SnapshotsDeleted']) assert.ok(Number.isInteger(r[f]), `${f} is an integer: ${JSON.stringify(r)}`);
      }
    });

    test('a raw V1 call is audited under its RequestId', T, async () => {
      const res = await rawV1(srv, srv.creds, { Action: 'DeleteBackupClientResource', ClientIds: JSON.stringify([client(0).id]) });
      const b = assertSuccessEnvelope(res, 'raw V1 delete');
      const rec = await auditRecord(srv.dataDir, b.RequestId);
      assert.equal(String(rec.Code), '200');
    });
  });

  test('after everything, the control clients still have all their resources', T, async () => {
    await checkAll('final');
    for (const k of [8, 9]) assert.deepEqual(expected.get(client(k).inst), FULL);
  });
});
