#!/usr/bin/env bash
# Packs what bench/gpu_check.sh needs on a GPU machine that cannot build eqaug (no Debian
# packages there, no network): the CUDA build's binaries (built here by
# `cmake -S . -B build-gpu -DEQAUG_CUDA=ON -DEQAUG_NATIVE=OFF`), the shared libraries they
# need beyond the C and C++ runtimes and CUDA's own, and the Fashion-MNIST test split, as
# one compressed archive .gpu/pack.tar.xz (ignored by git; carried to the device).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-gpu}
for b in eqaug eqaug_gpu_tests eqaug_gpu_bench; do
  [ -x "$build/$b" ] || { echo "gpu_pack: $build/$b is missing; build it first" >&2; exit 2; }
done
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$stage/data/fashion-mnist"
cp "$build"/eqaug "$build"/eqaug_gpu_tests "$build"/eqaug_gpu_bench "$stage/bin/"
strip "$stage"/bin/*
# Libraries outside the base system and outside CUDA (the GPU machine has its own CUDA 13).
ldd "$build"/eqaug "$build"/eqaug_gpu_tests "$build"/eqaug_gpu_bench | awk '/=> \//{print $3}' | sort -u |
  grep -Ev '/(libc|libm|libstdc\+\+|libgcc_s|libpthread|libdl|librt|ld-linux[^/]*|libcublas|libcublasLt|libcudart)\.so' |
  while read -r lib; do cp -L "$lib" "$stage/lib/"; done
cp /usr/share/datasets/fashion-mnist/t10k-*-ubyte.gz "$stage/data/fashion-mnist/"
# The CPU half of the GPU test CudaSweep.PermFloat64MatchesTheCpu, computed here (it would
# take minutes of the GPU machine's lease); the test checks that its configuration matches.
if [ "${EQAUG_PACK_REFERENCE:-1}" = 1 ]; then
  "$build"/eqaug run perm --runs 2 --precision f64 --no-report --out "$stage/reference/perm-f64" >/dev/null 2>&1 ||
    { echo "gpu_pack: the CPU reference sweep failed" >&2; exit 1; }
fi
mkdir -p .gpu
tar -C "$stage" -cJf .gpu/pack.tar.xz .
ls -la .gpu/pack.tar.xz
tar -tJf .gpu/pack.tar.xz
