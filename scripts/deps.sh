#!/usr/bin/env bash
# Installs eqaug's build and run dependencies from Debian's packages (by name), only
# those missing. Needs root (or sudo).
set -euo pipefail
packages=(
  g++ cmake make pkg-config
  libopenblas-dev        # optimised BLAS (CBLAS interface)
  libeigen3-dev
  libcli11-dev           # command line
  nlohmann-json3-dev     # manifest / JSON
  libtomlplusplus-dev    # TOML configs
  libgtest-dev           # tests
  libbenchmark-dev       # bench/
  gnuplot-nox            # figures (PNG via cairo, SVG)
  libfftw3-dev           # FFT path of the translation-equivariant layers
  libspectra-dev         # Lanczos (restricted Hessian spectra)
  zlib1g-dev             # gzip-compressed IDX (MNIST) files
  dataset-fashion-mnist  # default image data of the Trans/Groups presets
  python3-dev python3-numpy pybind11-dev python3-pybind11  # the Python module (python/)
  python3-pytest         # its tests (tests/python)
  python3-pandas python3-matplotlib  # eqaug.load's DataFrames, examples/
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
