#!/usr/bin/env bash
# Builds eqaug with warnings as errors and runs the whole test suite (ctest + GoogleTest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh -DEQAUG_WERROR=ON
cd build
ctest --output-on-failure -j"$(nproc)" --timeout 600
