#!/usr/bin/env bash
# The include rule: util <- core <- {http, auth, store, vault} <-
# {api, agent, gc, sched} <- cmd. A file may include its own module and
# modules of a lower rank only.
set -euo pipefail
cd "$(dirname "$0")/../src"
rank() {
	case "$1" in
	util) echo 0 ;; core) echo 1 ;;
	http | auth | store | vault) echo 2 ;;
	api | agent | gc | sched) echo 3 ;;
	cmd) echo 4 ;;
	*) echo 99 ;;
	esac
}
bad=0
for f in */*.[ch]; do
	mod=${f%%/*}
	r=$(rank "$mod")
	while read -r inc; do
		dep=${inc%%/*}
		[ "$dep" = "$mod" ] && continue
		d=$(rank "$dep")
		if [ "$d" -ge "$r" ]; then
			echo "check-deps: $f includes $inc (upward or sideways)" >&2
			bad=1
		fi
	done < <(sed -n 's/^#include "\([a-z_]*\/[a-z_]*\.h\)".*/\1/p' "$f")
done
[ "$bad" = 0 ] && echo "check-deps: include rule holds"
exit $bad
