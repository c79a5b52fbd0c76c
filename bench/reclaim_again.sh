#!/usr/bin/env bash
# Run one recorded deletion again, from a copy of hbrd's data dir taken
# just before it by `SNAPSHOT_DIR=DIR bench/agent_peers.sh`:
#   bench/reclaim_again.sh DIR/delete_reclaim [DIR/delete_reclaim_4x ...]
# Each is copied afresh, hbrd started on it (HBR_LOG=debug: the pass's
# phase timings), the deletion timed by bench/hbr-reclaim.js, hbrd
# stopped. ROUNDS=N alternates the snapshots N times, so a change can be
# compared on the same vaults; PERF=1 records hbrd with perf.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$PWD/build/bin}
ROUNDS=${ROUNDS:-1}
PORT=${PORT:-18591}
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/hbr-again.XXXXXX")}
mkdir -p "$WORK"
die() { echo "FATAL: $*" >&2; exit 1; }
[ $# -ge 1 ] || die "usage: $0 SNAPSHOT... (from SNAPSHOT_DIR=DIR bench/agent_peers.sh)"
for r in $(seq 1 "$ROUNDS"); do
	for snap in "$@"; do
		[ -s "$snap/deletion" ] || die "$snap: not a snapshot"
		{ read -r vault; read -r expect; read -r ids; } <"$snap/deletion"
		rm -rf "$WORK/data" && cp -a "$snap" "$WORK/data" && sync
		HBR_LOG=debug "$BIN/hbrd" --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" 2>"$WORK/hbrd.log" &
		pid=$!
		for _ in $(seq 1 100); do
			curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
			sleep 0.05
		done
		[ "${PERF:-0}" = 1 ] && { perf record -F 5000 -g -o "$WORK/perf-$(basename "$snap")-$r.data" -p "$pid" 2>/dev/null & perfpid=$!; sleep 0.5; }
		# shellcheck disable=SC2086
		out=$(node bench/hbr-reclaim.js "http://127.0.0.1:$PORT" "$WORK/data/root-credentials.json" "$vault" "$expect" $ids) || die "reclaim failed"
		sleep 1
		[ "${PERF:-0}" = 1 ] && { kill -INT "$perfpid"; wait "$perfpid"; }
		kill "$pid"; wait "$pid"
		echo "round=$r snap=$(basename "$snap") $out"
		grep -E "reclaim: (phase 1|[0-9]+ snapshots,|[0-9]+ pack objects|vault)" "$WORK/hbrd.log" | sed 's/^[^ ]* hbrd [a-z]*: /  /' | head -6
	done
done
