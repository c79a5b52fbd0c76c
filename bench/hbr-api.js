// One signed HBR API call from the shell, through the official pop-core
// client (installed by tests/integration/setup.sh):
//   node bench/hbr-api.js ENDPOINT CREDENTIALS_JSON Action [Key=Value ...]
// Prints the answer's JSON; exits 1 on an error answer.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const mods = path.join(__dirname, '..', 'tests', 'integration', 'node_modules');
const RPCClient = require(path.join(mods, '@alicloud', 'pop-core'));

async function main() {
  const [endpoint, credsFile, action, ...kv] = process.argv.slice(2);
  if (!action) {
    console.error('usage: hbr-api.js ENDPOINT CREDENTIALS_JSON Action [Key=Value ...]');
    process.exit(2);
  }
  const c = JSON.parse(fs.readFileSync(credsFile, 'utf8'));
  const client = new RPCClient({
    accessKeyId: c.AccessKeyId, accessKeySecret: c.AccessKeySecret,
    endpoint, apiVersion: '2017-09-08',
  });
  const params = {};
  for (const a of kv) {
    const i = a.indexOf('=');
    params[a.slice(0, i)] = a.slice(i + 1);
  }
  try {
    const r = await client.request(action, params, { method: 'POST', timeout: 120000 });
    console.log(JSON.stringify(r));
  } catch (e) {
    console.error(`${action}: ${e.message}`);
    process.exit(1);
  }
}
main();
