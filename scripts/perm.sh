#!/usr/bin/env bash
# The Perm reproduction (paper §5, docs/reference.md): 30 runs x 50 steps of Nom, Aug (L = 25) and
# Equi, then the summary table and the Figure-1 panel in results/perm/. Re-running
# continues an interrupted sweep and redraws the report. Extra arguments go to
# `eqaug run` (e.g. --runs 5, --threads 2; with changed settings use --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
# The user's own --out, --force or --resume take over from the default resume logic.
for a in "$@"; do
  case "$a" in --out|--out=*|--force|--resume) exec build/eqaug run perm "$@" ;; esac
done
resume=()
[ -f results/perm/manifest.json ] && resume=(--resume)
exec build/eqaug run perm --out results/perm "${resume[@]}" "$@"
