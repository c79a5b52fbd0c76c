// The agent data plane's raw actions (docs/AGENT-PROTOCOL.md), driven
// with hand-signed ACS3 requests and packs built here, so the server is
// tested on its own, byte by byte, without hbr-client's backup code: an
// upload is checked present, committed and listed; restored chunks come
// back as a pack; a corrupt chunk, a cancelled job and the wrong body or
// key are refused.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const { clientPath, makeTempDir, rawV3, sleep, startServer } = require('./lib/hbr');
const {
  Api, ID, assertError, createPlan, createVault, installClients, uniq,
} = require('./lib/api');

const T = { timeout: 60_000 };

/** Register an agent for inst with hbr-client; its access key. */
function registerAgent(srv, inst) {
  const dir = path.join(makeTempDir(), 'state');
  const r = spawnSync(clientPath(), ['register', '--endpoint', srv.endpoint,
    '--access-key-id', srv.creds.AccessKeyId, '--access-key-secret', srv.creds.AccessKeySecret,
    '--instance-id', inst, '--state-dir', dir], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, `hbr-client register: ${r.stderr}`);
  const c = JSON.parse(fs.readFileSync(path.join(dir, 'credentials.json'), 'utf8'));
  return { AccessKeyId: c.AccessKeyId, AccessKeySecret: c.AccessKeySecret, ClientId: c.ClientId };
}

const sha256 = (b) => crypto.createHash('sha256').update(b).digest();

/** A chunk: its bytes and SHA-256 id. */
function chunk(raw) {
  const id = sha256(raw);
  return { raw, id, hex: id.toString('hex') };
}

/** A pack of chunks stored raw (flags 0): magic, count, 48-byte entries, data. */
function packOf(chunks) {
  const head = Buffer.alloc(12 + 48 * chunks.length);
  head.write('HBRPACK1', 0, 'latin1');
  head.writeUInt32LE(chunks.length, 8);
  chunks.forEach((c, i) => {
    const o = 12 + 48 * i;
    c.id.copy(head, o);
    head.writeUInt32LE(c.raw.length, o + 32); // stored_len
    head.writeUInt32LE(c.raw.length, o + 36); // raw_len
    head.writeUInt32LE(0, o + 40); // flags: raw
    head.writeUInt32LE(0, o + 44);
  });
  return { body: Buffer.concat([head, ...chunks.map((c) => c.raw)]), headerLen: head.length };
}

/** Parse a pack (FetchAgentChunks' answer) into [{hex, raw}]. */
function parsePack(buf) {
  assert.equal(buf.subarray(0, 8).toString('latin1'), 'HBRPACK1', 'pack magic');
  const n = buf.readUInt32LE(8);
  let off = 12 + 48 * n;
  const out = [];
  for (let i = 0; i < n; i++) {
    const e = 12 + 48 * i;
    const stored = buf.readUInt32LE(e + 32);
    assert.equal(buf.readUInt32LE(e + 40), 0, 'stored raw, as uploaded');
    out.push({ hex: buf.subarray(e, e + 32).toString('hex'), raw: buf.subarray(off, off + stored) });
    off += stored;
  }
  assert.equal(off, buf.length, 'the pack is exactly header + chunks');
  return out;
}

/** A one-file tree naming data chunks (docs/AGENT-PROTOCOL.md). */
function treeOf(dir, file, chunks) {
  const size = chunks.reduce((n, c) => n + c.raw.length, 0);
  const lines = [
    { hbr_tree: 1, paths: [dir], host: 'it', time: 1764288000 },
    { p: dir, t: 'd', m: 493, u: 0, g: 0, mt: 0 },
    { p: `${dir}/${file}`, t: 'f', m: 420, u: 0, g: 0, mt: 0, ct: 0, i: 7, s: size,
      c: chunks.map((c) => [c.hex, c.raw.length]) },
  ];
  return chunk(Buffer.from(lines.map((l) => JSON.stringify(l)).join('\n') + '\n'));
}

/** Send a prepared request and keep the answer's bytes (binary answers). */
function sendBinary(req) {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: '127.0.0.1', port: req.port, method: req.method, path: req.path,
      headers: { ...req.headers, 'content-length': String(req.body ? req.body.length : 0) }, agent: false,
      setHost: false }, (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(parts);
        let body = null;
        try { body = JSON.parse(raw.toString('utf8')); } catch { /* binary */ }
        resolve({ status: res.statusCode, headers: res.headers, raw, body });
      });
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end(req.body || undefined);
  });
}

describe('agent data plane', { timeout: 300_000 }, () => {
  let srv;
  let api;
  let vaultId;
  let inst;
  let key;
  let planId;

  before(async () => {
    srv = await startServer();
    api = new Api(srv, srv.creds, 'oac-v3');
    vaultId = (await createVault(api)).VaultId;
    inst = uniq('i-data');
    await installClients(api, [inst]);
    key = registerAgent(srv, inst);
    planId = await createPlan(api, { vaultId, instanceId: inst, extra: { Path: ['/data'] } });
  });
  after(() => srv && srv.kill9());

  /** An agent action with query parameters; the response. */
  const agent = (action, params = {}) => rawV3(srv.endpoint, key, { action, query: params });

  async function agentOk(action, params = {}) {
    const res = await agent(action, params);
    assert.equal(res.status, 200, `${action}: ${res.text}`);
    assert.equal(res.body.Success, true, `${action}: ${res.text}`);
    return res.body;
  }

  /** UploadAgentPack, signed over the pack header as the spec says. */
  function upload(jobId, pack, opts = {}) {
    const signed = opts.signWhole ? pack.body : pack.body.subarray(0, pack.headerLen);
    return rawV3(srv.endpoint, opts.key || key, { action: opts.action || 'UploadAgentPack', query: { JobId: jobId }, body: pack.body },
      { headers: { 'content-type': 'application/octet-stream' }, contentSha256: sha256(signed).toString('hex') });
  }

  async function startedJob() {
    const { JobId } = await api.ok('ExecuteBackupPlan', { PlanId: planId });
    const polled = await agentOk('PollAgentJobs');
    assert.ok(polled.BackupJobs.some((j) => j.JobId === JobId), 'the new job is polled');
    const s = await agentOk('StartAgentJob', { JobId, JobType: 'BACKUP' });
    assert.equal(s.Status, 'RUNNING');
    assert.equal(s.Resumed, false);
    return { JobId, start: s };
  }

  async function fetchChunks(jobId, jobType, hexes) {
    const req = await rawV3(srv.endpoint, key, { action: 'FetchAgentChunks',
      query: { JobId: jobId, JobType: jobType, ChunkIds: hexes.join(',') } }, { send: false });
    return sendBinary(req);
  }

  test('upload, check, commit: the snapshot is listed and restores', T, async () => {
    const { JobId, start } = await startedJob();
    assert.equal(start.ParentSnapshotId, '', 'the plan\'s first job has no parent');
    const d0 = chunk(crypto.randomBytes(5000));
    const d1 = chunk(crypto.randomBytes(3000));
    const tree = treeOf('/data', 'f.bin', [d0, d1, d0]);

    const before = await agentOk('CheckAgentChunks', { JobId, ChunkIds: [d0.hex, d1.hex, tree.hex].join(',') });
    assert.deepEqual(before.Missing, [0, 1, 2]);
    const up = await upload(JobId, packOf([d0, d1, tree]));
    assert.equal(up.status, 200, up.text);
    assert.equal(up.body.Chunks, 3);
    assert.equal(up.body.NewChunks, 3);
    assert.equal(up.body.StoredBytes, 8000 + tree.raw.length);
    assert.match(up.body.PackId, /^[0-9a-f]{32}$/);
    const after = await agentOk('CheckAgentChunks', { JobId, ChunkIds: [d0.hex, d1.hex, tree.hex].join(',') });
    assert.deepEqual(after.Missing, []);

    const p = await agentOk('ReportAgentJobProgress', { JobId, JobType: 'BACKUP', Progress: 50, BytesTotal: 13000, BytesDone: 6500 });
    assert.equal(p.Status, 'RUNNING');

    const params = { JobId, TreeChunks: tree.hex, Status: 'COMPLETE', BytesTotal: 13000, BytesDone: 13000,
      ItemsTotal: 2, ItemsDone: 2, ActualBytes: 8000 };
    const c = await agentOk('CommitAgentSnapshot', params);
    assert.match(c.SnapshotId, ID.snapshot);
    const again = await agentOk('CommitAgentSnapshot', params);
    assert.equal(again.SnapshotId, c.SnapshotId, 'a retried commit answers the same snapshot');

    const found = await api.ok('SearchHistoricalSnapshots', { SourceType: 'ECS_FILE',
      Query: JSON.stringify([{ field: 'VaultId', value: vaultId, operation: 'MATCH_TERM' },
        { field: 'JobId', value: JobId, operation: 'MATCH_TERM' }]) });
    assert.equal(found.TotalCount, 1);
    const s = found.Snapshots.Snapshot[0];
    assert.equal(s.SnapshotId, c.SnapshotId);
    assert.equal(s.Status, 'COMPLETE');
    assert.equal(s.InstanceId, inst);
    assert.equal(s.ClientId, key.ClientId);
    assert.equal(s.PlanId, planId);
    assert.equal(s.BytesTotal, 13000);
    assert.equal(s.ActualBytes, 8000);
    assert.deepEqual(s.Paths.Path, ['/data']);
    const jobs = await api.ok('DescribeBackupJobs2', { SourceType: 'ECS_FILE', Filters: [{ Key: 'JobId', Values: [JobId] }] });
    const j = jobs.BackupJobs.BackupJob[0];
    assert.equal(j.Status, 'COMPLETE');
    assert.equal(j.Progress, 100);

    // The next job of the plan has this snapshot as its parent and may
    // read its tree.
    const next = await startedJob();
    assert.equal(next.start.ParentSnapshotId, c.SnapshotId);
    assert.deepEqual(next.start.ParentTreeChunks, [tree.hex]);
    const ft = await fetchChunks(next.JobId, 'BACKUP', [tree.hex]);
    assert.equal(ft.status, 200);
    assert.deepEqual(parsePack(ft.raw).map((x) => x.raw.toString()), [tree.raw.toString()]);
    await agentOk('FinishAgentJob', { JobId: next.JobId, JobType: 'BACKUP', Status: 'FAILED', ErrorMessage: 'test' });

    // A restore of it on the same instance.
    const { RestoreId } = await api.ok('CreateRestoreJob', { RestoreType: 'ECS_FILE', SnapshotId: c.SnapshotId,
      VaultId: vaultId, TargetInstanceId: inst, TargetPath: '/restore' });
    const polled = await agentOk('PollAgentJobs');
    assert.ok(polled.RestoreJobs.some((r) => r.RestoreId === RestoreId), 'the restore is polled');
    const rs = await agentOk('StartAgentJob', { JobId: RestoreId, JobType: 'RESTORE' });
    assert.equal(rs.SnapshotId, c.SnapshotId);
    assert.deepEqual(rs.TreeChunks, [tree.hex]);
    assert.equal(rs.TargetPath, '/restore');
    const f = await fetchChunks(RestoreId, 'RESTORE', [d1.hex, tree.hex, d0.hex]);
    assert.equal(f.status, 200, f.raw.toString().slice(0, 300));
    assert.equal(f.headers['content-type'], 'application/octet-stream');
    assert.match(String(f.headers['x-acs-request-id']), /^[0-9A-F-]{36}$/);
    const got = parsePack(f.raw);
    assert.deepEqual(got.map((x) => x.hex), [d1.hex, tree.hex, d0.hex], 'in the order asked');
    for (const x of got) assert.equal(sha256(x.raw).toString('hex'), x.hex, 'each chunk hashes to its id');
    // A chunk outside the snapshot is not readable through this job.
    const other = chunk(Buffer.from('not in the snapshot'));
    const nf = await fetchChunks(RestoreId, 'RESTORE', [other.hex]);
    assert.equal(nf.status, 404);
    assert.equal(nf.body.Code, 'ChunkNotExist');
    await agentOk('FinishAgentJob', { JobId: RestoreId, JobType: 'RESTORE', Status: 'COMPLETE', BytesDone: 8000 });
    const rj = await api.ok('DescribeRestoreJobs2', { Filters: [{ Key: 'RestoreId', Values: [RestoreId] }] });
    assert.equal(rj.RestoreJobs.RestoreJob[0].Status, 'COMPLETE');
  });

  test('a corrupt chunk refuses the whole pack', T, async () => {
    const { JobId } = await startedJob();
    const good = chunk(crypto.randomBytes(2000));
    const bad = chunk(crypto.randomBytes(2000));
    const pack = packOf([good, bad]);
    pack.body[pack.body.length - 1] ^= 0xff; // bad's last byte
    const res = await upload(JobId, pack);
    assertError(res, 400, 'InvalidPack', 'corrupt chunk');
    assert.match(res.body.Message, new RegExp(bad.hex));
    const check = await agentOk('CheckAgentChunks', { JobId, ChunkIds: `${good.hex},${bad.hex}` });
    assert.deepEqual(check.Missing, [0, 1], 'nothing of the pack was recorded');
    // Malformed: bytes after the last chunk.
    const long = packOf([good]);
    long.body = Buffer.concat([long.body, Buffer.from('x')]);
    assertError(await upload(JobId, long), 400, 'InvalidPack', 'trailing bytes');
    // A commit whose tree names a chunk the vault lacks.
    const tree = treeOf('/data', 'g', [good]);
    assert.equal((await upload(JobId, packOf([tree]))).status, 200);
    assertError(await agent('CommitAgentSnapshot', { JobId, TreeChunks: tree.hex }), 404, 'ChunkNotExist',
      'commit naming a missing chunk');
    await agentOk('FinishAgentJob', { JobId, JobType: 'BACKUP', Status: 'FAILED' });
  });

  test('a cancelled job takes no upload and no commit', T, async () => {
    const { JobId } = await startedJob();
    const d = chunk(crypto.randomBytes(1000));
    const tree = treeOf('/data', 'h', [d]);
    assert.equal((await upload(JobId, packOf([d]))).status, 200);
    await api.ok('CancelBackupJob', { JobId });
    const res = await upload(JobId, packOf([tree]));
    const b = assertError(res, 409, 'OperationConflict', 'upload after cancel');
    assert.match(b.Message, /CANCELED/);
    assertError(await agent('CommitAgentSnapshot', { JobId, TreeChunks: tree.hex }), 409, 'OperationConflict',
      'commit after cancel');
    assertError(await agent('ReportAgentJobProgress', { JobId, JobType: 'BACKUP', Progress: 10 }), 409,
      'OperationConflict', 'progress after cancel');
    const found = await api.ok('SearchHistoricalSnapshots', { SourceType: 'ECS_FILE',
      Query: JSON.stringify([{ field: 'VaultId', value: vaultId, operation: 'MATCH_TERM' },
        { field: 'JobId', value: JobId, operation: 'MATCH_TERM' }]) });
    assert.equal(found.TotalCount, 0);
  });

  test('wrong bodies, signatures and keys are refused', T, async () => {
    const { JobId } = await startedJob();
    const d = chunk(crypto.randomBytes(1000));
    // The whole body's hash is not what UploadAgentPack is signed over.
    assertError(await upload(JobId, packOf([d]), { signWhole: true }), 400, 'SignatureDoesNotMatch', 'whole-body hash');
    // Only UploadAgentPack takes a binary body.
    const sig = packOf([d]);
    const other = await rawV3(srv.endpoint, key, { action: 'ReportAgentJobProgress', query: { JobId }, body: sig.body },
      { headers: { 'content-type': 'application/octet-stream' } });
    assertError(other, 400, 'InvalidParameter', 'octet-stream body for another action');
    // An operator key may not call the agent actions.
    assertError(await upload(JobId, packOf([d]), { key: srv.creds }), 403, 'Forbidden.RAM', 'operator upload');
    assertError(await api.call('PollAgentJobs', {}), 403, 'Forbidden.RAM', 'operator poll');
    // Another client's agent cannot see this job.
    const inst2 = uniq('i-other');
    await installClients(api, [inst2]);
    const key2 = registerAgent(srv, inst2);
    assertError(await upload(JobId, packOf([d]), { key: key2 }), 404, 'JobNotExist', 'another client\'s job');
    const ok = await upload(JobId, packOf([d]));
    assert.equal(ok.status, 200, ok.text);
    await agentOk('FinishAgentJob', { JobId, JobType: 'BACKUP', Status: 'FAILED' });
  });

  test('uploads are capped in size and in number at once', T, async () => {
    const { JobId } = await startedJob();
    const d = chunk(crypto.randomBytes(1000));
    // Over 40 MiB: refused on its Content-Length, before the body is
    // read. Only the headers are sent: hbrd answers and closes at once,
    // and a client still writing 40 MiB would see EPIPE instead of the
    // answer.
    const huge = await new Promise((resolve, reject) => {
      const r = http.request({ host: '127.0.0.1', port: srv.port, method: 'POST', path: `/?JobId=${JobId}`,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(40 * 1024 * 1024 + 1) },
        agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => { text += c; });
        res.on('end', () => {
          let body = null;
          try { body = JSON.parse(text); } catch { /* asserted below */ }
          resolve({ ok: false, status: res.statusCode, text, body });
        });
      });
      r.on('error', reject);
      r.flushHeaders();
    });
    assertError(huge, 413, 'RequestEntityTooLarge', 'a 40 MiB + 1 body');
    // hbrd buffers at most 8 upload bodies at once: hold 8 open (headers
    // sent, body not), and the next upload is told to come back.
    // A holder can itself be refused while an earlier upload's slot is
    // still being released (the client has its answer before hbrd has
    // finished the request): such a holder is answered 503 at once and
    // is opened again, so that 8 really hold a slot.
    const holders = [];
    const hold = () => {
      const h = { refused: false };
      h.req = http.request({ host: '127.0.0.1', port: srv.port, method: 'POST', path: `/?JobId=${JobId}`,
        headers: { 'content-type': 'application/octet-stream', 'content-length': '1000' }, agent: false });
      h.req.on('error', () => {});
      h.req.on('response', (res) => { h.refused = true; res.resume(); });
      h.req.flushHeaders();
      return h;
    };
    for (let i = 0; i < 8; i++) holders.push(hold());
    for (let round = 0; round < 20; round++) {
      await sleep(100);
      const refused = holders.filter((h) => h.refused);
      if (!refused.length) break;
      for (const h of refused) {
        h.req.destroy();
        holders[holders.indexOf(h)] = hold();
      }
    }
    assert.equal(holders.filter((h) => h.refused).length, 0, '8 uploads hold their slots');
    let res;
    const deadline = Date.now() + 10_000;
    do {
      res = await upload(JobId, packOf([d]));
    } while (res.status !== 503 && Date.now() < deadline);
    assertError(res, 503, 'ServiceUnavailable', 'a ninth upload at once');
    for (const h of holders) h.req.destroy();
    const until = Date.now() + 10_000;
    do {
      res = await upload(JobId, packOf([d]));
    } while (res.status === 503 && Date.now() < until);
    assert.equal(res.status, 200, `uploads resume once the others end: ${res.text}`);
    await agentOk('FinishAgentJob', { JobId, JobType: 'BACKUP', Status: 'FAILED' });
  });
});
