#!/usr/bin/env bash
# Control-plane benchmarks (issue 2), all in one run on this machine:
#   1. signed DescribeBackupClients at 1/16/64 connections, hbrd vs nginx
#      serving a static JSON of the same size (the ceiling), same loadgen;
#   2. signed DeleteBackupClientResource at 1/16/64 connections, each
#      request deleting a different client's plans, jobs and snapshots;
#   3. DeleteBackupClientResource of 100 clients x (10 plans, 100 jobs,
#      1000 snapshots) in one call, on 5 fresh copies of the seeded store.
# Prints a Markdown report. Usage: bench/run.sh [SECONDS_PER_POINT]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
BIN=build/bin
WORK=$(mktemp -d /tmp/hbr-bench.XXXXXX)
HPORT=${HPORT:-18480}
NPORT=${NPORT:-18481}
cleanup() {
	[ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
	[ -n "${HBRD_PID:-}" ] && kill "$HBRD_PID" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

json() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$2)" "$1"; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

start_hbrd() { # DATA_DIR
	"$BIN/hbrd" --data-dir "$1" --listen 127.0.0.1:$HPORT 2>>"$WORK/hbrd.log" &
	HBRD_PID=$!
	for _ in $(seq 100); do
		(exec 3<>/dev/tcp/127.0.0.1/$HPORT) 2>/dev/null && return 0
		sleep 0.05
	done
	echo "hbrd did not start" >&2
	exit 1
}
stop_hbrd() {
	kill "$HBRD_PID"
	wait "$HBRD_PID" || true
	HBRD_PID=
}
load() { # PORT KEY SECRET CONNECTIONS ARGS...
	local port=$1 key=$2 secret=$3 c=$4
	shift 4
	"$BIN/hbr-loadgen" --port "$port" --key "$key" --secret "$secret" \
		--connections "$c" --threads 2 "$@"
}

echo "## Run of $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(uname -r)"
echo

# 1. DescribeBackupClients vs nginx
D1=$WORK/describe
"$BIN/hbrd" admin seed --data-dir "$D1" --clients 10 --plans 1 >/dev/null
KEY=$(json "$D1/root-credentials.json" "['AccessKeyId']")
SECRET=$(json "$D1/root-credentials.json" "['AccessKeySecret']")
start_hbrd "$D1"
probe=$(load $HPORT "$KEY" "$SECRET" 1 --action DescribeBackupClients \
	--param ClientType=ECS_CLIENT --requests 1)
SIZE=$(field "$probe" body_bytes)
mkdir -p "$WORK/html"
chmod 755 "$WORK" "$WORK/html"  # nginx workers run unprivileged
head -c "$SIZE" /dev/zero | tr '\0' ' ' >"$WORK/html/index.json"
chmod 644 "$WORK/html/index.json"
cat >"$WORK/nginx.conf" <<NGX
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
	access_log off;
	server {
		listen 127.0.0.1:$NPORT;
		keepalive_requests 10000000;
		location / { root $WORK/html; try_files /index.json =404;
			     default_type application/json; }
	}
}
NGX
nginx -c "$WORK/nginx.conf" -p "$WORK"
sleep 0.3

echo "### Signed DescribeBackupClients (10 clients, ${SIZE}-byte answer) vs nginx static file of the same size"
echo
echo "Three alternating rounds per point (hbrd, nginx, hbrd, ...), ${SECS} s each; the medians."
echo
echo "| connections | hbrd req/s | p50 µs | p99 µs | nginx req/s | p50 µs | p99 µs | hbrd / nginx |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for c in 1 16 64; do
	hs=() ns=()
	for _ in 1 2 3; do
		hs+=("$(load $HPORT "$KEY" "$SECRET" $c --action DescribeBackupClients \
			--param ClientType=ECS_CLIENT --seconds "$SECS")")
		ns+=("$(load $NPORT "$KEY" "$SECRET" $c --action DescribeBackupClients \
			--param ClientType=ECS_CLIENT --seconds "$SECS")")
	done
	python3 - "$c" "${hs[@]}" "${ns[@]}" <<'PY'
import json, statistics, sys
c = sys.argv[1]
runs = [json.loads(a) for a in sys.argv[2:]]
h, n = runs[:3], runs[3:]
def med(rs, k): return statistics.median(r[k] for r in rs)
hr, nr = med(h, "rps"), med(n, "rps")
print(f"| {c} | {hr:.0f} | {med(h,'p50_us'):.0f} | {med(h,'p99_us'):.0f} | {nr:.0f} | {med(n,'p50_us'):.0f} | {med(n,'p99_us'):.0f} | {hr/nr*100:.0f} % |")
PY
done
echo
stop_hbrd

# 2. DeleteBackupClientResource under load: one client per request
D2=$WORK/delete
"$BIN/hbrd" admin seed --data-dir "$D2" --clients 3000 --plans 1 --jobs 2 \
	--snapshots 10 >"$WORK/seed2.json"
python3 -c "import json,sys; [print(json.dumps([c])) for c in json.load(open(sys.argv[1]))['ClientIds']]" \
	"$WORK/seed2.json" >"$WORK/ids.txt"
KEY=$(json "$D2/root-credentials.json" "['AccessKeyId']")
SECRET=$(json "$D2/root-credentials.json" "['AccessKeySecret']")
start_hbrd "$D2"
echo "### Signed DeleteBackupClientResource, one client (1 plan, 2 jobs, 10 snapshots) per request"
echo
echo "| connections | req/s | p50 µs | p90 µs | p99 µs | requests |"
echo "|---:|---:|---:|---:|---:|---:|"
for c in 1 16 64; do
	r=$(load $HPORT "$KEY" "$SECRET" $c --action DeleteBackupClientResource \
		--cycle "ClientIds=$WORK/ids.txt" --requests 1000 --seconds 120)
	python3 - "$c" "$r" <<'PY'
import json, sys
c, r = sys.argv[1], json.loads(sys.argv[2])
print(f"| {c} | {r['rps']:.0f} | {r['p50_us']} | {r['p90_us']} | {r['p99_us']} | {r['requests']} |")
PY
done
echo
stop_hbrd

# 3. One call deleting 100 clients x (10 plans, 100 jobs, 1000 snapshots)
D3=$WORK/big
"$BIN/hbrd" admin seed --data-dir "$D3" --clients 100 --plans 10 --jobs 100 \
	--running 5 --snapshots 1000 >"$WORK/seed3.json"
IDS=$(python3 -c "import json,sys; print(json.dumps(json.load(open(sys.argv[1]))['ClientIds'],separators=(',',':')))" "$WORK/seed3.json")
echo "### DeleteBackupClientResource: 100 clients, 1,000 plans, 10,000 jobs (500 running), 100,000 snapshots in one call"
echo
echo "| run | latency ms (client side, signed request to answer) |"
echo "|---:|---:|"
for i in 1 2 3 4 5; do
	rm -rf "$WORK/big-run"
	cp -r "$D3" "$WORK/big-run"
	KEY=$(json "$WORK/big-run/root-credentials.json" "['AccessKeyId']")
	SECRET=$(json "$WORK/big-run/root-credentials.json" "['AccessKeySecret']")
	start_hbrd "$WORK/big-run"
	r=$(load $HPORT "$KEY" "$SECRET" 1 --action DeleteBackupClientResource \
		--param "ClientIds=$IDS" --requests 1 --seconds 60)
	python3 - "$i" "$r" <<'PY'
import json, sys
i, r = sys.argv[1], json.loads(sys.argv[2])
assert r["errors"] == 0, r
print(f"| {i} | {r['max_us']/1000:.1f} |")
PY
	stop_hbrd
done
echo
