// Generated file trees for the backup tests, and a comparison of two
// trees by content and metadata (what a restore must bring back).
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const KiB = 1024;
const MiB = 1024 * KiB;

/** Deterministic pseudo-random bytes (so two trees can share content). */
function prng(seed, n) {
  const out = Buffer.alloc(n);
  let off = 0;
  let ctr = 0;
  while (off < n) {
    const h = crypto.createHash('sha256').update(`${seed}:${ctr++}`).digest();
    const k = Math.min(h.length, n - off);
    h.copy(out, off, 0, k);
    off += k;
  }
  return out;
}

/** Fast large pseudo-random content: AES-CTR keystream of a seed. */
function noise(seed, n) {
  const key = crypto.createHash('sha256').update(String(seed)).digest();
  const c = crypto.createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return c.update(Buffer.alloc(n));
}

function text(seed, n) {
  const words = ['backup', 'vault', 'snapshot', 'chunk', 'restore', 'plan', 'client', 'pack', 'tree', 'hbr'];
  const r = prng(seed, Math.ceil(n / 4) + 16);
  let s = '';
  for (let i = 0; s.length < n; i++) s += words[r[i % r.length] % words.length] + (i % 12 === 11 ? '\n' : ' ');
  return Buffer.from(s.slice(0, n));
}

function setXattr(file, name, value) {
  // Node has no xattr API; python3 is on every machine the project
  // supports (peers.sh needs it too).
  const r = spawnSync('python3', ['-c',
    'import os,sys; os.setxattr(sys.argv[1], sys.argv[2], sys.argv[3].encode(), follow_symlinks=False)',
    file, name, value]);
  return r.status === 0;
}

/** The user.* xattrs of many files in one python3 run: {path: {name: hex}}. */
function getXattrsMany(files) {
  const r = spawnSync('python3', ['-c',
    'import os,sys,json\n' +
    'out={}\n' +
    'for p in json.load(sys.stdin):\n' +
    '  try:\n    names=os.listxattr(p, follow_symlinks=False)\n  except OSError:\n    names=[]\n' +
    '  out[p]={n: os.getxattr(p, n, follow_symlinks=False).hex() for n in sorted(names) if n.startswith("user.")}\n' +
    'print(json.dumps(out))'],
  { encoding: 'utf8', input: JSON.stringify(files), maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`reading xattrs: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/**
 * Make a tree under root with every kind of entry the agent must keep.
 * opts.seed varies content; opts.small (count), opts.large (array of
 * sizes). Returns { root, xattrs: bool, files, bytes }.
 */
function makeTree(root, opts = {}) {
  const seed = opts.seed || 'tree';
  const small = opts.small ?? 200;
  const large = opts.large ?? [3 * MiB + 12345, 1 * MiB];
  let bytes = 0;
  let files = 0;
  const w = (p, data, mode) => {
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, data);
    if (mode !== undefined) fs.chmodSync(p, mode);
    bytes += data.length;
    files++;
  };
  for (let i = 0; i < small; i++) {
    const n = 1 * KiB + (prng(`${seed}-s${i}`, 4).readUInt32LE(0) % (48 * KiB));
    const data = i % 2 ? text(`${seed}-t${i}`, n) : prng(`${seed}-b${i}`, n);
    w(path.join(root, 'small', `d${String(Math.floor(i / 50)).padStart(2, '0')}`, `f${i}.${i % 2 ? 'txt' : 'bin'}`), data);
  }
  large.forEach((n, i) => w(path.join(root, 'large', `L${i}.img`), noise(`${seed}-L${i}`, n)));
  // Empty file, empty directory, permissions, unicode names.
  w(path.join(root, 'meta', 'empty'), Buffer.alloc(0));
  fs.mkdirSync(path.join(root, 'meta', 'empty-dir', 'nested-empty'), { recursive: true });
  w(path.join(root, 'meta', 'secret.key'), Buffer.from('k3y\n'), 0o600);
  w(path.join(root, 'meta', 'script.sh'), Buffer.from('#!/bin/sh\necho hi\n'), 0o755);
  w(path.join(root, 'meta', 'naïve café — 日本語.txt'), Buffer.from('unicode\n'));
  fs.chmodSync(path.join(root, 'meta', 'empty-dir'), 0o750);
  // Symlinks: relative, absolute, dangling.
  fs.symlinkSync('secret.key', path.join(root, 'meta', 'link-rel'));
  fs.symlinkSync(path.join(root, 'meta', 'script.sh'), path.join(root, 'meta', 'link-abs'));
  fs.symlinkSync('does/not/exist', path.join(root, 'meta', 'link-dangling'));
  // Hard links (three names for one inode).
  w(path.join(root, 'meta', 'hard-a'), text(`${seed}-hard`, 20 * KiB));
  fs.linkSync(path.join(root, 'meta', 'hard-a'), path.join(root, 'meta', 'hard-b'));
  fs.linkSync(path.join(root, 'meta', 'hard-a'), path.join(root, 'small', 'hard-c'));
  // Sparse file: 16 MiB with two data islands.
  const sp = path.join(root, 'meta', 'sparse.img');
  const fd = fs.openSync(sp, 'w');
  fs.writeSync(fd, prng(`${seed}-sp1`, 100 * KiB), 0, 100 * KiB, 1 * MiB);
  fs.writeSync(fd, prng(`${seed}-sp2`, 50 * KiB), 0, 50 * KiB, 9 * MiB);
  fs.ftruncateSync(fd, 16 * MiB);
  fs.closeSync(fd);
  files++;
  const xattrs = setXattr(path.join(root, 'meta', 'secret.key'), 'user.hbr.test', 'value-1') &&
    setXattr(path.join(root, 'small'), 'user.hbr.dir', 'dir-attr');
  // Fixed mtimes in the past, so a restore that forgets them shows.
  const t0 = new Date('2024-03-01T12:00:00.123Z');
  for (const p of ['meta/secret.key', 'meta/script.sh', 'meta/empty', 'large/L0.img']) {
    fs.utimesSync(path.join(root, p), t0, t0);
  }
  fs.utimesSync(path.join(root, 'meta', 'empty-dir'), t0, t0);
  return { root, xattrs, files, bytes };
}

function sha(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/**
 * Every entry under root as { rel: {type, mode, size, sha, mtimeMs, link,
 * inodeGroup, blocks, xattrs} }. Hard links share an inodeGroup (the
 * first path of that inode), since restored inodes differ.
 */
function describeTree(root, opts = {}) {
  const out = {};
  const firstPathOfInode = new Map();
  const xattrPaths = [];
  const walk = (rel) => {
    const p = path.join(root, rel);
    const st = fs.lstatSync(p);
    const e = { mode: st.mode & 0o7777 };
    if (st.isSymbolicLink()) {
      e.type = 'symlink';
      e.link = fs.readlinkSync(p);
    } else if (st.isDirectory()) {
      e.type = 'dir';
      e.mtimeMs = Math.floor(st.mtimeMs);
    } else if (st.isFile()) {
      e.type = 'file';
      e.size = st.size;
      e.sha = sha(p);
      e.mtimeMs = Math.floor(st.mtimeMs);
      e.sparse = st.blocks * 512 < st.size / 2;
      const key = `${st.dev}:${st.ino}`;
      if (!firstPathOfInode.has(key)) firstPathOfInode.set(key, rel);
      e.inodeGroup = firstPathOfInode.get(key);
      e.nlink = st.nlink;
    } else {
      e.type = 'other';
    }
    if (opts.xattrs && !st.isSymbolicLink()) xattrPaths.push([rel || '.', p]);
    out[rel || '.'] = e;
    if (st.isDirectory()) {
      for (const name of fs.readdirSync(p).sort()) walk(rel ? path.join(rel, name) : name);
    }
  };
  walk('');
  if (xattrPaths.length) {
    const got = getXattrsMany(xattrPaths.map(([, p]) => p));
    for (const [rel, p] of xattrPaths) out[rel].xattrs = got[p];
  }
  return out;
}

/** Assert that tree b (restored) equals tree a (source), entry by entry. */
function assertSameTree(a, b, what = 'restore') {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  const missing = ka.filter((k) => !(k in b));
  const extra = kb.filter((k) => !(k in a));
  assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, `${what}: same set of paths`);
  for (const k of ka) {
    // The root's own mtime changes when the restore creates it; ignore.
    const ea = { ...a[k] };
    const eb = { ...b[k] };
    if (k === '.') { delete ea.mtimeMs; delete eb.mtimeMs; }
    assert.deepEqual(eb, ea, `${what}: ${k}`);
  }
}

module.exports = { KiB, MiB, assertSameTree, describeTree, makeTree, noise, prng, text };
