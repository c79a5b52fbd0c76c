// Backup and restore with real data (issue 4): a real hbrd and two real
// hbr-client agents on loopback back up generated trees into a vault and
// restore them byte for byte with their metadata; dedup across clients,
// incremental runs, unreadable files, cancel, and kill -9 of the agent
// and of hbrd in the middle of a backup.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { clientPath, hbrdPath, makeTempDir, sleep, startServer } = require('./lib/hbr');
const {
  Api, ID, assertError, createPlan, createVault, installClients, uniq,
} = require('./lib/api');
const { MiB, assertSameTree, describeTree, makeTree, noise } = require('./lib/fstree');

const T = { timeout: 120_000 };
const AGENT_TIMEOUT_MS = 90_000;
const WAIT_MS = 60_000;

/** 6 KiB of text: a compressible seam between two noise halves. */
function text6k() {
  return 'the quick brown fox jumps over the lazy dog\n'.repeat(140).slice(0, 6144);
}

function registerAgent(srv, inst, stateDir) {
  const r = spawnSync(clientPath(), ['register', '--endpoint', srv.endpoint,
    '--access-key-id', srv.creds.AccessKeyId, '--access-key-secret', srv.creds.AccessKeySecret,
    '--instance-id', inst, '--hostname', inst, '--state-dir', stateDir], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, `register: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Chunks of changed files the agent matched by fingerprint (HBR_LOG=debug). */
function fpMatched(stderr) {
  const m = /(\d+) chunks \(([\d.]+) MiB\) of changed files matched/.exec(stderr);
  assert.ok(m, `no fingerprint line in:\n${stderr.slice(-2000)}`);
  return Number(m[1]);
}

/** hbrd vault VERB --data-dir DIR VAULT_ID, as its own process. */
function vaultCmd(dataDir, verb, vaultId) {
  return new Promise((resolve) => {
    const p = spawn(hbrdPath(), ['vault', verb, '--data-dir', dataDir, vaultId], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.once('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** hbr-client run --once to the end; returns {status, stderr}. */
function runOnce(stateDir, wrap = [], env = process.env) {
  const args = [...wrap, clientPath(), 'run', '--once', '--state-dir', stateDir];
  const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8', timeout: AGENT_TIMEOUT_MS, env });
  if (r.error) throw r.error;
  return { status: r.status, stderr: r.stderr };
}

/** hbr-client run --once in the background. */
function spawnAgent(stateDir) {
  const log = path.join(stateDir, '..', `agent-${Date.now()}.log`);
  const fd = fs.openSync(log, 'a');
  const proc = spawn(clientPath(), ['run', '--once', '--state-dir', stateDir], { stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  return { proc, exited, log: () => fs.readFileSync(log, 'utf8') };
}

async function exitsWithin(agent, ms) {
  let timer;
  const r = await Promise.race([agent.exited, new Promise((res) => { timer = setTimeout(() => res(null), ms); })]);
  clearTimeout(timer);
  return r;
}

async function job(api, jobId) {
  const r = await api.ok('DescribeBackupJobs2', { SourceType: 'ECS_FILE', Filters: [{ Key: 'JobId', Values: [jobId] }] });
  return r.BackupJobs.BackupJob[0];
}

/** Poll until pred(job) holds (bounded). */
async function waitJob(api, jobId, pred, what, ms = WAIT_MS) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await job(api, jobId);
    if (last && pred(last)) return last;
    await sleep(100);
  }
  assert.fail(`${what}: job ${jobId} is ${JSON.stringify(last)}`);
}

async function restoreJob(api, restoreId) {
  const r = await api.ok('DescribeRestoreJobs2', { Filters: [{ Key: 'RestoreId', Values: [restoreId] }] });
  return r.RestoreJobs.RestoreJob[0];
}

async function snapshotsOf(api, vaultId, instanceId) {
  const b = await api.ok('SearchHistoricalSnapshots', {
    SourceType: 'ECS_FILE', Limit: 100,
    Query: JSON.stringify([{ field: 'VaultId', value: vaultId, operation: 'MATCH_TERM' },
      { field: 'InstanceId', value: instanceId, operation: 'MATCH_TERM' }]),
  });
  return b.Snapshots.Snapshot;
}

describe('backup and restore', { timeout: 600_000 }, () => {
  let srv;
  let api;
  let vaultId;
  let work;
  const A = {};
  const B = {};

  before(async () => {
    srv = await startServer();
    api = new Api(srv, srv.creds, 'oac-v3');
    vaultId = (await createVault(api)).VaultId;
    A.inst = uniq('i-a');
    B.inst = uniq('i-b');
    await installClients(api, [A.inst, B.inst]);
    work = makeTempDir('hbr-backup-');
    for (const X of [A, B]) {
      X.state = path.join(work, `state-${X.inst}`);
      X.client = registerAgent(srv, X.inst, X.state).ClientId;
    }
    // A and B share their large files (dedup across clients) but not
    // their small ones.
    A.src = path.join(work, 'src-a');
    B.src = path.join(work, 'src-b');
    A.tree = makeTree(A.src, { seed: 'a' });
    B.tree = makeTree(B.src, { seed: 'b', small: 50 });
    for (const name of fs.readdirSync(path.join(A.src, 'large'))) {
      fs.copyFileSync(path.join(A.src, 'large', name), path.join(B.src, 'large', name));
    }
  });
  after(() => srv && srv.kill9());

  async function backup(X, what, extra = {}, env = undefined) {
    if (!X.plan) {
      X.plan = await createPlan(api, { vaultId, instanceId: X.inst, extra: { Path: [X.src], ...extra } });
    }
    const { JobId } = await api.ok('ExecuteBackupPlan', { PlanId: X.plan });
    const r = runOnce(X.state, [], env);
    assert.equal(r.status, 0, `${what}: hbr-client run --once exit ${r.status}; stderr:\n${r.stderr.slice(-3000)}`);
    const j = await job(api, JobId);
    assert.equal(j.Status, 'COMPLETE', `${what}: ${JSON.stringify(j)}`);
    j.stderr = r.stderr;
    return j;
  }

  async function restore(snapshotId, target, targetPath, what) {
    const { RestoreId } = await api.ok('CreateRestoreJob', {
      RestoreType: 'ECS_FILE', SourceType: 'ECS_FILE', SnapshotId: snapshotId, VaultId: vaultId,
      TargetInstanceId: target.inst, TargetPath: targetPath,
    });
    const r = runOnce(target.state);
    assert.equal(r.status, 0, `${what}: restore run exit ${r.status}; stderr:\n${r.stderr.slice(-3000)}`);
    const rj = await restoreJob(api, RestoreId);
    assert.equal(rj.Status, 'COMPLETE', `${what}: ${JSON.stringify(rj)}`);
    return rj;
  }

  test('full backup, restore elsewhere on another client and in place, byte for byte', T, async () => {
    const before1 = describeTree(A.src, { xattrs: A.tree.xattrs });
    const j = await backup(A, 'first backup of A');
    assert.ok(j.BytesTotal >= A.tree.bytes, `BytesTotal ${j.BytesTotal} >= ${A.tree.bytes}`);
    assert.equal(j.BytesDone, j.BytesTotal);
    assert.equal(j.Progress, 100);
    assert.ok(j.ItemsDone >= A.tree.files, `ItemsDone ${j.ItemsDone}`);
    assert.ok(j.ActualBytes > 0 && j.ActualBytes <= j.BytesTotal, `ActualBytes ${j.ActualBytes}`);

    const snaps = await snapshotsOf(api, vaultId, A.inst);
    assert.equal(snaps.length, 1);
    const s = snaps[0];
    assert.match(s.SnapshotId, ID.snapshot);
    assert.equal(s.JobId, j.JobId);
    assert.equal(s.Status, 'COMPLETE');
    assert.equal(s.ClientId, A.client);
    assert.equal(s.BytesTotal, j.BytesTotal);
    assert.deepEqual(s.Paths.Path, [A.src]);
    A.snap1 = s.SnapshotId;
    A.desc1 = before1;

    // To another path, on the other client.
    const dst = path.join(work, 'restore-b');
    await restore(A.snap1, B, dst, 'restore of A on B');
    assertSameTree(before1, describeTree(path.join(dst, A.src), { xattrs: A.tree.xattrs }), 'restore on B');

    // In place, on the same client, after the source is gone.
    fs.rmSync(A.src, { recursive: true });
    await restore(A.snap1, A, '/', 'restore of A in place');
    assertSameTree(before1, describeTree(A.src, { xattrs: A.tree.xattrs }), 'restore in place');
  });

  test('a second client storing the same large files adds only its own data', T, async () => {
    const j = await backup(B, 'first backup of B');
    const large = fs.readdirSync(path.join(B.src, 'large'))
      .reduce((n, f) => n + fs.statSync(path.join(B.src, 'large', f)).size, 0);
    assert.ok(j.BytesTotal > large, `B read ${j.BytesTotal} bytes`);
    assert.ok(j.ActualBytes < (j.BytesTotal - large) + 256 * 1024,
      `B stored ${j.ActualBytes} bytes; its large files (${large} bytes) were already in the vault`);
  });

  test('incremental backup stores only the change; both snapshots restore exactly', T, async () => {
    const big = path.join(A.src, 'large', 'L0.img');
    const fd = fs.openSync(big, 'r+');
    fs.writeSync(fd, noise('change', 64 * 1024), 0, 64 * 1024, 1 * MiB);
    fs.closeSync(fd);
    fs.writeFileSync(path.join(A.src, 'small', 'added.txt'), 'a new file\n');
    fs.rmSync(path.join(A.src, 'small', 'd00', 'f3.txt'));
    fs.chmodSync(path.join(A.src, 'meta', 'script.sh'), 0o700);
    const desc2 = describeTree(A.src, { xattrs: A.tree.xattrs });

    const j = await backup(A, 'second backup of A');
    assert.ok(j.ActualBytes < 1 * MiB, `incremental stored ${j.ActualBytes} bytes for a 64 KiB change`);
    const snaps = await snapshotsOf(api, vaultId, A.inst);
    assert.equal(snaps.length, 2);
    const s2 = snaps.find((s) => s.JobId === j.JobId);
    assert.ok(s2, 'the second snapshot is listed');

    const d2 = path.join(work, 'restore-2');
    await restore(s2.SnapshotId, A, d2, 'restore of snapshot 2');
    assertSameTree(desc2, describeTree(path.join(d2, A.src), { xattrs: A.tree.xattrs }), 'snapshot 2');
    const d1 = path.join(work, 'restore-1');
    await restore(A.snap1, A, d1, 'restore of snapshot 1');
    assertSameTree(A.desc1, describeTree(path.join(d1, A.src), { xattrs: A.tree.xattrs }), 'snapshot 1 after 2');
  });

  test('a file that cannot be read is skipped and listed: PARTIAL_COMPLETE', T, async () => {
    const X = { inst: uniq('i-p') };
    await installClients(api, [X.inst]);
    X.state = path.join(work, 'state-p');
    registerAgent(srv, X.inst, X.state);
    X.src = path.join(work, 'src-p');
    fs.mkdirSync(X.src);
    fs.writeFileSync(path.join(X.src, 'ok.txt'), 'readable\n');
    fs.writeFileSync(path.join(X.src, 'locked.txt'), 'secret\n');
    fs.chmodSync(path.join(X.src, 'locked.txt'), 0o000);
    X.plan = await createPlan(api, { vaultId, instanceId: X.inst, extra: { Path: [X.src] } });
    const { JobId } = await api.ok('ExecuteBackupPlan', { PlanId: X.plan });
    // As root the agent would read anything: drop the capabilities that
    // bypass file permissions.
    const wrap = process.getuid() === 0 ?
      ['setpriv', '--inh-caps=-dac_override,-dac_read_search', '--bounding-set=-dac_override,-dac_read_search'] : [];
    runOnce(X.state, wrap);
    const j = await job(api, JobId);
    assert.equal(j.Status, 'PARTIAL_COMPLETE', JSON.stringify(j));
    const [s] = await snapshotsOf(api, vaultId, X.inst);
    assert.equal(s.Status, 'PARTIAL_COMPLETE');
    assert.match(s.ErrorFile, /locked\.txt/);
  });

  /** A plan whose job uploads at 512 KB/s, so it is still running when poked. */
  async function slowJob(X, mib) {
    X.src = path.join(work, `src-slow-${uniq('x')}`);
    fs.mkdirSync(X.src);
    fs.writeFileSync(path.join(X.src, 'big.bin'), noise(uniq('slow'), mib * MiB));
    X.plan = await createPlan(api, { vaultId, instanceId: X.inst, extra: { Path: [X.src], SpeedLimit: '0:24:512' } });
    return (await api.ok('ExecuteBackupPlan', { PlanId: X.plan })).JobId;
  }

  const started = (j) => j.Status === 'RUNNING' && j.BytesDone > 0;

  test('a cancelled job stops within seconds and commits nothing', T, async () => {
    const X = { inst: uniq('i-c') };
    await installClients(api, [X.inst]);
    X.state = path.join(work, 'state-c');
    registerAgent(srv, X.inst, X.state);
    const jobId = await slowJob(X, 8);
    const agent = spawnAgent(X.state);
    await waitJob(api, jobId, started, 'slow job starts');
    await api.ok('CancelBackupJob', { JobId: jobId });
    const ex = await exitsWithin(agent, 10_000);
    assert.ok(ex, `the agent stops within 10 s of the cancel; log:\n${agent.log().slice(-2000)}`);
    assert.equal((await job(api, jobId)).Status, 'CANCELED');
    assert.equal((await snapshotsOf(api, vaultId, X.inst)).length, 0, 'no snapshot for a cancelled job');
  });

  test('kill -9 of the agent mid-backup: the restarted agent finishes the job', T, async () => {
    const X = { inst: uniq('i-k') };
    await installClients(api, [X.inst]);
    X.state = path.join(work, 'state-k');
    registerAgent(srv, X.inst, X.state);
    const jobId = await slowJob(X, 4);
    const want = describeTree(X.src);
    const agent = spawnAgent(X.state);
    await waitJob(api, jobId, started, 'slow job starts');
    agent.proc.kill('SIGKILL');
    await agent.exited;
    const r = runOnce(X.state);
    assert.equal(r.status, 0, `restarted agent: ${r.stderr.slice(-2000)}`);
    assert.equal((await job(api, jobId)).Status, 'COMPLETE');
    const [s] = await snapshotsOf(api, vaultId, X.inst);
    const dst = path.join(work, 'restore-k');
    await restore(s.SnapshotId, X, dst, 'restore after agent kill');
    assertSameTree(want, describeTree(path.join(dst, X.src)), 'after agent kill -9');
  });

  test('kill -9 of the agent, then the job cancelled: the next start removes its partial files', T, async () => {
    const X = { inst: uniq('i-o') };
    await installClients(api, [X.inst]);
    X.state = path.join(work, 'state-o');
    registerAgent(srv, X.inst, X.state);
    const jobId = await slowJob(X, 4);
    const agent = spawnAgent(X.state);
    await waitJob(api, jobId, started, 'slow job starts');
    agent.proc.kill('SIGKILL');
    await agent.exited;
    const trees = path.join(X.state, 'trees');
    const partial = () => fs.readdirSync(trees).filter((n) => n.endsWith('.part') || n.endsWith('.tmp'));
    assert.deepEqual(partial().sort(), [`${jobId}.idx.part`, `${jobId}.part`], 'the killed backup left its tree and index');
    await api.ok('CancelBackupJob', { JobId: jobId });
    const r = runOnce(X.state);
    assert.equal(r.status, 0, `agent after the cancel: ${r.stderr.slice(-2000)}`);
    assert.deepEqual(partial(), [], 'nothing of the cancelled job is left');
    assert.match(r.stderr, /removed 2 file\(s\) that interrupted jobs left/);
  });

  test('kill -9 of hbrd mid-upload: after a restart the job completes and restores', T, async () => {
    const X = { inst: uniq('i-s') };
    await installClients(api, [X.inst]);
    X.state = path.join(work, 'state-s');
    registerAgent(srv, X.inst, X.state);
    const jobId = await slowJob(X, 4);
    const want = describeTree(X.src);
    const agent = spawnAgent(X.state);
    await waitJob(api, jobId, started, 'slow job starts');
    await srv.kill9();
    agent.proc.kill('SIGKILL');
    await agent.exited;
    srv = await startServer({ dataDir: srv.dataDir, port: srv.port });
    api = new Api(srv, srv.creds, 'oac-v3');
    const r = runOnce(X.state);
    assert.equal(r.status, 0, `agent after hbrd restart: ${r.stderr.slice(-2000)}`);
    assert.equal((await job(api, jobId)).Status, 'COMPLETE');
    const [s] = await snapshotsOf(api, vaultId, X.inst);
    const dst = path.join(work, 'restore-s');
    await restore(s.SnapshotId, X, dst, 'restore after hbrd kill');
    assertSameTree(want, describeTree(path.join(dst, X.src)), 'after hbrd kill -9');
    // The earlier snapshots are intact too.
    const d1 = path.join(work, 'restore-1b');
    await restore(A.snap1, A, d1, 'snapshot 1 after hbrd kill');
    assertSameTree(A.desc1, describeTree(path.join(d1, A.src), { xattrs: A.tree.xattrs }), 'snapshot 1 after restart');
  });

  test('a changed big file reuses its unchanged chunks by fingerprint; every version restores', T, async () => {
    // A client of its own: a 6 MiB file changed in every way a file
    // changes (overwrite, insertion that moves what follows, append),
    // then torn fingerprints. Each snapshot must restore byte for byte,
    // and the agent must have matched chunks (or, torn, read it all).
    const C = { inst: uniq('i-c') };
    await installClients(api, [C.inst]);
    C.state = path.join(work, `state-${C.inst}`);
    C.client = registerAgent(srv, C.inst, C.state).ClientId;
    C.src = path.join(work, 'src-c');
    fs.mkdirSync(C.src, { recursive: true });
    const big = path.join(C.src, 'disk.img');
    let data = Buffer.concat([noise('fp-a', 3 * MiB), Buffer.from(text6k()), noise('fp-b', 3 * MiB)]);
    fs.writeFileSync(big, data);
    const debug = { ...process.env, HBR_LOG: 'debug' };
    const matched = (stderr) => {
      const m = /(\d+) chunks \(([\d.]+) MiB\) of changed files matched/.exec(stderr);
      assert.ok(m, `no fingerprint line in:\n${stderr.slice(-2000)}`);
      return Number(m[1]);
    };
    const versions = [];
    const j1 = await backup(C, 'C first', {}, debug);
    versions.push({ job: j1.JobId, bytes: Buffer.from(data) });

    // Overwrite 100 KiB in the middle, insert 4 KiB near the start,
    // append 200 KiB.
    data = Buffer.from(data);
    noise('fp-c', 100 * 1024).copy(data, 4 * MiB);
    data = Buffer.concat([data.subarray(0, MiB), noise('fp-d', 4096), data.subarray(MiB), noise('fp-e', 200 * 1024)]);
    fs.writeFileSync(big, data);
    const j2 = await backup(C, 'C changed', {}, debug);
    assert.match(j2.stderr, /index is cached/, 'the parent is matched through its binary index');
    const m2 = matched(j2.stderr);
    assert.ok(m2 >= 40, `only ${m2} chunks of the changed 6 MiB file were matched by fingerprint`);
    assert.ok(j2.ActualBytes < 1.5 * MiB, `the change stored ${j2.ActualBytes} bytes`);
    versions.push({ job: j2.JobId, bytes: Buffer.from(data) });

    // Torn fingerprints: the next backup reads everything and is still
    // right.
    const fps = fs.readdirSync(path.join(C.state, 'trees')).filter((n) => n.endsWith('.fp'));
    assert.equal(fps.length, 1, `one fingerprint table kept: ${fps}`);
    const fpPath = path.join(C.state, 'trees', fps[0]);
    fs.truncateSync(fpPath, fs.statSync(fpPath).size - 5);
    noise('fp-f', 50 * 1024).copy(data, 2 * MiB);
    fs.writeFileSync(big, data);
    const j3 = await backup(C, 'C after torn fingerprints', {}, debug);
    assert.equal(matched(j3.stderr), 0, 'a torn table must not be used');
    assert.match(j3.stderr, /parent fingerprints unusable/);
    versions.push({ job: j3.JobId, bytes: Buffer.from(data) });

    // And the table written by that backup works again.
    noise('fp-g', 50 * 1024).copy(data, 5 * MiB);
    fs.writeFileSync(big, data);
    const j4 = await backup(C, 'C after a good table again', {}, debug);
    assert.ok(matched(j4.stderr) >= 40, 'the fresh table is used');
    versions.push({ job: j4.JobId, bytes: Buffer.from(data) });

    const snaps = await snapshotsOf(api, vaultId, C.inst);
    for (const [i, v] of versions.entries()) {
      const s = snaps.find((x) => x.JobId === v.job);
      assert.ok(s, `snapshot of version ${i + 1}`);
      const dst = path.join(work, `restore-c${i + 1}`);
      await restore(s.SnapshotId, C, dst, `restore of version ${i + 1}`);
      const got = fs.readFileSync(path.join(dst, big));
      assert.ok(got.equals(v.bytes), `version ${i + 1} restored ${got.length} bytes, differing from the ${v.bytes.length} backed up`);
    }
  });

  test('a file whose chunk list spans many tree lines backs up, changes and restores byte for byte', T, async () => {
    // Four chunks a tree line (HBR_AGENT_TREE_LINE_CHUNKS, for tests
    // only) make a 20 MiB image what a file of terabytes is with the
    // default: an entry line, then continuation lines ("c+").
    const V = { inst: uniq('i-v') };
    await installClients(api, [V.inst]);
    V.state = path.join(work, `state-${V.inst}`);
    registerAgent(srv, V.inst, V.state);
    V.src = path.join(work, 'src-v');
    fs.mkdirSync(V.src, { recursive: true });
    const img = path.join(V.src, 'vm.img');
    const after = path.join(V.src, 'z-after.txt');
    let data = noise('vm-a', 20 * MiB);
    fs.writeFileSync(img, data);
    fs.writeFileSync(after, 'the entry after the image\n');
    const env = { ...process.env, HBR_AGENT_TREE_LINE_CHUNKS: '4', HBR_LOG: 'debug' };
    const treesDir = path.join(V.state, 'trees');
    const cached = (ext) => fs.readdirSync(treesDir).filter((n) => n.endsWith(ext));
    const versions = [];

    const j1 = await backup(V, 'V first', {}, env);
    versions.push({ job: j1.JobId, bytes: Buffer.from(data) });
    const [treeName] = cached('.tree');
    const lines = fs.readFileSync(path.join(treesDir, treeName), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    const at = lines.findIndex((l) => l.p === img);
    assert.ok(at > 0, 'the image has an entry');
    assert.equal(lines[at].c.length, 4, 'the entry line carries four chunks');
    let chunks = [...lines[at].c];
    let i = at + 1;
    for (; lines[i] && lines[i]['c+']; i++) {
      assert.ok(lines[i]['c+'].length >= 1 && lines[i]['c+'].length <= 4, `line ${i}: ${lines[i]['c+'].length} chunks`);
      assert.deepEqual(Object.keys(lines[i]), ['c+']);
      chunks = chunks.concat(lines[i]['c+']);
    }
    assert.ok(i - at - 1 >= 40, `${i - at - 1} continuation lines for a 20 MiB file at four chunks a line`);
    assert.equal(chunks.reduce((n, c) => n + c[1], 0), 20 * MiB, 'the lines together cover the file');
    assert.equal(lines[i].p, after, 'the next entry follows the continuation lines');

    // Changed in the middle and appended to: the parent, read through
    // the binary index's continuation records, gives the unchanged
    // chunks by fingerprint.
    data = Buffer.from(data);
    noise('vm-b', 256 * 1024).copy(data, 10 * MiB);
    data = Buffer.concat([data, noise('vm-c', 3 * MiB)]);
    fs.writeFileSync(img, data);
    const j2 = await backup(V, 'V changed', {}, env);
    assert.match(j2.stderr, /index is cached/);
    assert.ok(fpMatched(j2.stderr) >= 200, `only ${fpMatched(j2.stderr)} chunks matched by fingerprint`);
    assert.ok(j2.ActualBytes < 5 * MiB, `the change stored ${j2.ActualBytes} bytes`);
    versions.push({ job: j2.JobId, bytes: Buffer.from(data) });

    // Without the index, the JSON parent tree's continuation lines.
    for (const n of cached('.idx')) fs.rmSync(path.join(treesDir, n));
    data = Buffer.concat([data, noise('vm-d', 1 * MiB)]);
    fs.writeFileSync(img, data);
    const j3 = await backup(V, 'V appended, parent from its JSON tree', {}, env);
    assert.match(j3.stderr, /tree is cached/);
    assert.ok(fpMatched(j3.stderr) >= 200, `only ${fpMatched(j3.stderr)} chunks matched by fingerprint`);
    assert.ok(j3.ActualBytes < 3 * MiB, `the append stored ${j3.ActualBytes} bytes`);
    versions.push({ job: j3.JobId, bytes: Buffer.from(data) });

    const snaps = await snapshotsOf(api, vaultId, V.inst);
    for (const [k, v] of versions.entries()) {
      const s = snaps.find((x) => x.JobId === v.job);
      assert.ok(s, `snapshot of version ${k + 1}`);
      const dst = path.join(work, `restore-v${k + 1}`);
      await restore(s.SnapshotId, V, dst, `restore of version ${k + 1}`);
      const got = fs.readFileSync(path.join(dst, img));
      assert.ok(got.equals(v.bytes), `version ${k + 1} restored ${got.length} bytes, differing from the ${v.bytes.length} backed up`);
      assert.equal(fs.readFileSync(path.join(dst, after), 'utf8'), 'the entry after the image\n');
    }
  });

  test('a commit refused for a reclaimed parent chunk (ChunkNotExist) reruns without the parent and completes', T, async () => {
    // The fallback is for an agent whose cached parent names chunks the
    // vault no longer has. The server side is real (a snapshot deleted,
    // its chunks reclaimed); the agent side is made so: the parent's
    // cache is replaced by the deleted snapshot's, saved beforehand.
    const R = { inst: uniq('i-r') };
    await installClients(api, [R.inst]);
    R.state = path.join(work, `state-${R.inst}`);
    registerAgent(srv, R.inst, R.state);
    R.src = path.join(work, 'src-r');
    fs.mkdirSync(R.src, { recursive: true });
    const g = path.join(R.src, 'g.img');
    const f = path.join(R.src, 'f.txt');
    const A = noise('cne-a', 2 * MiB);
    fs.writeFileSync(f, 'a file that never changes\n');
    fs.writeFileSync(g, A);
    const treesDir = path.join(R.state, 'trees');
    const debug = { ...process.env, HBR_LOG: 'debug' };

    const j1 = await backup(R, 'R first', {}, debug);
    const s1 = (await snapshotsOf(api, vaultId, R.inst)).find((x) => x.JobId === j1.JobId).SnapshotId;
    const saved = {};
    for (const ext of ['.tree', '.idx', '.fp']) {
      saved[ext] = fs.readFileSync(path.join(treesDir, s1 + ext));
    }

    fs.writeFileSync(g, noise('cne-b', 2 * MiB));
    const j2 = await backup(R, 'R second', {}, debug);
    const s2 = (await snapshotsOf(api, vaultId, R.inst)).find((x) => x.JobId === j2.JobId).SnapshotId;
    assert.equal(fs.existsSync(path.join(treesDir, `${s1}.tree`)), false, 'the first parent\'s cache went with the second commit');

    // S1 alone held A's chunks: delete it and reclaim them.
    await api.ok('DeleteSnapshot', { SnapshotId: s1 });
    const gc = await vaultCmd(srv.dataDir, 'gc', vaultId);
    assert.equal(gc.code, 0, `vault gc: ${gc.stdout} ${gc.stderr}`);

    // g holds A again; the cache under S2's name says so, naming A's
    // reclaimed chunks, so the agent neither checks nor uploads them.
    fs.writeFileSync(g, A);
    for (const [ext, bytes] of Object.entries(saved)) fs.writeFileSync(path.join(treesDir, s2 + ext), bytes);
    const want = describeTree(R.src);
    const j3 = await backup(R, 'R with a stale parent', {}, debug);
    assert.match(j3.stderr, /incremental from /);
    assert.match(j3.stderr, /the commit refused/);
    assert.match(j3.stderr, /backing up again without the parent/);
    assert.ok(j3.ActualBytes >= 2 * MiB * 0.9, `the rerun stored A again: ${j3.ActualBytes} bytes`);
    const snaps = await snapshotsOf(api, vaultId, R.inst);
    assert.deepEqual(snaps.map((x) => x.JobId).sort(), [j2.JobId, j3.JobId].sort());
    const s3 = snaps.find((x) => x.JobId === j3.JobId);
    assert.equal(s3.Status, 'COMPLETE');
    // The stale cache is gone; the new snapshot's is the next parent.
    const left = fs.readdirSync(treesDir).sort();
    assert.deepEqual(left, [`${s3.SnapshotId}.fp`, `${s3.SnapshotId}.idx`, `${s3.SnapshotId}.tree`]);

    const dst = path.join(work, 'restore-r');
    await restore(s3.SnapshotId, R, dst, 'restore after the rerun');
    assertSameTree(want, describeTree(path.join(dst, R.src)), 'snapshot of the rerun');
    assert.ok(fs.readFileSync(path.join(dst, g)).equals(A));

    // And the next backup is an ordinary incremental from it.
    const j4 = await backup(R, 'R after the rerun', {}, debug);
    assert.match(j4.stderr, /incremental from /);
    assert.doesNotMatch(j4.stderr, /backing up again/);
  });

  test('an agent key cannot touch another client\'s jobs or data', T, async () => {
    const creds = JSON.parse(fs.readFileSync(path.join(B.state, 'credentials.json'), 'utf8'));
    const b = api.as({ AccessKeyId: creds.AccessKeyId, AccessKeySecret: creds.AccessKeySecret }, 'oac-v3');
    const aJobs = await api.ok('DescribeBackupJobs2', { SourceType: 'ECS_FILE', Filters: [{ Key: 'InstanceId', Values: [A.inst] }] });
    const aJob = aJobs.BackupJobs.BackupJob[0].JobId;
    assertError(await b.call('StartAgentJob', { JobId: aJob, JobType: 'BACKUP' }), 404, 'JobNotExist');
    assertError(await b.call('ReportAgentJobProgress', { JobId: aJob, JobType: 'BACKUP', Progress: 1 }), 404, 'JobNotExist');
    assertError(await b.call('CheckAgentChunks', { JobId: aJob, ChunkIds: '0'.repeat(64) }), 404, 'JobNotExist');
    assertError(await b.call('FetchAgentChunks', { JobId: aJob, JobType: 'BACKUP', ChunkIds: '0'.repeat(64) }), 404, 'JobNotExist');
    assertError(await b.call('SearchHistoricalSnapshots', { SourceType: 'ECS_FILE' }), 403, 'Forbidden.RAM');
    const polled = await b.ok('PollAgentJobs', {});
    for (const j of polled.BackupJobs) assert.equal(j.ClientId, B.client);
  });
});
