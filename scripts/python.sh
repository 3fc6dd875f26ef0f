#!/usr/bin/env bash
# Makes `import eqaug` work: installs the dependencies (Debian's python3-numpy,
# python3-pybind11, ...), builds the module into build/python/eqaug, and points Python at it
# with an eqaug.pth file in the site-packages of Debian's python3 (and of the python3 first
# on PATH when that is another interpreter of the same version, e.g. pyenv's). Nothing is
# downloaded. Run it again after pulling; remove the .pth files it names to undo it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh -DEQAUG_PYTHON=ON
package_dir="$(pwd)/build/python"
for py in /usr/bin/python3 "$(command -v python3 || true)"; do
  [ -x "$py" ] || continue
  site="$("$py" - "$package_dir" <<'PY'
import sys, sysconfig, importlib.machinery as m, os
want = [f for f in os.listdir(os.path.join(sys.argv[1], "eqaug")) if f.startswith("_eqaug.")]
# Only an interpreter that can load the built extension (same version and ABI).
if any(w.endswith(s) for w in want for s in m.EXTENSION_SUFFIXES):
    import site
    dirs = site.getsitepackages() if sys.prefix == "/usr" else [sysconfig.get_paths()["purelib"]]
    print(dirs[0])
PY
)"
  [ -n "$site" ] || { echo "python.sh: $py cannot load the module (another Python version): skipped" >&2; continue; }
  mkdir -p "$site"
  echo "$package_dir" > "$site/eqaug.pth"
  echo "python.sh: $site/eqaug.pth -> $package_dir ($py)" >&2
done
/usr/bin/python3 -c "import eqaug; print('eqaug', eqaug.__version__, 'from', eqaug.__file__)"
