#!/usr/bin/env bash
# The GPU checks of the CUDA backend in one call (issue 7): the GPU tests, the benchmarks
# and timed full-size runs, with a log. On a machine with the Debian packages it builds
# build-gpu itself; on the lent GPU machine (no packages, no network) it uses the archive
# that bench/gpu_pack.sh made (.gpu/pack.tar.xz). Results and the log go to $OUT (the
# device tool's folder) or results/gpu-check.
#
#   bash bench/gpu_check.sh [tests] [bench] [runs]     (default: all three)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${OUT:-$root/results/gpu-check}
mkdir -p "$out"
log=$out/gpu_check.log
exec > >(tee -a "$log") 2>&1
stages=${*:-tests bench runs}
want() { [[ " $stages " == *" $1 "* ]]; }
ms() { echo $(($(date +%s%N) / 1000000)); }
summary=()

echo "== $(date -u +%FT%TZ) gpu_check: $stages"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "nvidia-smi failed"
grep -m1 'model name' /proc/cpuinfo; nproc

if [ -f .gpu/pack.tar.xz ]; then
  mkdir -p /tmp/eqaug-gpu && tar -C /tmp/eqaug-gpu -xJf .gpu/pack.tar.xz
  bin=/tmp/eqaug-gpu/bin
  export LD_LIBRARY_PATH=/tmp/eqaug-gpu/lib:/usr/local/cuda/lib64:/usr/local/cuda/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  if ldd "$bin/eqaug" | grep -q 'libcublas.*not found'; then
    cublas=$(find / -xdev -name 'libcublas.so.13' 2>/dev/null | head -1)
    [ -n "$cublas" ] && export LD_LIBRARY_PATH=$(dirname "$cublas"):$LD_LIBRARY_PATH
  fi
  data=/tmp/eqaug-gpu/data/fashion-mnist
  [ -d /tmp/eqaug-gpu/reference/perm-f64 ] && export EQAUG_CPU_REFERENCE=/tmp/eqaug-gpu/reference/perm-f64
else
  cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DEQAUG_CUDA=ON >/dev/null &&
    cmake --build build-gpu -j"$(nproc)" --target eqaug eqaug_gpu_tests eqaug_gpu_bench || exit 1
  bin=$root/build-gpu
  data=/usr/share/datasets/fashion-mnist
fi
ldd "$bin/eqaug" | grep -E 'not found|cublas' || true
export EQAUG_BINARY=$bin/eqaug EQAUG_CONFIG_DIR=$root/configs
# The image presets read Debian's Fashion-MNIST by default; the tests run them as presets.
if [ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] && [ -d "$data" ]; then
  mkdir -p /usr/share/datasets && cp -r "$data" /usr/share/datasets/ 2>/dev/null || echo "note: cannot install the data"
fi

if want tests; then
  echo "== GPU tests"
  t0=$(ms)
  timeout ${TESTS_LIMIT:-300} "$bin/eqaug_gpu_tests" --gtest_color=no 2>&1 | tee "$out/gpu_tests.txt" | grep -Ev '^\[ (RUN|       OK) \]'
  rc=${PIPESTATUS[0]}
  summary+=("GPU tests: exit $rc in $((($(ms) - t0) / 1000)) s")
fi

if want bench; then
  echo "== benchmarks"
  "$bin/eqaug_gpu_bench" --reps 5 trans rot perm | tee "$out/gpu_bench.txt"
  summary+=("bench: exit ${PIPESTATUS[0]}")
fi

timed_run() {  # name, time limit in seconds, then eqaug run arguments
  local name=$1 limit=$2
  shift 2
  local t0 rc
  t0=$(ms)
  timeout "$limit" "$bin/eqaug" run "$@" --device cuda --no-report --force --out "/tmp/eqaug-runs/$name" 2>&1 | tr '\r' '\n' |
    grep -Ev '^\s+run [0-9]+/[0-9]+\s+step' | tail -4
  rc=${PIPESTATUS[0]}
  local wall
  wall=$(($(ms) - t0))
  summary+=("$(printf '%-20s exit %d  %6d.%03d s wall (process, incl. data and setup)' "$name" "$rc" $((wall / 1000)) $((wall % 1000)))")
  python3 - "$name" "/tmp/eqaug-runs/$name/manifest.json" <<'PY' | tee -a "$out/runs.txt"
import json, sys
m = json.load(open(sys.argv[2]))
runs = m.get("runs", [])
print(f"{sys.argv[1]}: device {m.get('device', {}).get('name')} | run wall_s " + ", ".join(f"{r['wall_s']:.2f}" for r in runs))
for r in runs:  # where each strategy's time went (s): passes, gradients (GPU), distances, updates
    for mode, t in r.get("phase_s", {}).items():
        print(f"  run {r['run']} {mode:6s} " + "  ".join(f"{k} {v:.3f}" for k, v in t.items()))
PY
}

if want runs; then
  echo "== timed runs (one run each, 50 steps, Nom + Aug L=25 + Equi, float32 unless said)"
  mkdir -p /tmp/eqaug-runs
  timed_run perm-f32 60 perm --runs 1
  timed_run perm-f32-again 60 perm --runs 1
  if diff -r -x manifest.json -x steps.csv /tmp/eqaug-runs/perm-f32 /tmp/eqaug-runs/perm-f32-again >/dev/null; then
    summary+=("perm twice on the GPU: identical CSVs")
  else
    summary+=("perm twice on the GPU: CSVs DIFFER")
  fi
  timed_run trans-f32 ${TRANS_LIMIT:-240} trans --runs 1
  timed_run rot-f32 ${ROT_LIMIT:-180} rot --runs 1
  timed_run trans-f64-10steps ${TRANS64_LIMIT:-120} trans --runs 1 --epochs 10 --precision f64
  cp -r /tmp/eqaug-runs/trans-f32/manifest.json "$out/trans_manifest.json" 2>/dev/null
  cp /tmp/eqaug-runs/trans-f32/steps.csv "$out/trans_steps.csv" 2>/dev/null
fi

echo "== summary"
for line in "${summary[@]}"; do echo "  $line"; done
