// The hbrd command line: init, --config with flags overriding it, --help,
// and refusals of bad usage (issue 2, "hbrd").
'use strict';

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');

const { freePort, hbrdPath, makeTempDir, sleep, startServer } = require('./lib/hbr');

const T = { timeout: 30_000 };

function run(args) {
  return spawnSync(hbrdPath(), args, { encoding: 'utf8', timeout: 15_000 });
}

function listening(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (ok) => { s.destroy(); resolve(ok); };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

describe('hbrd command line', { timeout: 120_000 }, () => {
  test('init creates the account once and prints the same credentials again', T, () => {
    const dir = makeTempDir();
    const first = run(['init', '--data-dir', dir]);
    assert.equal(first.status, 0, first.stderr);
    const a = JSON.parse(first.stdout);
    assert.match(a.AccountId, /^acc-[0-9a-z]{20}$/);
    assert.match(a.AccessKeyId, /^LTAI[0-9A-Za-z]{20}$/);
    assert.ok(a.AccessKeySecret.length >= 30);
    const second = run(['init', '--data-dir', dir]);
    assert.equal(second.status, 0, second.stderr);
    assert.deepEqual(JSON.parse(second.stdout), a, 'same account and key on re-run');
    const file = path.join(dir, 'root-credentials.json');
    assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), a);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600, 'credentials file is 0600');
    assert.equal(fs.statSync(path.join(dir, 'hbr.db')).mode & 0o077, 0, 'database not group/world readable');
  });

  test('--config is read and flags override it', T, async () => {
    const dir = makeTempDir();
    const other = makeTempDir();
    const cfgPort = await freePort();
    const flagPort = await freePort();
    const cfg = path.join(dir, 'hbrd.conf');
    fs.writeFileSync(cfg, `# test config\ndata-dir = ${other}\nlisten = 127.0.0.1:${cfgPort}\n`);
    const proc = spawn(hbrdPath(), ['--config', cfg, '--listen', `127.0.0.1:${flagPort}`],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d) => { stderr += d; });
    const exited = new Promise((r) => proc.once('exit', (code) => r(code)));
    try {
      let up = false;
      for (let i = 0; i < 200 && !up; i++) {
        up = await listening(flagPort);
        if (!up) await sleep(50);
      }
      assert.ok(up, `hbrd listens on the --listen port; stderr: ${stderr}`);
      assert.equal(await listening(cfgPort), false, 'not on the config file port');
      assert.ok(fs.existsSync(path.join(other, 'root-credentials.json')),
        'data-dir from the config file is used');
      assert.match(stderr, /root-credentials\.json/, 'logs where the credentials are');
    } finally {
      proc.kill('SIGTERM');
    }
    assert.equal(await exited, 0, 'SIGTERM exits 0');
  });

  test('at start, vault data that no live vault owns is removed', T, async () => {
    // What a crash between DeleteVault's commit and its removal of the
    // data leaves behind: a vault directory without a live vault.
    const dir = makeTempDir();
    const first = await startServer({ dataDir: dir });
    await first.stop('SIGTERM');
    const stray = path.join(dir, 'vaults', 'v-0123456789abcdefghij');
    fs.mkdirSync(stray, { recursive: true });
    fs.writeFileSync(path.join(stray, 'pack'), 'orphaned');
    const other = path.join(dir, 'vaults', 'not-a-vault-id');
    fs.mkdirSync(other);
    const again = await startServer({ dataDir: dir });
    try {
      assert.equal(fs.existsSync(stray), false, 'orphaned vault data removed');
      assert.equal(fs.existsSync(other), true, 'names that are not vault ids are left alone');
    } finally {
      await again.stop('SIGTERM');
    }
  });

  test('a bad config line is refused with its line number', T, () => {
    const dir = makeTempDir();
    const cfg = path.join(dir, 'bad.conf');
    fs.writeFileSync(cfg, 'listen = 127.0.0.1:1\nno-such-setting = 1\n');
    const r = run(['--config', cfg, '--data-dir', dir]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /bad\.conf:2: unknown setting 'no-such-setting'/);
  });

  test('--help prints usage and exits 0', T, () => {
    const r = run(['--help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /usage: hbrd/);
    assert.match(r.stdout, /create-account/);
  });

  test('unknown options, commands and verbs exit 2 with a message', T, () => {
    const dir = makeTempDir();
    for (const args of [['--bogus', 'x'], ['frobnicate'], ['ram', 'frobnicate', '--data-dir', dir],
      ['--listen', 'nonsense', '--data-dir', dir]]) {
      const r = run(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stderr.length > 0, `${args.join(' ')} says why`);
    }
  });

  test('attach-policy refuses an invalid document and changes nothing', T, () => {
    const dir = makeTempDir();
    assert.equal(run(['init', '--data-dir', dir]).status, 0);
    assert.equal(run(['ram', 'create-user', 'alice', '--data-dir', dir]).status, 0);
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ Version: '1', Statement: [{ Effect: 'Maybe', Action: '*', Resource: '*' }] }));
    const r = run(['ram', 'attach-policy', 'alice', bad, '--data-dir', dir]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Effect/);
    const users = JSON.parse(run(['ram', 'list-users', '--data-dir', dir]).stdout);
    assert.deepEqual(users.Users.find((u) => u.UserName === 'alice').Policies, []);
  });
});
