"""The scripts in examples/ run and produce what they say."""
import os
import subprocess
import sys

from conftest import SOURCE


def run_example(name, *args, cwd):
    env = dict(os.environ, MPLBACKEND="Agg")
    r = subprocess.run([sys.executable, os.path.join(SOURCE, "examples", name), *args], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_project_generators(tmp_path):
    out = run_example("project_generators.py", cwd=tmp_path)
    assert "dim E = 4 of 36" in out and out.rstrip().endswith("coordinates")


def test_small_sweep(tmp_path):
    out = run_example("small_sweep.py", str(tmp_path / "sweep"), cwd=tmp_path)
    assert (tmp_path / "sweep" / "python-figure.png").stat().st_size > 1000
    assert "wrote" in out
