#!/usr/bin/env bash
# The GPU version (README, command 3), on a Debian machine with an NVIDIA GPU and the CUDA
# toolkit (nvcc and cuBLAS, e.g. in /usr/local/cuda): installs the Debian packages, builds
# with the CUDA backend in build-gpu/ (-march=native, Hopper code plus PTX), runs the GPU
# tests (ctest label gpu) and the GPU benchmarks. Extra arguments go to cmake, e.g.
# -DCMAKE_CUDA_ARCHITECTURES=80 for an A100.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DEQAUG_CUDA=ON "$@" >/dev/null
cmake --build build-gpu -j"$(nproc)"
cd build-gpu
ctest -L gpu --output-on-failure --timeout 1200
./eqaug_gpu_bench
