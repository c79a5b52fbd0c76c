// Assertions and small HBR workflows shared by the test files.
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const { call, sleep } = require('./hbr');

const REQUEST_ID_RE = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/;
const idRe = (prefix) => new RegExp(`^${prefix}-[0-9a-z]{20}$`);
const ID = {
  vault: idRe('v'), client: idRe('c'), plan: idRe('plan'), job: idRe('job'),
  snapshot: idRe('s'), task: idRe('t'),
};

/** A well-formed id nobody has: prefix + 20 [0-9a-z]. */
function fakeId(prefix) {
  const a = '0123456789abcdefghijklmnopqrstuvwxyz';
  let s = '';
  for (const b of crypto.randomBytes(20)) s += a[b % 36];
  return `${prefix}-${s}`;
}

const uniq = (tag = 'x') => `${tag}${crypto.randomBytes(5).toString('hex')}`;

function describe(res) {
  if (!res) return String(res);
  const b = res.body ? JSON.stringify(res.body).slice(0, 600) : (res.text || '').slice(0, 300);
  return `HTTP ${res.status} code=${res.code ?? (res.body && res.body.Code)} body=${b}`;
}

/** Success envelope (hbr-api.md §1.4, §3.5): HTTP 200, RequestId, "200", "successful", true. */
function assertSuccessEnvelope(res, what = 'call') {
  assert.ok(res.ok !== false, `${what}: expected success, got ${describe(res)}`);
  assert.equal(res.status, 200, `${what}: HTTP status (${describe(res)})`);
  const b = res.body;
  assert.ok(b && typeof b === 'object', `${what}: body is a JSON object`);
  assert.match(String(b.RequestId), REQUEST_ID_RE, `${what}: RequestId is an upper-case UUID`);
  assert.equal(b.Code, '200', `${what}: Code is the string "200"`);
  assert.equal(b.Message, 'successful', `${what}: Message`);
  assert.equal(b.Success, true, `${what}: Success`);
  return b;
}

/**
 * Error envelope: HTTP >= 400 (exactly `status` if given) and a JSON body
 * with RequestId, HostId, Code (exactly `code`, or matching it if a RegExp),
 * Message and Success false. Works on call() and raw results.
 */
function assertError(res, status, code, what = 'call') {
  const b = res.body;
  assert.ok(res.ok !== true, `${what}: expected an error, got ${describe(res)}`);
  if (status) assert.equal(res.status, status, `${what}: HTTP status (${describe(res)})`);
  else assert.ok(res.status >= 400, `${what}: HTTP status >= 400 (${describe(res)})`);
  assert.ok(b && typeof b === 'object', `${what}: error body is JSON (${describe(res)})`);
  assert.match(String(b.RequestId), REQUEST_ID_RE, `${what}: RequestId (${describe(res)})`);
  assert.ok(typeof b.HostId === 'string' && b.HostId.length > 0, `${what}: HostId present (${describe(res)})`);
  assert.ok(typeof b.Message === 'string' && b.Message.length > 0, `${what}: non-empty Message (${describe(res)})`);
  assert.equal(b.Success, false, `${what}: Success is false (${describe(res)})`);
  if (code instanceof RegExp) assert.match(String(b.Code), code, `${what}: Code (${describe(res)})`);
  else if (code) assert.equal(b.Code, code, `${what}: Code (${describe(res)})`);
  if (res.code !== undefined && res.request === undefined) assert.equal(res.code, b.Code, `${what}: client-side code`);
  return b;
}

/**
 * A client bound to one server, credentials and client kind.
 *   api.call(action, params, opts) -> normalized result
 *   api.ok(action, params, opts)   -> body, asserting the success envelope
 */
class Api {
  constructor(srv, creds = srv.creds, kind = 'popcore-get') {
    this.srv = srv;
    this.creds = creds;
    this.kind = kind;
  }
  as(creds, kind = this.kind) { return new Api(this.srv, creds, kind); }
  with(kind) { return new Api(this.srv, this.creds, kind); }
  async call(action, params = {}, opts = {}) {
    try {
      return await call(this.kind, this.srv, this.creds, action, params, opts);
    } catch (e) {
      // A transport error (reset, refused, timeout): say what hbrd was doing.
      const state = this.srv.alive && !this.srv.alive() ? 'hbrd has exited' : 'hbrd is still running';
      throw new Error(`${e.code || e.message} on ${action} via ${this.kind} to ${this.srv.endpoint}: ${state}; ` +
        `log tail:\n${this.srv.logTail ? this.srv.logTail(15) : '(no log)'}`, { cause: e });
    }
  }
  async ok(action, params = {}, opts = {}) {
    const res = await this.call(action, params, opts);
    return assertSuccessEnvelope(res, `${action} via ${this.kind}`);
  }
}

// ---------------------------------------------------------------- workflows

async function waitTask(api, taskId, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await api.ok('DescribeTask', { TaskId: taskId });
    if (last.Description === 'completed' || last.Description === 'cancelled' || last.Progress === -1) return last;
    await sleep(100);
  }
  assert.fail(`task ${taskId} not completed within ${timeoutMs} ms: ${JSON.stringify(last)}`);
}

async function createVault(api, name = uniq('vault'), extra = {}) {
  const b = await api.ok('CreateVault', { VaultName: name, VaultRegionId: 'cn-hangzhou', ...extra });
  assert.match(String(b.VaultId), ID.vault, 'CreateVault: VaultId');
  assert.match(String(b.TaskId), ID.task, 'CreateVault: TaskId');
  return b;
}

async function describeVault(api, vaultId) {
  const b = await api.ok('DescribeVaults', { VaultId: vaultId });
  const list = (b.Vaults && b.Vaults.Vault) || [];
  return list.find((v) => v.VaultId === vaultId);
}

/**
 * DescribeTask until its Result is a non-empty string (Terraform treats an
 * empty Result as "not there yet"). The install task itself need not
 * complete: without a real agent the clients stay INSTALLING.
 */
async function taskResult(api, taskId, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await api.ok('DescribeTask', { TaskId: taskId });
    if (typeof last.Result === 'string' && last.Result.length > 0) return last;
    await sleep(100);
  }
  assert.fail(`task ${taskId} has no Result within ${timeoutMs} ms: ${JSON.stringify(last)}`);
}

/** InstallBackupClients and map instanceId -> clientId through DescribeTask.Result. */
async function installClients(api, instanceIds) {
  const b = await api.ok('InstallBackupClients', { InstanceIds: JSON.stringify(instanceIds) });
  assert.match(String(b.TaskId), ID.task, 'InstallBackupClients: TaskId');
  const task = await taskResult(api, b.TaskId);
  assert.equal(typeof task.Result, 'string', 'DescribeTask.Result is a string holding JSON');
  const result = JSON.parse(task.Result);
  const byInstance = {};
  for (const r of result) byInstance[r.instanceId] = r.clientId;
  for (const i of instanceIds) assert.match(String(byInstance[i]), ID.client, `client id for ${i}`);
  return { install: b, task, result, clientIds: instanceIds.map((i) => byInstance[i]), byInstance };
}

async function createPlan(api, { vaultId, instanceId, name = uniq('plan'), extra = {} }) {
  const b = await api.ok('CreateBackupPlan', {
    SourceType: 'ECS_FILE',
    VaultId: vaultId,
    InstanceId: instanceId,
    PlanName: name,
    Schedule: `I|${Math.floor(Date.now() / 1000)}|PT1H`,
    Retention: 7,
    Path: ['/data'],
    ...extra,
  });
  assert.match(String(b.PlanId), ID.plan, 'CreateBackupPlan: PlanId');
  return b.PlanId;
}

async function describeClients(api, params = {}) {
  const b = await api.ok('DescribeBackupClients', { ClientType: 'ECS_CLIENT', PageSize: 99, ...params });
  assert.ok(Array.isArray(b.Clients), `DescribeBackupClients: Clients is a bare array (${JSON.stringify(b.Clients)})`);
  return b;
}

async function getClient(api, clientId) {
  const b = await describeClients(api, { ClientIds: JSON.stringify([clientId]) });
  return b.Clients.find((c) => c.ClientId === clientId);
}

/** Walk PageNumber 1..n (bounded) and return every item. */
async function listAllPages(api, action, params, extract, pageSize = 99) {
  const out = [];
  let total = null;
  for (let page = 1; page <= 1000; page++) {
    const b = await api.ok(action, { ...params, PageNumber: page, PageSize: pageSize });
    const items = extract(b) || [];
    total = Number(b.TotalCount);
    out.push(...items);
    if (items.length === 0 || out.length >= total) break;
  }
  return { items: out, total };
}

const planFilters = (pairs) => pairs.map(([Key, v]) => ({ Key, Values: [].concat(v) }));

async function countPlans(api, filters) {
  const b = await api.ok('DescribeBackupPlans', { SourceType: 'ECS_FILE', PageSize: 1, Filters: planFilters(filters) });
  return Number(b.TotalCount);
}

async function countJobs(api, filters) {
  const b = await api.ok('DescribeBackupJobs2', { SourceType: 'ECS_FILE', PageSize: 1, Filters: planFilters(filters) });
  return Number(b.TotalCount);
}

function snapshotQuery(vaultId, instanceId) {
  const q = [{ field: 'VaultId', value: vaultId, operation: 'MATCH_TERM' }];
  if (instanceId) q.push({ field: 'InstanceId', value: instanceId, operation: 'MATCH_TERM' });
  return JSON.stringify(q);
}

async function countSnapshots(api, vaultId, instanceId) {
  const b = await api.ok('SearchHistoricalSnapshots', { SourceType: 'ECS_FILE', Query: snapshotQuery(vaultId, instanceId), Limit: 1 });
  return Number(b.TotalCount);
}

/** Plans, jobs and snapshots of one instance in one vault. */
async function countsFor(api, vaultId, instanceId) {
  return {
    plans: await countPlans(api, [['vaultId', vaultId], ['instanceId', instanceId]]),
    jobs: await countJobs(api, [['VaultId', vaultId], ['InstanceId', instanceId]]),
    snapshots: await countSnapshots(api, vaultId, instanceId),
  };
}

/** Page through SearchHistoricalSnapshots with NextToken (bounded). */
async function searchAllSnapshots(api, query, limit) {
  const all = [];
  const pages = [];
  let token;
  for (let i = 0; i < 10_000; i++) {
    const params = { SourceType: 'ECS_FILE', Query: query, Limit: limit };
    if (token) params.NextToken = token;
    const b = await api.ok('SearchHistoricalSnapshots', params);
    const items = (b.Snapshots && b.Snapshots.Snapshot) || [];
    pages.push({ n: items.length, body: b });
    all.push(...items);
    token = b.NextToken;
    if (!token) return { snapshots: all, pages };
    assert.ok(items.length > 0, `SearchHistoricalSnapshots: NextToken ${token} returned with an empty page`);
  }
  assert.fail('SearchHistoricalSnapshots: NextToken paging did not end');
}

// ---------------------------------------------------------------- RAM and audit

/** Write a RAM policy document to DIR/NAME.json and return the path. */
function writePolicy(dir, name, statements) {
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify({ Version: '1', Statement: statements }, null, 2));
  return file;
}

function readAudit(dataDir) {
  const file = path.join(dataDir, 'audit.log');
  if (!fs.existsSync(file)) return [];
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
  return lines.map((l, i) => {
    try { return JSON.parse(l); } catch { assert.fail(`audit.log line ${i + 1} is not JSON: ${l.slice(0, 200)}`); }
  });
}

/** The audit record of one request (the log may be written asynchronously: bounded wait). */
async function auditRecord(dataDir, requestId, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rec = readAudit(dataDir).find((r) => r.RequestId === requestId);
    if (rec) return rec;
    if (Date.now() > deadline) assert.fail(`no audit.log record with RequestId ${requestId}`);
    await sleep(50);
  }
}

module.exports = {
  Api,
  ID,
  REQUEST_ID_RE,
  assertError,
  assertSuccessEnvelope,
  auditRecord,
  countJobs,
  countPlans,
  countSnapshots,
  countsFor,
  createPlan,
  createVault,
  describe,
  describeClients,
  describeVault,
  fakeId,
  getClient,
  installClients,
  listAllPages,
  planFilters,
  readAudit,
  searchAllSnapshots,
  snapshotQuery,
  taskResult,
  uniq,
  waitTask,
  writePolicy,
};
