// Scheduled backups (issue text; hbr-api.md §4.3): a plan's
// "I|<start>|<duration>" schedule queues one job per period, none while
// the plan is disabled, none while the plan's previous job is unfinished.
//
// hbrd runs with --clock-file (docs/SCHEDULER.md): the test moves hbrd's
// clock forward by rewriting the file, so a PT1M period takes a tick, not
// a minute. Every wait is bounded; nothing asserts how long anything took.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const { makeTempDir, sleep, startServer } = require('./lib/hbr');
const { Api, createPlan, createVault, installClients, uniq } = require('./lib/api');

const TICK_MS = 100;
const WAIT_MS = 15_000; // bound on waiting for a job to appear
const SETTLE_MS = 10 * TICK_MS; // further ticks that must add nothing
const T = { timeout: 60_000 };

describe('schedule', { timeout: 180_000 }, () => {
  let srv;
  let api;
  let clockFile;
  let vaultId;
  let inst;
  let busy; // a plan that is due every period from here on
  const start = Math.floor(Date.now() / 1000);

  const setClock = (offset) => {
    // Written whole and renamed, so hbrd never reads half a number.
    fs.writeFileSync(`${clockFile}.tmp`, `${offset}\n`);
    fs.renameSync(`${clockFile}.tmp`, clockFile);
  };

  const jobsOf = async (planId) => {
    const b = await api.ok('DescribeBackupJobs2', {
      SourceType: 'ECS_FILE', PageSize: 99, Filters: [{ Key: 'PlanId', Values: [planId] }],
    });
    return b.BackupJobs.BackupJob;
  };

  // Wait (bounded) until the plan has n jobs, then check that further
  // ticks add none.
  const expectJobs = async (planId, n, what) => {
    const deadline = Date.now() + WAIT_MS;
    let jobs = await jobsOf(planId);
    while (jobs.length < n && Date.now() < deadline) {
      await sleep(TICK_MS);
      jobs = await jobsOf(planId);
    }
    assert.equal(jobs.length, n, `${what}: ${n} job(s) within ${WAIT_MS} ms`);
    await sleep(SETTLE_MS);
    jobs = await jobsOf(planId);
    assert.equal(jobs.length, n, `${what}: still ${n} job(s) after more ticks`);
    return jobs;
  };

  const plan = (extra = {}) => createPlan(api, {
    vaultId, instanceId: inst, extra: { Schedule: `I|${start}|PT1M`, ...extra },
  });

  before(async () => {
    const dir = makeTempDir('hbr-it-clock-');
    clockFile = path.join(dir, 'clock');
    setClock(0);
    srv = await startServer({ args: ['--clock-file', clockFile, '--sched-tick-ms', String(TICK_MS)] });
    api = new Api(srv);
    ({ VaultId: vaultId } = await createVault(api));
    inst = uniq('i-sched');
    await installClients(api, [inst]);
  });
  after(() => srv && srv.kill9());

  test('one job per period, none while disabled or while the previous job runs', T, async () => {
    const every = await plan();
    busy = await plan();
    const off = await plan({ Disabled: true });

    // The boundary at creation is not a run.
    await sleep(SETTLE_MS);
    assert.equal((await jobsOf(every)).length, 0, 'no job before the first period ends');

    setClock(60);
    const [job] = await expectJobs(every, 1, 'first period');
    assert.equal(job.PlanId, every);
    assert.equal(job.Status, 'QUEUED');
    assert.equal(job.TriggerMode, 'AUTO', 'a scheduled job says so');
    assert.equal((await expectJobs(busy, 1, 'first period, second plan'))[0].Status, 'QUEUED');
    assert.equal((await jobsOf(off)).length, 0, 'a disabled plan does not run');

    // `every` finishes each job before the next period; `busy` never
    // does, so its later periods are skipped.
    let finished = 1;
    for (let k = 2; k <= 4; k++) {
      for (const j of await jobsOf(every)) {
        if (j.Status === 'QUEUED') await api.ok('CancelBackupJob', { JobId: j.JobId });
      }
      setClock(60 * k);
      finished++;
      await expectJobs(every, finished, `period ${k}`);
      assert.equal((await jobsOf(busy)).length, 1, `period ${k}: the unfinished job holds its plan back`);
      assert.equal((await jobsOf(off)).length, 0, `period ${k}: disabled plan`);
    }

    // Once the held-back plan's job ends, the period it was skipped in
    // is not made up; it runs again at the next boundary.
    await api.ok('CancelBackupJob', { JobId: (await jobsOf(busy))[0].JobId });
    setClock(60 * 4 + 30);
    await sleep(SETTLE_MS);
    assert.equal((await jobsOf(busy)).length, 1, 'a skipped period is not made up');
    setClock(60 * 5);
    await expectJobs(busy, 2, 'next period after the job ended');
    assert.equal((await jobsOf(off)).length, 0, 'disabled plan, to the end');
  });

  test('a restarted hbrd, and a second hbrd on the same store, run each period once', T, async () => {
    assert.ok(busy, 'needs the previous test');
    const finishAll = async () => {
      for (const j of await jobsOf(busy)) {
        if (j.Status === 'QUEUED') await api.ok('CancelBackupJob', { JobId: j.JobId });
      }
    };
    const args = ['--clock-file', clockFile, '--sched-tick-ms', String(TICK_MS)];

    // kill -9 leaves the lease held by a process that is gone. The new
    // process has a new owner id and takes the lease once it expires
    // (10 s of hbrd's clock), then makes one run for the period missed.
    await finishAll();
    await srv.kill9();
    setClock(60 * 6 + 30);
    srv = await startServer({ dataDir: srv.dataDir, args });
    api = new Api(srv);
    await expectJobs(busy, 3, 'after the restart');

    // A second hbrd with its own data dir on the same database: only
    // one of them queues each period's job.
    await finishAll();
    const other = await startServer({
      args: [...args, '--store', `sqlite:${path.join(srv.dataDir, 'hbr.db')}`],
    });
    try {
      setClock(60 * 7);
      await expectJobs(busy, 4, 'two nodes, one period');
      await finishAll();
      setClock(60 * 8);
      await expectJobs(busy, 5, 'two nodes, next period');
      // The first node dies; the second takes over the lease once it
      // expires.
      await finishAll();
      await srv.kill9();
      api = new Api(other);
      setClock(60 * 9 + 30);
      await expectJobs(busy, 6, 'the second node alone');
      assert.equal(await other.stop(), 0, 'a clean stop (which gives the lease up)');
    } finally {
      await other.kill9();
    }
  });
});
