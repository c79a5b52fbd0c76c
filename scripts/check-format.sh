#!/usr/bin/env bash
# Fails when a tracked C file is not formatted per .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h' 2>/dev/null || true)
[ -z "$files" ] && files=$(find src tests bench -name '*.[ch]')
clang-format --dry-run --Werror $files
echo "check-format: $(echo "$files" | wc -w) files formatted"
