// Giving the storage back (issue 5, docs/RECLAMATION.md), end to end: a
// real hbrd and real hbr-client agents on loopback. Deleting clients'
// resources, snapshots, a client and a vault returns the space their data
// alone held, and ExclusiveBytes said how much beforehand; backups keep
// running while other clients' data is deleted and reclaimed, and every
// snapshot that remains restores byte for byte; hbrd killed (kill -9) at
// random points of deletion and reclamation resumes by itself, and
// `hbrd vault check` is clean after every kill. Bounded loops, no timing
// assertions.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const { clientPath, hbrdPath, makeTempDir, sleep, startServer } = require('./lib/hbr');
const { Api, createPlan, createVault, describeVault, getClient, installClients, uniq } = require('./lib/api');
const { KiB, MiB, assertSameTree, describeTree, makeTree, noise } = require('./lib/fstree');

const AGENT_TIMEOUT_MS = 90_000;
const CLI_TIMEOUT_MS = 60_000;
const POLL_MS = 100;
const SPACE_WAIT_MS = 30_000;

/** A child process to its end (bounded): {code, signal, stdout, stderr}. */
function run(bin, args, timeoutMs) {
  return new Promise((resolve) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}

/** hbrd vault check|gc --data-dir DIR VAULT_ID, as its own process. */
async function vaultCmd(dataDir, verb, vaultId) {
  const r = await run(hbrdPath(), ['vault', verb, '--data-dir', dataDir, vaultId], CLI_TIMEOUT_MS);
  let json = null;
  try { json = JSON.parse(r.stdout.trim()); } catch { /* reported below */ }
  return { ...r, json };
}

/** `hbrd vault check` exits 0 with no errors; its report. */
async function assertClean(dataDir, vaultId, what) {
  const r = await vaultCmd(dataDir, 'check', vaultId);
  assert.ok(r.json, `${what}: vault check printed no JSON (exit ${r.code} ${r.signal}); stderr: ${r.stderr}`);
  assert.deepEqual(r.json.Errors, [], `${what}: vault check errors: ${JSON.stringify(r.json)}`);
  assert.equal(r.code, 0, `${what}: vault check exit ${r.code}: ${r.stdout} ${r.stderr}`);
  assert.equal(r.json.Clean, true, `${what}: Clean`);
  return r.json;
}

/** `hbrd vault gc` now, then check: clean, and nothing orphaned. */
async function gcAndCheck(dataDir, vaultId, what) {
  const g = await vaultCmd(dataDir, 'gc', vaultId);
  assert.equal(g.code, 0, `${what}: vault gc exit ${g.code}: ${g.stdout} ${g.stderr}`);
  const c = await assertClean(dataDir, vaultId, `${what}, after vault gc`);
  assert.equal(c.OrphanedBytes, 0, `${what}: OrphanedBytes after a pass: ${JSON.stringify(c)}`);
  return c;
}

function registerAgent(srv, inst, stateDir) {
  const r = spawnSync(clientPath(), ['register', '--endpoint', srv.endpoint,
    '--access-key-id', srv.creds.AccessKeyId, '--access-key-secret', srv.creds.AccessKeySecret,
    '--instance-id', inst, '--hostname', inst, '--state-dir', stateDir], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, `register: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function job(api, jobId) {
  const r = await api.ok('DescribeBackupJobs2', { SourceType: 'ECS_FILE', Filters: [{ Key: 'JobId', Values: [jobId] }] });
  return r.BackupJobs.BackupJob[0];
}

async function restoreJob(api, restoreId) {
  const r = await api.ok('DescribeRestoreJobs2', { Filters: [{ Key: 'RestoreId', Values: [restoreId] }] });
  return r.RestoreJobs.RestoreJob[0];
}

/** The live snapshots of the vault (of one instance), oldest first. */
async function snapshotsOf(api, vaultId, instanceId) {
  const q = [{ field: 'VaultId', value: vaultId, operation: 'MATCH_TERM' }];
  if (instanceId) q.push({ field: 'InstanceId', value: instanceId, operation: 'MATCH_TERM' });
  const out = [];
  let token;
  for (let page = 0; page < 20; page++) {
    const b = await api.ok('SearchHistoricalSnapshots', {
      SourceType: 'ECS_FILE', Limit: 100, Order: 'ASC', SortBy: 'CreatedTime', Query: JSON.stringify(q),
      ...(token ? { NextToken: token } : {}),
    });
    out.push(...b.Snapshots.Snapshot);
    token = b.NextToken;
    if (!token) break;
  }
  return out;
}

async function storageSize(api, vaultId) {
  const v = await describeVault(api, vaultId);
  assert.ok(v, `vault ${vaultId} is listed`);
  return Number(v.StorageSize);
}

async function exclusiveBytes(api, clientId) {
  const c = await getClient(api, clientId);
  assert.ok(c, `client ${clientId} is listed`);
  assert.equal(typeof c.ExclusiveBytes, 'number', `ExclusiveBytes of ${clientId}: ${JSON.stringify(c)}`);
  return c.ExclusiveBytes;
}

/** Poll (bounded) until pred(value()) holds; the last value. */
async function waitFor(value, pred, what, ms = SPACE_WAIT_MS) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await value();
    if (pred(last)) return last;
    await sleep(POLL_MS);
  }
  assert.fail(`${what}: still ${JSON.stringify(last)} after ${ms} ms`);
}

const rand = (n) => crypto.randomInt(n);

/**
 * Real agents backing up into one vault of one hbrd: register, trees,
 * backups (remembering each snapshot's tree as it was backed up),
 * restores compared byte for byte.
 */
class World {
  constructor(srv, work) {
    this.srv = srv;
    this.api = new Api(srv, srv.creds, 'oac-v3');
    this.work = work;
    this.snaps = new Map(); // SnapshotId -> { agent, tree }
    this.restores = 0;
  }

  setServer(srv) {
    this.srv = srv;
    this.api = new Api(srv, srv.creds, 'oac-v3');
  }

  async agent(tag, treeOpts, shared) {
    const X = { tag, inst: uniq(`i-${tag}`), plan: null, changes: 0 };
    await installClients(this.api, [X.inst]);
    X.state = path.join(this.work, `state-${tag}`);
    X.client = registerAgent(this.srv, X.inst, X.state).ClientId;
    X.src = path.join(this.work, `src-${tag}`);
    makeTree(X.src, { seed: `${tag}-${uniq()}`, ...treeOpts });
    if (shared) fs.writeFileSync(path.join(X.src, 'large', 'shared.img'), shared);
    return X;
  }

  /** A change: a new file, a rewritten block of a large one, one file less. */
  change(X, bytes = 200 * KiB) {
    const i = ++X.changes;
    fs.mkdirSync(path.join(X.src, 'inc'), { recursive: true });
    fs.writeFileSync(path.join(X.src, 'inc', `f${i}.bin`), noise(`${X.tag}-inc-${i}-${uniq()}`, bytes));
    const big = path.join(X.src, 'large', 'L0.img');
    const fd = fs.openSync(big, 'r+');
    fs.writeSync(fd, noise(`${X.tag}-blk-${i}-${uniq()}`, 64 * KiB), 0, 64 * KiB, (i * 64 * KiB) % (256 * KiB));
    fs.closeSync(fd);
    const small = path.join(X.src, 'small', 'd00', `f${i}.${i % 2 ? 'txt' : 'bin'}`);
    if (fs.existsSync(small)) fs.rmSync(small);
  }

  /** One backup of X's tree: ExecuteBackupPlan, then the agent. */
  async backup(X, vaultId, what) {
    if (!X.plan) X.plan = await createPlan(this.api, { vaultId, instanceId: X.inst, extra: { Path: [X.src] } });
    const tree = describeTree(X.src);
    const { JobId } = await this.api.ok('ExecuteBackupPlan', { PlanId: X.plan });
    const r = await run(clientPath(), ['run', '--once', '--state-dir', X.state], AGENT_TIMEOUT_MS);
    assert.equal(r.code, 0, `${what}: hbr-client run --once exit ${r.code} ${r.signal}; stderr:\n${r.stderr.slice(-3000)}`);
    const j = await job(this.api, JobId);
    assert.equal(j.Status, 'COMPLETE', `${what}: ${JSON.stringify(j)}`);
    assert.ok(j.SnapshotId, `${what}: the job names its snapshot`);
    this.snaps.set(j.SnapshotId, { agent: X, tree });
    return j;
  }

  /** Restore a snapshot onto its own client, elsewhere; compare. */
  async restore(snapshotId, vaultId, what) {
    const s = this.snaps.get(snapshotId);
    assert.ok(s, `${what}: snapshot ${snapshotId} is one this test made`);
    const dst = path.join(this.work, `restore-${++this.restores}`);
    const { RestoreId } = await this.api.ok('CreateRestoreJob', {
      RestoreType: 'ECS_FILE', SourceType: 'ECS_FILE', SnapshotId: snapshotId, VaultId: vaultId,
      TargetInstanceId: s.agent.inst, TargetPath: dst,
    });
    const r = await run(clientPath(), ['run', '--once', '--state-dir', s.agent.state], AGENT_TIMEOUT_MS);
    assert.equal(r.code, 0, `${what}: restore run exit ${r.code}; stderr:\n${r.stderr.slice(-3000)}`);
    const rj = await restoreJob(this.api, RestoreId);
    assert.equal(rj.Status, 'COMPLETE', `${what}: ${JSON.stringify(rj)}`);
    assertSameTree(s.tree, describeTree(path.join(dst, s.agent.src)), `${what}: ${snapshotId}`);
    fs.rmSync(dst, { recursive: true, force: true });
  }

  /** Every live snapshot of the vault restores as it was backed up. */
  async restoreAll(vaultId, what) {
    const live = await snapshotsOf(this.api, vaultId);
    for (const s of live) await this.restore(s.SnapshotId, vaultId, what);
    return live.length;
  }
}

describe('space comes back', { timeout: 200_000 }, () => {
  const SHARED = noise('reclaim-shared', 4 * MiB);
  let srv;
  let w;
  let vaultId;
  let A;
  let B;
  let C;

  before(async () => {
    srv = await startServer();
    w = new World(srv, makeTempDir('hbr-reclaim-a-'));
    vaultId = (await createVault(w.api)).VaultId;
    // Each tree has 3 MiB of its own and the 4 MiB file all three share.
    const opts = { small: 40, large: [3 * MiB, 256 * KiB] };
    C = await w.agent('c', opts, SHARED);
    A = await w.agent('a', opts, SHARED);
    B = await w.agent('b', opts, SHARED);
  });
  after(() => srv && srv.kill9());

  test('DeleteBackupClientResource gives back what those clients alone held; shared data stays', { timeout: 120_000 }, async () => {
    // C first: the shared file is C's; A and B add only their own data.
    const jc = await w.backup(C, vaultId, 'backup of C');
    const ja = await w.backup(A, vaultId, 'backup of A');
    const jb = await w.backup(B, vaultId, 'backup of B');
    const before = await storageSize(w.api, vaultId);
    const exA = await exclusiveBytes(w.api, A.client);
    const exB = await exclusiveBytes(w.api, B.client);
    const exC = await exclusiveBytes(w.api, C.client);
    // What a client alone holds is what its backup added to the vault
    // (the agent's figure), and the shared file is nobody's alone.
    for (const [ex, j, who] of [[exA, ja, 'A'], [exB, jb, 'B']]) {
      assert.ok(ex > 3 * MiB, `${who}: ExclusiveBytes ${ex} covers its own 3 MiB`);
      assert.ok(Math.abs(ex - j.ActualBytes) <= j.ActualBytes * 0.05 + 64 * KiB,
        `${who}: ExclusiveBytes ${ex} ~ the ${j.ActualBytes} bytes its backup stored`);
    }
    assert.ok(exC < jc.ActualBytes - 3.5 * MiB, `C: ExclusiveBytes ${exC} leaves out the shared file (stored ${jc.ActualBytes})`);

    await w.api.ok('DeleteBackupClientResource', { ClientIds: JSON.stringify([A.client, B.client]) });
    const after = await waitFor(() => storageSize(w.api, vaultId), (s) => before - s >= 0.9 * (exA + exB),
      `StorageSize (was ${before}) falls by 90 % of A's and B's ${exA + exB} exclusive bytes`);
    await waitFor(async () => [await exclusiveBytes(w.api, A.client), await exclusiveBytes(w.api, B.client)],
      (v) => v[0] === 0 && v[1] === 0, 'A and B hold nothing alone');
    const freed = before - (await storageSize(w.api, vaultId));
    assert.ok(freed >= 0.9 * (exA + exB) && freed <= (exA + exB) * 1.05 + 256 * KiB,
      `freed ${freed} bytes ~ the ${exA + exB} that ExclusiveBytes announced (after ${after})`);
    // With A and B gone the shared file is C's alone.
    const exC2 = await exclusiveBytes(w.api, C.client);
    assert.ok(exC2 >= exC + 3.5 * MiB, `C: ExclusiveBytes ${exC} -> ${exC2} takes in the shared file`);

    const [snap] = await snapshotsOf(w.api, vaultId, C.inst);
    await w.restore(snap.SnapshotId, vaultId, 'C after A and B are gone');
    assert.equal((await snapshotsOf(w.api, vaultId, A.inst)).length, 0);
    const report = await assertClean(srv.dataDir, vaultId, 'check beside a running hbrd');
    assert.equal(report.ExclusiveBytes[C.client], exC2, 'check counts what DescribeBackupClients shows');
    await gcAndCheck(srv.dataDir, vaultId, 'after DeleteBackupClientResource');
  });

  test('DeleteSnapshot, DeleteBackupClient and DeleteVault give their space back; DeleteBackupPlan keeps it', { timeout: 120_000 }, async () => {
    // DeleteSnapshot: C's second snapshot added 2 MiB of its own.
    w.change(C, 2 * MiB);
    const j2 = await w.backup(C, vaultId, 'second backup of C');
    const ex2 = await exclusiveBytes(w.api, C.client);
    let size = await storageSize(w.api, vaultId);
    await w.api.ok('DeleteSnapshot', { SnapshotId: j2.SnapshotId });
    w.snaps.delete(j2.SnapshotId);
    await waitFor(() => storageSize(w.api, vaultId), (s) => size - s >= 0.9 * 2 * MiB,
      `StorageSize (was ${size}) falls by the deleted snapshot's 2 MiB`);
    await waitFor(() => exclusiveBytes(w.api, C.client), (e) => ex2 - e >= 0.9 * 2 * MiB,
      `C's ExclusiveBytes (was ${ex2}) falls with it`);

    // DeleteBackupPlan keeps the plan's snapshots, and their data.
    await gcAndCheck(srv.dataDir, vaultId, 'after DeleteSnapshot');
    size = await storageSize(w.api, vaultId);
    await w.api.ok('DeleteBackupPlan', { PlanId: C.plan, VaultId: vaultId });
    C.plan = null;
    await gcAndCheck(srv.dataDir, vaultId, 'after DeleteBackupPlan');
    assert.equal(await storageSize(w.api, vaultId), size, 'DeleteBackupPlan frees nothing');
    assert.equal((await snapshotsOf(w.api, vaultId, C.inst)).length, 1);

    // DeleteBackupClient (after UninstallBackupClients) frees the client's data.
    const D = await w.agent('d', { small: 20, large: [2 * MiB] });
    await w.backup(D, vaultId, 'backup of D');
    const exD = await exclusiveBytes(w.api, D.client);
    size = await storageSize(w.api, vaultId);
    await w.api.ok('UninstallBackupClients', { ClientIds: JSON.stringify([D.client]) });
    await w.api.ok('DeleteBackupClient', { ClientId: D.client });
    await waitFor(() => storageSize(w.api, vaultId), (s) => size - s >= 0.9 * exD,
      `StorageSize (was ${size}) falls by D's ${exD} exclusive bytes`);

    // DeleteVault: a second vault's data goes with its directory, and
    // nobody holds anything in it any more.
    await gcAndCheck(srv.dataDir, vaultId, 'after DeleteBackupClient');
    const exC = await exclusiveBytes(w.api, C.client);
    const v2 = (await createVault(w.api)).VaultId;
    C.plan = null;
    await w.backup(C, v2, 'backup of C into a second vault');
    assert.ok(await exclusiveBytes(w.api, C.client) > exC + 3 * MiB, 'the second vault counts for C');
    assert.ok(await storageSize(w.api, v2) > 3 * MiB);
    await w.api.ok('DeleteVault', { VaultId: v2 });
    assert.equal(fs.existsSync(path.join(srv.dataDir, 'vaults', v2)), false, 'the vault directory is gone');
    assert.equal(await exclusiveBytes(w.api, C.client), exC, 'C holds nothing in the deleted vault');

    await gcAndCheck(srv.dataDir, vaultId, 'at the end');
    assert.equal(await w.restoreAll(vaultId, 'what remains'), 1);
  });
});

describe('the client left holds what it shared', { timeout: 200_000 }, () => {
  // X backs the shared file up first, Y deduplicates against it. Once X
  // is deleted and reclaimed, Y alone references the file: deleting Y
  // would free it, so Y's ExclusiveBytes must count it (migration 8's
  // scheme made the first client the file's owner and, once X went,
  // counted it for nobody).
  const SHARED = noise('reclaim-left-shared', 4 * MiB);
  let srv;
  let w;
  let vaultId;

  before(async () => {
    srv = await startServer();
    w = new World(srv, makeTempDir('hbr-reclaim-l-'));
    vaultId = (await createVault(w.api)).VaultId;
  });
  after(() => srv && srv.kill9());

  test('DeleteBackupClientResource of the first to store shared data: the other client\'s ExclusiveBytes takes it in, exactly', { timeout: 150_000 }, async () => {
    const opts = { small: 30, large: [3 * MiB, 256 * KiB] };
    const X = await w.agent('x', opts, SHARED);
    const Y = await w.agent('y', opts, SHARED);
    const jx = await w.backup(X, vaultId, 'backup of X');
    const jy = await w.backup(Y, vaultId, 'backup of Y');
    w.change(Y);
    const jy2 = await w.backup(Y, vaultId, 'second backup of Y');
    const exX = await exclusiveBytes(w.api, X.client);
    const exY = await exclusiveBytes(w.api, Y.client);
    // Both hold their own data alone, neither the file they share.
    assert.ok(exX > 3 * MiB && exX < jx.ActualBytes - 3.5 * MiB,
      `X: ExclusiveBytes ${exX} covers its own data, not the shared file (stored ${jx.ActualBytes})`);
    assert.ok(Math.abs(exY - (jy.ActualBytes + jy2.ActualBytes)) <= 0.05 * exY + 256 * KiB,
      `Y: ExclusiveBytes ${exY} ~ the ${jy.ActualBytes} + ${jy2.ActualBytes} bytes its backups stored`);
    assert.deepEqual((await assertClean(srv.dataDir, vaultId, 'before the deletion')).ExclusiveBytes,
      { [X.client]: exX, [Y.client]: exY }, 'check recounts what DescribeBackupClients shows');

    const before = await storageSize(w.api, vaultId);
    await w.api.ok('DeleteBackupClientResource', { ClientIds: JSON.stringify([X.client]) });
    await waitFor(() => exclusiveBytes(w.api, X.client), (e) => e === 0, 'X holds nothing alone');
    const exY2 = await waitFor(() => exclusiveBytes(w.api, Y.client), (e) => e >= exY + 3.9 * MiB,
      `Y's ExclusiveBytes (was ${exY}) takes in the 4 MiB shared file`);
    const freed = before - (await storageSize(w.api, vaultId));
    assert.ok(freed >= 0.9 * exX && freed <= exX * 1.05 + 256 * KiB,
      `deleting X freed ${freed} bytes ~ its ${exX} exclusive bytes; the shared file stayed`);
    const report = await assertClean(srv.dataDir, vaultId, 'after X is reclaimed');
    assert.equal(report.ExclusiveVerified, true, 'check recounted the holders from the refs objects');
    assert.equal(report.ExclusiveRecountPending, false);
    assert.deepEqual(report.ExclusiveBytes, { [Y.client]: exY2 }, 'check recounts what DescribeBackupClients shows');
    const [snap] = await snapshotsOf(w.api, vaultId, Y.inst);
    await w.restore(snap.SnapshotId, vaultId, 'Y after X is gone');

    // What Y's figure announced is what deleting Y gives back, shared
    // file included.
    const size = await storageSize(w.api, vaultId);
    await w.api.ok('DeleteBackupClientResource', { ClientIds: JSON.stringify([Y.client]) });
    await waitFor(() => exclusiveBytes(w.api, Y.client), (e) => e === 0, 'Y holds nothing alone');
    const left = await gcAndCheck(srv.dataDir, vaultId, 'after Y is reclaimed');
    const freedY = size - (await storageSize(w.api, vaultId));
    assert.ok(freedY >= 0.95 * exY2 && freedY <= exY2 * 1.05 + 256 * KiB,
      `deleting Y freed ${freedY} bytes ~ the ${exY2} its ExclusiveBytes announced`);
    assert.deepEqual(left.ExclusiveBytes, {});
  });
});

describe('retention gives its space back', { timeout: 200_000 }, () => {
  // hbrd's clock is moved two days on (--clock-file, docs/SCHEDULER.md):
  // the plan keeps snapshots one day, so the first snapshot expires and
  // retention (the commit of the next backup, or the scheduler's pass)
  // deletes it; what only it held must come back like any deletion's.
  let srv;
  let w;
  let vaultId;
  let clockFile;

  before(async () => {
    clockFile = path.join(makeTempDir('hbr-reclaim-clock-'), 'clock');
    fs.writeFileSync(clockFile, '0\n');
    srv = await startServer({ args: ['--clock-file', clockFile, '--sched-tick-ms', '100'] });
    w = new World(srv, makeTempDir('hbr-reclaim-r-'));
    vaultId = (await createVault(w.api)).VaultId;
  });
  after(() => srv && srv.kill9());

  test('a snapshot past its plan\'s Retention is deleted and what it alone held is reclaimed', { timeout: 150_000 }, async () => {
    const R = await w.agent('r', { small: 20, large: [3 * MiB, 1 * MiB] });
    R.plan = await createPlan(w.api, {
      vaultId, instanceId: R.inst,
      extra: { Path: [R.src], Retention: 1, Schedule: `I|${Math.floor(Date.now() / 1000)}|P30D` },
    });
    const j1 = await w.backup(R, vaultId, 'first backup');
    const s1size = await storageSize(w.api, vaultId);
    // The large files change completely: 4 MiB only the first snapshot
    // will hold.
    for (const [name, n] of [['L0.img', 3 * MiB], ['L1.img', 1 * MiB]]) {
      fs.writeFileSync(path.join(R.src, 'large', name), noise(`r-new-${name}-${uniq()}`, n));
    }
    const tmp = `${clockFile}.tmp`;
    fs.writeFileSync(tmp, `${2 * 86400}\n`);
    fs.renameSync(tmp, clockFile);
    await sleep(500); // a few scheduler ticks read the file
    const j2 = await w.backup(R, vaultId, 'backup two days later');
    const snaps = await waitFor(() => snapshotsOf(w.api, vaultId, R.inst), (v) => v.length === 1,
      'the expired snapshot is deleted by retention');
    assert.equal(snaps[0].SnapshotId, j2.SnapshotId, 'the newer snapshot stays');
    assert.notEqual(snaps[0].SnapshotId, j1.SnapshotId);
    // The space: the first snapshot's 4 MiB of large files go; what the
    // second added stays.
    const want = s1size + j2.ActualBytes - 3.6 * MiB;
    const got = await waitFor(() => storageSize(w.api, vaultId), (v) => v <= want,
      `StorageSize falls to ${want} (was ${s1size} + ${j2.ActualBytes} added)`);
    assert.ok(got >= j2.ActualBytes, `StorageSize ${got} still holds the second snapshot's ${j2.ActualBytes} bytes`);
    await w.restore(j2.SnapshotId, vaultId, 'the snapshot retention kept');
    await assertClean(srv.dataDir, vaultId, 'after retention');
    await gcAndCheck(srv.dataDir, vaultId, 'after retention');
  });
});

describe('backups never wait for reclamation', { timeout: 240_000 }, () => {
  const SHARED = noise('reclaim-shared-b', 2 * MiB);
  const ROUNDS = 8;
  let srv;
  let w;
  let vaultId;

  before(async () => {
    srv = await startServer();
    w = new World(srv, makeTempDir('hbr-reclaim-b-'));
    vaultId = (await createVault(w.api)).VaultId;
  });
  after(() => srv && srv.kill9());

  test('a chunk a running backup deduplicates against is never removed under it', { timeout: 120_000 }, async () => {
    // P's data is deleted and reclaimed while S's backup, which holds a
    // copy of it, runs (slowly, on a 1 MiB file of its own at 512 KB/s).
    const P = await w.agent('p', { small: 10, large: [2 * MiB] });
    const S = await w.agent('s', { small: 10, large: [64 * KiB] });
    await w.backup(P, vaultId, 'backup of P');
    fs.copyFileSync(path.join(P.src, 'large', 'L0.img'), path.join(S.src, 'from-p.img'));
    fs.writeFileSync(path.join(S.src, 'slow.bin'), noise(uniq('slow'), 1 * MiB));
    S.plan = await createPlan(w.api, { vaultId, instanceId: S.inst, extra: { Path: [S.src], SpeedLimit: '0:24:512' } });
    const tree = describeTree(S.src);
    const { JobId } = await w.api.ok('ExecuteBackupPlan', { PlanId: S.plan });
    const agent = run(clientPath(), ['run', '--once', '--state-dir', S.state], AGENT_TIMEOUT_MS);
    await waitFor(() => job(w.api, JobId), (j) => j.Status !== 'QUEUED' && j.Status !== 'RUNNING' || j.BytesDone > 0,
      'S\'s backup is running');
    assert.equal((await job(w.api, JobId)).Status, 'RUNNING', 'S\'s backup is still running when P\'s data goes');
    await w.api.ok('DeleteBackupClientResource', { ClientIds: JSON.stringify([P.client]) });
    await waitFor(() => exclusiveBytes(w.api, P.client), (e) => e === 0, 'P\'s references are applied');
    const g = await vaultCmd(srv.dataDir, 'gc', vaultId);
    assert.equal(g.code, 0, `vault gc during the backup: ${g.stderr}`);
    assert.equal((await job(w.api, JobId)).Status, 'RUNNING', 'the reclamation ran while S\'s backup ran');
    await assertClean(srv.dataDir, vaultId, 'check during the backup');
    const r = await agent;
    assert.equal(r.code, 0, `S's agent: ${r.stderr.slice(-3000)}`);
    const j = await job(w.api, JobId);
    assert.equal(j.Status, 'COMPLETE', JSON.stringify(j));
    // Every chunk it was told the vault had stayed: the commit was not
    // refused (the agent would run the backup again and send P's data).
    assert.doesNotMatch(r.stderr, /commit refused/, 'S\'s first commit went through');
    assert.ok(j.ActualBytes < 1 * MiB + 512 * KiB, `S stored ${j.ActualBytes} bytes; P's 2 MiB were deduplicated`);
    w.snaps.set(j.SnapshotId, { agent: S, tree });
    await w.restore(j.SnapshotId, vaultId, 'S after P was reclaimed under it');
    await gcAndCheck(srv.dataDir, vaultId, 'after S\'s backup');
    w.snaps.delete(j.SnapshotId);
    await w.api.ok('DeleteBackupClientResource', { ClientIds: JSON.stringify([S.client]) });
    await gcAndCheck(srv.dataDir, vaultId, 'after S is deleted too');
  });

  test('one client keeps backing up while the others\' data is deleted and reclaimed; everything left restores', { timeout: 220_000 }, async () => {
    const opts = { small: 30, large: [1 * MiB, 128 * KiB] };
    const [A, B, C, D] = [await w.agent('a', opts, SHARED), await w.agent('b', opts, SHARED),
      await w.agent('c', opts, SHARED), await w.agent('d', opts, SHARED)];
    for (const X of [B, C, D]) {
      await w.backup(X, vaultId, `first backup of ${X.tag}`);
      w.change(X);
      await w.backup(X, vaultId, `second backup of ${X.tag}`);
    }
    const cFirst = (await snapshotsOf(w.api, vaultId, C.inst))[0].SnapshotId;
    await w.backup(A, vaultId, 'first backup of A');

    const checks = [];
    // A: a bounded loop of incremental backups of a changing tree, which
    // takes in copies of B's and D's data just as they are deleted, so
    // that it deduplicates against chunks being reclaimed.
    const loopA = (async () => {
      for (let i = 0; i < ROUNDS; i++) {
        w.change(A);
        if (i === 1) fs.copyFileSync(path.join(B.src, 'large', 'L0.img'), path.join(A.src, 'from-b.img'));
        if (i === 3) fs.copyFileSync(path.join(D.src, 'large', 'L0.img'), path.join(A.src, 'from-d.img'));
        if (i === 5) fs.rmSync(path.join(A.src, 'from-b.img'));
        await w.backup(A, vaultId, `backup ${i + 2} of A`);
      }
    })();
    // C: two more backups meanwhile.
    const loopC = (async () => {
      for (let i = 0; i < 2; i++) {
        await sleep(150 + rand(300));
        w.change(C);
        await w.backup(C, vaultId, `backup ${i + 3} of C`);
      }
    })();
    // The deletions, with reclamation in hbrd and by `hbrd vault gc`,
    // and checks of the vault beside both.
    const deleter = (async () => {
      await sleep(100 + rand(300));
      await w.api.ok('DeleteBackupClientResource', { ClientIds: JSON.stringify([B.client]) });
      await sleep(rand(300));
      const [g, c] = await Promise.all([vaultCmd(srv.dataDir, 'gc', vaultId), vaultCmd(srv.dataDir, 'check', vaultId)]);
      assert.equal(g.code, 0, `vault gc beside backups: ${g.stderr}`);
      checks.push(c);
      await w.api.ok('DeleteSnapshot', { SnapshotId: cFirst });
      await sleep(rand(400));
      await w.api.ok('DeleteBackupClientResource', { ClientIds: JSON.stringify([D.client]) });
      for (let i = 0; i < 3; i++) {
        await sleep(rand(300));
        checks.push(await vaultCmd(srv.dataDir, i === 1 ? 'gc' : 'check', vaultId));
      }
    })();
    await Promise.all([loopA, loopC, deleter]);
    for (const c of checks) {
      assert.equal(c.code, 0, `vault ${c.json && c.json.Errors ? 'check' : 'gc'} during the backups: ${c.stdout} ${c.stderr}`);
      if (c.json && c.json.Errors) assert.deepEqual(c.json.Errors, []);
    }
    for (const s of [...w.snaps.keys()]) {
      const { agent } = w.snaps.get(s);
      if (agent === B || agent === D || s === cFirst) w.snaps.delete(s);
    }

    await gcAndCheck(srv.dataDir, vaultId, 'after the concurrent phase');
    for (const X of [B, D]) {
      assert.equal((await snapshotsOf(w.api, vaultId, X.inst)).length, 0, `${X.tag} has no snapshot left`);
      assert.equal(await exclusiveBytes(w.api, X.client), 0, `${X.tag} holds nothing alone`);
    }
    const n = await w.restoreAll(vaultId, 'after backups ran beside reclamation');
    assert.equal(n, ROUNDS + 1 + 3, 'A\'s snapshots and C\'s last three remain');
  });
});

describe('kill -9 at random points of deletion and reclamation', { timeout: 290_000 }, () => {
  const SHARED = noise('reclaim-shared-c', 512 * KiB);
  const KILLS = 22; // crash-point kills wanted (the issue asks for 20 or more)
  const TIMED = 3; // and kill -9 during the deletion call itself
  const ITERATIONS = 90;
  const BUDGET_MS = 170_000;
  let srv;

  after(() => srv && srv.kill9());

  /** Start hbrd that kills itself at its n-th crash point; null when it
   * did so already while starting (resuming earlier work). */
  async function startCrashing(dataDir, port, n) {
    try {
      return await startServer({ dataDir, port, env: { HBR_CRASH_AT: String(n) } });
    } catch (e) {
      if (/crashpoint \d+: /.test(e.message)) return null;
      throw e;
    }
  }

  async function diedWithin(s, ms) {
    let timer;
    await Promise.race([s.exited, new Promise((r) => { timer = setTimeout(r, ms); })]);
    clearTimeout(timer);
    return !s.alive();
  }

  test('hbrd resumes by itself; the vault is consistent after every kill; what remains restores', { timeout: 280_000 }, async (t) => {
    srv = await startServer();
    const { dataDir, port } = srv;
    const w = new World(srv, makeTempDir('hbr-reclaim-c-'));
    const vaultId = (await createVault(w.api)).VaultId;
    const opts = { small: 12, large: [384 * KiB] };
    const agents = [await w.agent('p', opts, SHARED), await w.agent('q', opts, SHARED), await w.agent('r', opts, SHARED)];
    for (const X of agents) await w.backup(X, vaultId, `first backup of ${X.tag}`);

    let kills = 0;
    let timed = 0;
    let startupKills = 0;
    let maxN = 12;
    const deadline = Date.now() + BUDGET_MS;
    const restartClean = async () => {
      srv = await startServer({ dataDir, port });
      w.setServer(srv);
    };
    for (let iter = 1; iter <= ITERATIONS && (kills < KILLS || timed < TIMED) && Date.now() < deadline; iter++) {
      // New data (something for reclamation to do), then a deletion.
      // A change stores a new 24 KiB file and a 64 KiB block: once the
      // block is rewritten again, the pack is mostly dead and the
      // deletion of the older snapshot makes reclamation rewrite it.
      const X = agents[rand(agents.length)];
      w.change(X, 24 * KiB);
      await w.backup(X, vaultId, `iteration ${iter}: backup of ${X.tag}`);
      const mine = await snapshotsOf(w.api, vaultId, X.inst);
      // p loses only its oldest snapshot each time, so some snapshots
      // live through many kills; q and r lose everything now and then.
      const op = mine.length >= 2 && (X === agents[0] || rand(10) < 6) ?
        { action: 'DeleteSnapshot', params: { SnapshotId: mine[0].SnapshotId } } :
        { action: 'DeleteBackupClientResource', params: { ClientIds: JSON.stringify([X.client]) } };
      if (op.action !== 'DeleteSnapshot') X.plan = null;
      const timedKill = timed < TIMED && iter % 7 === 0;
      const n = 1 + rand(maxN);

      await srv.kill9();
      if (timedKill) {
        await restartClean();
      } else {
        const s = await startCrashing(dataDir, port, n);
        if (!s) {
          // Died resuming the previous iteration's work: a kill too.
          kills++;
          startupKills++;
          await assertClean(dataDir, vaultId, `iteration ${iter}: after a kill while starting (N=${n})`);
          await restartClean();
          await assertClean(dataDir, vaultId, `iteration ${iter}: restarted after a kill while starting`);
          continue;
        }
        srv = s;
        w.setServer(srv);
      }
      const answer = w.api.call(op.action, op.params).catch((e) => e);
      let died;
      if (timedKill) {
        await sleep(rand(15));
        await srv.kill9();
        await answer;
        timed++;
        died = true;
      } else {
        await answer;
        died = await diedWithin(srv, 4000);
        if (died) {
          assert.match(srv.logTail(5), /crashpoint \d+: /, `iteration ${iter}: hbrd died, but not at a crash point`);
          kills++;
          maxN = Math.min(16, maxN + 2);
        } else {
          maxN = Math.max(2, n - 1);
        }
      }
      const what = `iteration ${iter}: ${op.action}, ${died ? `killed (${timedKill ? 'timed' : `N=${n}`})` : 'not killed'}`;
      await assertClean(dataDir, vaultId, what);
      if (died) {
        // Restarted, hbrd resumes the work by itself; checked beside it.
        await restartClean();
        await assertClean(dataDir, vaultId, `${what}, restarted`);
      }
    }
    const where = {};
    for (const m of fs.readFileSync(srv.logFile, 'utf8').matchAll(/crashpoint \d+: ([^:]+: [^:]+): killing/g)) {
      where[m[1]] = (where[m[1]] || 0) + 1;
    }
    t.diagnostic(`${kills} crash-point kills (${startupKills} while starting), ${timed} timed; at ${JSON.stringify(where)}`);
    assert.ok(kills >= 20, `at least 20 crash-point kills (got ${kills}, ${startupKills} while starting; ${timed} timed)`);

    if (!srv.alive()) await restartClean();
    await gcAndCheck(dataDir, vaultId, 'after the kills');
    // Every snapshot that remains restores exactly; the deleted ones are gone.
    const live = await snapshotsOf(w.api, vaultId);
    for (const id of [...w.snaps.keys()]) if (!live.find((s) => s.SnapshotId === id)) w.snaps.delete(id);
    assert.ok(live.length >= 1, 'something remains to restore');
    await w.restoreAll(vaultId, 'after the kills');
  });
});
