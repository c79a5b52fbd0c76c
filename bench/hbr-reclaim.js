// Time DeleteBackupClientResource until the space is back:
//   node bench/hbr-reclaim.js ENDPOINT CREDENTIALS_JSON VAULT_ID EXPECT_BYTES CLIENT_ID...
// Calls DeleteBackupClientResource once for all the clients, then polls
// DescribeVaults (StorageSize is the vault's pack bytes, which fall only
// once pack objects are removed) every 10 ms until it has fallen by
// EXPECT_BYTES or stops moving for 10 s (bounded at 120 s). Prints
// {"call_seconds","reclaim_seconds","freed_bytes","before","after"}.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const mods = path.join(__dirname, '..', 'tests', 'integration', 'node_modules');
const RPCClient = require(path.join(mods, '@alicloud', 'pop-core'));

async function main() {
  const [endpoint, credsFile, vaultId, expectStr, ...clients] = process.argv.slice(2);
  if (!clients.length) {
    console.error('usage: hbr-reclaim.js ENDPOINT CREDENTIALS_JSON VAULT_ID EXPECT_BYTES CLIENT_ID...');
    process.exit(2);
  }
  const c = JSON.parse(fs.readFileSync(credsFile, 'utf8'));
  const client = new RPCClient({
    accessKeyId: c.AccessKeyId, accessKeySecret: c.AccessKeySecret, endpoint, apiVersion: '2017-09-08',
  });
  const opts = { method: 'POST', timeout: 120000 };
  const size = async () => {
    const r = await client.request('DescribeVaults', { VaultId: vaultId }, opts);
    return Number(r.Vaults.Vault[0].StorageSize);
  };
  const expect = Number(expectStr);
  const before = await size();
  const t0 = process.hrtime.bigint();
  await client.request('DeleteBackupClientResource', { ClientIds: JSON.stringify(clients) }, opts);
  const t1 = process.hrtime.bigint();
  let now = before;
  let lastChange = t1;
  let done = t1;
  for (;;) {
    const s = await size();
    const t = process.hrtime.bigint();
    if (s !== now) { now = s; lastChange = t; done = t; }
    if (before - now >= expect) break;
    if (Number(t - lastChange) / 1e9 > 10 || Number(t - t0) / 1e9 > 120) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  console.log(JSON.stringify({
    call_seconds: Number(t1 - t0) / 1e9,
    reclaim_seconds: Number(done - t0) / 1e9,
    freed_bytes: before - now, before, after: now,
  }));
}
main().catch((e) => { console.error(e.message); process.exit(1); });
