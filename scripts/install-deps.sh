#!/usr/bin/env bash
# Installs what hbr needs to build, test and benchmark, and nothing that is
# already there. Idempotent: a second run does no network access.
#
#   scripts/install-deps.sh          build + test dependencies
#   scripts/install-deps.sh --bench  also the benchmark peers (nginx, restic,
#                                    Borg) and their tools (GNU time, strace)
set -euo pipefail

pkgs=(build-essential cmake ninja-build pkg-config
      libjansson-dev libssl-dev libsqlite3-dev libzstd-dev
      libxxhash-dev libcurl4-openssl-dev libpq-dev libcmocka-dev
      nodejs npm sqlite3 clang libclang-rt-14-dev python3)
[ "${1:-}" = "--bench" ] && pkgs+=(nginx-light restic borgbackup strace time)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
# Node and npm may come from outside Debian on some images; accept them if
# they work rather than fighting the image's own install.
if command -v node >/dev/null && command -v npm >/dev/null; then
	missing=("${missing[@]/nodejs/}")
	missing=("${missing[@]/npm/}")
fi
want=()
for p in "${missing[@]}"; do [ -n "$p" ] && want+=("$p"); done

if [ "${#want[@]}" -gt 0 ]; then
	echo "install-deps: installing ${want[*]}" >&2
	sudo=""
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
fi
