#!/usr/bin/env bash
# Installs the official Alibaba Cloud Node.js clients the integration tests
# drive (versions pinned in package.json / package-lock.json). Idempotent:
# does nothing when they are already installed at the pinned versions.
set -euo pipefail
cd "$(dirname "$0")"

command -v node >/dev/null || { echo "setup.sh: node not found (need node >= 20)" >&2; exit 1; }
command -v npm >/dev/null || { echo "setup.sh: npm not found" >&2; exit 1; }
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
	echo "setup.sh: node $(node --version) is too old (need >= 20)" >&2
	exit 1
fi

# Installed and at the versions package.json pins?
if node -e '
	const want = require("./package.json").dependencies;
	for (const [name, v] of Object.entries(want)) {
		const got = require(`./node_modules/${name}/package.json`).version;
		if (got !== v) process.exit(1);
	}' 2>/dev/null; then
	exit 0
fi

if [ -f package-lock.json ]; then
	npm ci --no-audit --no-fund
else
	npm install --no-audit --no-fund
fi
