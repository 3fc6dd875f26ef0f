#!/usr/bin/env bash
# Wall times of the Perm reproduction: (a) one run of the three strategies (50 steps,
# L = 25) and, with --sweep, (b) the 30-run sweep; then the dense-pass benchmark (c).
# Run on an otherwise idle machine. Results go to a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/eqaug ] || bash scripts/build.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
wall() { sed -n 's/^  "sweep_wall_s": \([0-9.e+-]*\).*/\1/p' "$1/manifest.json"; }
build/eqaug run perm --runs 1 --out "$tmp/one" --no-report 2>/dev/null
echo "(a) one Perm run (nom, aug L=25, equi; 50 steps): $(wall "$tmp/one") s"
if [ "${1:-}" = "--sweep" ]; then
  build/eqaug run perm --out "$tmp/sweep" --no-report 2>/dev/null
  echo "(b) 30-run Perm sweep: $(wall "$tmp/sweep") s"
fi
build/eqaug_bench --benchmark_filter='BM_PermChunk<float>/500|BM_RawGemmSameShapes<float>/500|BM_PermStep' 2>/dev/null |
  grep -E '^BM_'
