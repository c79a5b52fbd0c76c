#!/usr/bin/env bash
# The peers.sh scenario (bench/peers.sh, a copy of ../shared/bench/peers.sh)
# for hbr, and restic and Borg on the same data in the same run:
#   1. backup_initial      first backup of the 1 GiB mixed data set (v1)
#   2. backup_incremental  the same path after peers.sh's ~10 % change (v2)
#   3. backup_clients      NHOSTS hosts x SNAPS snapshots of the shared small
#                          files plus growing host-unique data
#   4. delete_reclaim      one DeleteBackupClientResource for DEL_HOSTS hosts,
#                          timed until DescribeVaults' StorageSize has fallen
#                          by their unique data (peers.sh's expected bytes)
#   5. delete_reclaim_4x   the same after the other hosts' data in the vault
#                          grew 4x (reclamation must not notice)
# For hbr a "backup" is ExecuteBackupPlan followed by `hbr-client run --once`
# (the agent polls, takes the job, uploads, commits, exits), timed with GNU
# time; hbrd runs on the same machine and verifies every chunk. Stored bytes
# are the vault directory plus the metadata database.
#
# Usage: bench/agent_peers.sh            (SCALE_MB=1024 NHOSTS=10 SNAPS=3)
#        PEERS=0 bench/agent_peers.sh    hbr only
# Needs: build/bin (make build), node clients (tests/integration/setup.sh),
# python3, /usr/bin/time, and for the peers restic + borgbackup
# (scripts/install-deps.sh --bench).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SCALE_MB=${SCALE_MB:-1024}
NHOSTS=${NHOSTS:-10}
SNAPS=${SNAPS:-3}
SEED=${SEED:-20240601}
DEL_HOSTS=${DEL_HOSTS:-5}
UNIQUE_MB=${UNIQUE_MB:-auto}
if [ "$UNIQUE_MB" = auto ]; then
	UNIQUE_MB=$((SCALE_MB / 128))
	[ "$UNIQUE_MB" -lt 2 ] && UNIQUE_MB=2
fi
PEERS=${PEERS:-1}
PORT=${PORT:-18590}
BIN=${BIN:-$ROOT/build/bin} # another build's, to compare two
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/hbr-peers.XXXXXX")}
RESULTS=${RESULTS:-$WORK/results.txt}
KEEP=${KEEP:-0}
export LC_ALL=C

cleanup() {
	[ -n "${HBRD_PID:-}" ] && kill "$HBRD_PID" 2>/dev/null && wait "$HBRD_PID" 2>/dev/null
	if [ "$KEEP" = 1 ]; then echo "# kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
die() { echo "FATAL: $*" >&2; exit 1; }
emit() { echo "$*"; echo "$*" >>"$RESULTS"; }
log() { echo "# $*" >&2; }
dubytes() { du -sb "$@" 2>/dev/null | awk '{s += $1} END {print s + 0}'; }
py() { python3 -c "$@"; }

[ -x "$BIN/hbrd" ] && [ -x "$BIN/hbr-client" ] || die "build first (make build)"
[ -d tests/integration/node_modules/@alicloud/pop-core ] ||
	bash tests/integration/setup.sh >/dev/null || die "node clients missing"
[ -x /usr/bin/time ] || die "GNU time (/usr/bin/time) is needed for peak RSS"
mkdir -p "$WORK/logs"
: >"$RESULTS"

# The data set generator is peers.sh's own, so the bytes are identical.
sed -n "/^cat > \"\$WORK\/gen.py\" <<'PYEOF'\$/,/^PYEOF\$/p" bench/peers.sh |
	sed '1d;$d' >"$WORK/gen.py"
[ -s "$WORK/gen.py" ] || die "could not extract gen.py from bench/peers.sh"

emit "op=env cores=$(nproc) scale_mb=$SCALE_MB nhosts=$NHOSTS snaps=$SNAPS unique_mb=$UNIQUE_MB seed=$SEED"
log "generating v1 ($SCALE_MB MiB)"
python3 "$WORK/gen.py" v1 "$WORK/gen/v1" "$SCALE_MB" "$SEED" >"$WORK/logs/gen.log" || die "gen failed"
V1_BYTES=$(dubytes "$WORK/gen/v1")
cp -a "$WORK/gen/v1" "$WORK/live"

# ---------------------------------------------------------------- hbrd
DATA=$WORK/hbrd
mkdir -p "$DATA"
"$BIN/hbrd" --data-dir "$DATA" --listen "127.0.0.1:$PORT" ${HBRD_ARGS:-} 2>"$WORK/logs/hbrd.log" &
HBRD_PID=$!
for _ in $(seq 200); do
	[ -s "$DATA/root-credentials.json" ] && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
	sleep 0.05
done
ENDPOINT=http://127.0.0.1:$PORT
api() { node bench/hbr-api.js "$ENDPOINT" "$DATA/root-credentials.json" "$@"; }
jfield() { py "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }

VAULT=$(api CreateVault VaultName=bench VaultRegionId=cn-local | jfield VaultId) || die "CreateVault"
hosts=(primary)
for h in $(seq 1 "$NHOSTS"); do hosts+=("$(printf 'host%02d' "$h")"); done
ids=$(py "import json,sys; print(json.dumps(sys.argv[1:]))" "${hosts[@]}")
api InstallBackupClients "InstanceIds=$ids" >/dev/null || die "InstallBackupClients"
declare -A CID
AK=$(py "import json; print(json.load(open('$DATA/root-credentials.json'))['AccessKeyId'])")
SK=$(py "import json; print(json.load(open('$DATA/root-credentials.json'))['AccessKeySecret'])")
for h in "${hosts[@]}"; do
	CID[$h]=$("$BIN/hbr-client" register --endpoint "$ENDPOINT" --access-key-id "$AK" \
		--access-key-secret "$SK" --instance-id "$h" --hostname "$h" \
		--state-dir "$WORK/agents/$h" | jfield ClientId) || die "register $h"
done
declare -A PLAN
mkplan() { # host path...
	local h=$1 i=1 args=()
	shift
	for p in "$@"; do args+=("Path.$i=$p"); i=$((i + 1)); done
	PLAN[$h]=$(api CreateBackupPlan SourceType=ECS_FILE "VaultId=$VAULT" "InstanceId=$h" \
		"PlanName=$h" "Schedule=I|$(date +%s)|P7D" Retention=3650 "${args[@]}" | jfield PlanId) ||
		die "CreateBackupPlan $h"
}
stored() { dubytes "$DATA/vaults/$VAULT" "$DATA"/*.db "$DATA"/*.db-wal; }
T_SEC=0
T_RSS=0
backup() { # host label
	local job
	job=$(api ExecuteBackupPlan "PlanId=${PLAN[$1]}" | jfield JobId) || die "ExecuteBackupPlan $1"
	/usr/bin/time -f '%e %M' -o "$WORK/.time" "$BIN/hbr-client" run --once \
		--state-dir "$WORK/agents/$1" >>"$WORK/logs/$2.log" 2>&1
	local rc=$?
	read -r T_SEC T_RSS <"$WORK/.time"
	local st
	st=$(api DescribeBackupJobs2 SourceType=ECS_FILE \
		"Filters=[{\"Key\":\"JobId\",\"Values\":[\"$job\"]}]" |
		py "import json,sys; print(json.load(sys.stdin)['BackupJobs']['BackupJob'][0]['Status'])")
	[ "$rc" = 0 ] && [ "$st" = COMPLETE ] || { log "$2: rc=$rc status=$st (logs/$2.log)"; return 1; }
}

# 1. initial
mkplan primary "$WORK/live"
backup primary hbr-backup_initial; rc=$?
RB=$(stored)
emit "tool=hbr op=backup_initial rc=$rc seconds=$T_SEC rss_kb=$T_RSS bytes=$V1_BYTES repo_bytes=$RB mb_per_s=$(py "print(round($V1_BYTES/1048576/max($T_SEC,0.01),1))") stored_ratio=$(py "print(round($RB/$V1_BYTES,3))")"

# 2. incremental after peers.sh's mutation
python3 "$WORK/gen.py" mutate "$WORK/live" "$SEED" >"$WORK/logs/mutate.log"
CHANGED=$(sed -n 's/.*changed_bytes=\([0-9]*\).*/\1/p' "$WORK/logs/mutate.log")
V2_BYTES=$(dubytes "$WORK/live")
backup primary hbr-backup_incremental; rc=$?
RB2=$(stored)
emit "tool=hbr op=backup_incremental rc=$rc seconds=$T_SEC rss_kb=$T_RSS bytes=$V2_BYTES changed_bytes=$CHANGED repo_bytes=$RB2 added_bytes=$((RB2 - RB)) added_per_changed=$(py "print(round(($RB2-$RB)/$CHANGED,3))")"

# 3. hosts x snapshots
tot=0 totb=0 nb=0 maxrss=0 fails=0
for s in $(seq 1 "$SNAPS"); do
	for h in $(seq 1 "$NHOSTS"); do
		host=$(printf 'host%02d' "$h")
		python3 "$WORK/gen.py" unique "$WORK/clients/$host/s$s" "$UNIQUE_MB" $((SEED * 1000 + h * 10 + s))
		[ "$s" = 1 ] && mkplan "$host" "$WORK/live/small" "$WORK/clients/$host"
		backup "$host" hbr-backup_clients || fails=$((fails + 1))
		tot=$(py "print(round($tot+$T_SEC,2))")
		nb=$((nb + 1))
		[ "$T_RSS" -gt "$maxrss" ] && maxrss=$T_RSS
		totb=$((totb + $(dubytes "$WORK/live/small") + $(dubytes "$WORK/clients/$host")))
	done
done
RB3=$(stored)
emit "tool=hbr op=backup_clients failures=$fails backups=$nb seconds=$tot max_rss_kb=$maxrss bytes=$totb repo_bytes=$RB3 added_bytes=$((RB3 - RB2))"
emit "tool=hbr op=hbrd_peak rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$HBRD_PID/status")"

# 4. delete every resource of DEL_HOSTS hosts in one call; time until the
# space is back. hbrd's peak RSS is reset first (clear_refs 5) so the
# figure is reclamation's, not the backups'.
EXPECT=$((DEL_HOSTS * SNAPS * UNIQUE_MB * 1048576))
delete_reclaim() { # op
	local ids=() out
	for h in $(seq 1 "$DEL_HOSTS"); do ids+=("${CID[$(printf 'host%02d' "$h")]}"); done
	# SNAPSHOT_DIR keeps a copy of hbrd's data dir as it is just before
	# the deletion, to profile one reclamation again and again
	# (bench/reclaim_again.sh).
	if [ -n "${SNAPSHOT_DIR:-}" ]; then
		local snap=$SNAPSHOT_DIR/$1
		rm -rf "$snap" && mkdir -p "$snap"
		sqlite3 "$DATA/hbr.db" ".backup '$snap/hbr.db'" || die "snapshot"
		cp -a "$DATA/vaults" "$DATA/nonces" "$DATA/root-credentials.json" "$snap/"
		printf '%s\n' "$VAULT" "$EXPECT" "${ids[*]}" >"$snap/deletion"
	fi
	# hbrd gives the heap its uploads left free back after a second
	# without requests; the peak below is then reclamation's, not the
	# backups' leftovers.
	sleep 2
	echo 5 >"/proc/$HBRD_PID/clear_refs" 2>/dev/null
	local rss0 anon0
	rss0=$(awk '/VmRSS/ {print $2}' "/proc/$HBRD_PID/status")
	anon0=$(awk '/RssAnon/ {print $2}' "/proc/$HBRD_PID/status")
	out=$(node bench/hbr-reclaim.js "$ENDPOINT" "$DATA/root-credentials.json" "$VAULT" "$EXPECT" "${ids[@]}") ||
		die "delete/reclaim failed"
	local vb
	vb=$(stored)
	emit "tool=hbr op=$1 hosts=$DEL_HOSTS seconds=$(echo "$out" | jfield reclaim_seconds) call_seconds=$(echo "$out" | jfield call_seconds) freed_bytes=$(echo "$out" | jfield freed_bytes) expected_freed_bytes=$EXPECT freed_pct_of_expected=$(py "print(round(100*$(echo "$out" | jfield freed_bytes)/$EXPECT,1))") vault_bytes_before=$(echo "$out" | jfield before) repo_bytes_after=$vb hbrd_rss_kb_before=$rss0 hbrd_anon_kb_before=$anon0 hbrd_peak_rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$HBRD_PID/status")"
}
delete_reclaim delete_reclaim

# 5. the same with 4x as much data of other hosts in the vault: the
# remaining hosts add 3x what the vault held besides the deleted hosts'
# data, then the deleted hosts back up again as before and go again.
OTHERS=$(($(stored) / 1048576))
EXTRA_MB=$((3 * OTHERS / (NHOSTS - DEL_HOSTS)))
for h in $(seq $((DEL_HOSTS + 1)) "$NHOSTS"); do
	host=$(printf 'host%02d' "$h")
	python3 "$WORK/gen.py" unique "$WORK/clients/$host/bulk" "$EXTRA_MB" $((SEED * 1000 + h * 10 + 9))
	backup "$host" hbr-backup_bulk || die "bulk backup of $host"
done
for h in $(seq 1 "$DEL_HOSTS"); do
	host=$(printf 'host%02d' "$h")
	for s in $(seq 1 "$SNAPS"); do
		python3 "$WORK/gen.py" unique "$WORK/clients/$host/r$s" "$UNIQUE_MB" $((SEED * 1000 + h * 10 + s + 5))
		[ "$s" = 1 ] && mkplan "$host" "$WORK/live/small" "$WORK/clients/$host"
		rm -rf "$WORK/clients/$host"/s[0-9]*
		backup "$host" hbr-backup_again || die "backup of $host"
	done
done
emit "tool=hbr op=vault_grown others_mb_before=$OTHERS vault_bytes=$(stored)"
delete_reclaim delete_reclaim_4x
kill "$HBRD_PID"
wait "$HBRD_PID" 2>/dev/null
HBRD_PID=

# ---------------------------------------------------------------- peers
if [ "$PEERS" = 1 ]; then
	log "running restic and Borg (bench/peers.sh) on the same data"
	SCALE_MB=$SCALE_MB NHOSTS=$NHOSTS SNAPS=$SNAPS SEED=$SEED EXTRA_TESTS=0 INSTALL=0 \
		RESULTS="$WORK/peers.txt" bench/peers.sh >/dev/null 2>"$WORK/logs/peers.log" ||
		log "peers.sh failed (logs/peers.log)"
	grep -E '^tool=(restic|borg) op=(version|backup_|delete_|reclaim)' "$WORK/peers.txt" | while read -r l; do emit "$l"; done
fi

# ---------------------------------------------------------------- summary
py '
import sys, re
rows = {}
for line in open(sys.argv[1]):
    kv = dict(x.split("=", 1) for x in line.split() if "=" in x)
    if "tool" in kv: rows[(kv["tool"], kv["op"])] = kv
def f(t, op, k):
    r = rows.get((t, op)); return float(r[k]) if r and k in r else None
h = lambda op, k: f("hbr", op, k)
print("\n| | hbr | restic | borg | hbr vs restic |")
print("|---|---|---|---|---|")
for op, label in (("backup_initial", "initial backup (s)"), ("backup_incremental", "incremental backup (s)"), ("backup_clients", "30 host backups (s)")):
    vals = [f(t, op, "seconds") for t in ("hbr", "restic", "borg")]
    x = "%.2fx faster" % (vals[1] / vals[0]) if vals[0] and vals[1] else "-"
    print("| %s | %s | %s | %s | %s |" % (label, *["-" if v is None else "%.2f" % v for v in vals], x))
for op, label in (("backup_initial", "initial peak RSS (MiB)"), ("backup_incremental", "incremental peak RSS (MiB)")):
    vals = [f(t, op, "rss_kb") for t in ("hbr", "restic", "borg")]
    print("| %s | %s | %s | %s | |" % (label, *["-" if v is None else "%.0f" % (v / 1024) for v in vals]))
d = [h("delete_reclaim", "seconds"), f("restic", "delete_hosts_total", "seconds"), f("borg", "delete_hosts_total", "seconds")]
print("| delete %s hosts until the space is back (s) | %s | %s | %s | %s |" % (
    int(h("delete_reclaim", "hosts") or 0), *["-" if v is None else "%.3f" % v for v in d],
    "%.0fx faster" % (d[1] / d[0]) if d[0] and d[1] else "-"))
d4 = h("delete_reclaim_4x", "seconds")
if d4 is not None:
    print("| the same with 4x other data in the vault (s) | %.3f | | | |" % d4)
for op in ("delete_reclaim", "delete_reclaim_4x"):
    r = h(op, "hbrd_peak_rss_kb")
    if r is not None:
        print("| %s: hbrd peak RSS (MiB), freed %% of expected | %.0f, %.1f %% | | | |" % (op, r / 1024, h(op, "freed_pct_of_expected")))
vals = [f(t, "backup_incremental", "added_bytes") for t in ("hbr", "restic", "borg")]
ch = h("backup_incremental", "changed_bytes")
if ch:
    print("| incremental: stored / changed bytes | %s | %s | %s | |" % tuple("-" if v is None else "%.2f" % (v / ch) for v in vals))
' "$RESULTS"
log "results in $RESULTS"
