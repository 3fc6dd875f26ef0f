"""eqaug.run, eqaug.load and eqaug.hessian: the command line's files, byte for byte; Ctrl-C;
errors; no leaks; BLAS's thread count left as it was."""
import os
import signal
import tracemalloc

import numpy as np
import pytest

import eqaug
from conftest import csv_files

PERM = dict(runs=2, epochs=3, threads=2)


def test_perm_run_from_python_equals_the_cli_byte_for_byte(tmp_path, cli):
    cli("run", "perm", "--runs", "2", "--epochs", "3", "--threads", "2", "--no-report", "--out", tmp_path / "cli")
    steps = []
    r = eqaug.run("perm", out=tmp_path / "py", log=False, progress=steps.append, **PERM)
    a, b = csv_files(tmp_path / "cli"), csv_files(tmp_path / "py")
    assert sorted(a) == sorted(b) and len(a) >= 7  # 2 runs x 3 modes + steps.csv
    for name in a:
        assert a[name] == b[name], name
    # The results: steps.csv's columns, the manifest as a dict.
    assert r.kind == "sweep" and r.manifest["complete"] is True
    assert r.manifest["command"].startswith("eqaug run perm")
    cols = r.tables["steps"]
    assert len(cols["step"]) == 2 * 3 * 4 and set(cols["mode"]) == {"nom", "aug", "equi"}
    assert steps and steps[-1]["run"] == 2 and steps[-1]["steps"] == 4


def test_load_gives_a_dataframe_when_pandas_is_there(tmp_path):
    pandas = pytest.importorskip("pandas")
    eqaug.run("perm", out=tmp_path / "p", log=False, runs=1, epochs=1, modes=["nom", "equi"])
    r = eqaug.load(tmp_path / "p")
    assert isinstance(r.steps, pandas.DataFrame)
    assert list(r.steps["mode"].unique()) == ["nom", "equi"]
    assert r.steps.loc[r.steps["mode"] == "equi", "dist_E"].max() < 1e-5


def test_dict_config_and_overrides(tmp_path):
    m = eqaug.Model("perm")
    cfg = m.config
    r = eqaug.run(cfg, out=tmp_path / "d", log=False, runs=1, epochs=2, set={"train.lr": 2e-4}, modes="nom")
    assert r.manifest["config"]["train"]["lr"] == 2e-4
    assert r.manifest["command"].startswith("eqaug run <python dict>")


def test_ctrl_c_leaves_a_resumable_folder(tmp_path, cli):
    out = tmp_path / "int"

    def interrupt(p):
        if p["run"] == 2:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        eqaug.run("perm", out=out, log=False, progress=interrupt, runs=3, epochs=3, threads=2)
    part = eqaug.load(out)  # the finished run, marked incomplete
    assert part.manifest["complete"] is False and set(part.tables["steps"]["run"]) == {0}
    assert not (out / ".lock").exists()
    eqaug.run("perm", out=out, log=False, resume=True, runs=3, epochs=3, threads=2)
    cli("run", "perm", "--runs", "3", "--epochs", "3", "--threads", "2", "--no-report", "--out", tmp_path / "whole")
    a, b = csv_files(tmp_path / "whole"), csv_files(out)
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name] == b[name], name


def test_errors_have_the_right_types(tmp_path):
    with pytest.raises(TypeError, match="unexpected keyword argument 'rnus'.*runs"):
        eqaug.run("perm", out=tmp_path / "x", rnus=2)
    with pytest.raises(ValueError, match="--runs"):
        eqaug.run("perm", out=tmp_path / "x", runs=0, log=False)
    with pytest.raises(ValueError, match="train.lr"):
        eqaug.run("perm", out=tmp_path / "x", set={"train.lr": "fast"}, log=False)
    with pytest.raises(ValueError, match="no-such"):
        eqaug.run("no-such", out=tmp_path / "x", log=False)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises((RuntimeError, ValueError), match="--out"):
        eqaug.run("perm", out=blocker / "sub", runs=1, epochs=1, log=False)
    eqaug.run("perm", out=tmp_path / "done", runs=1, epochs=1, log=False)
    with pytest.raises(ValueError, match="exists"):
        eqaug.run("perm", out=tmp_path / "done", runs=1, epochs=1, log=False)
    with pytest.raises(ValueError, match="not a results folder"):
        eqaug.load(tmp_path)
    with pytest.raises(ValueError, match="not a directory"):
        eqaug.load(tmp_path / "nothing")


def test_log_callable_receives_the_messages(tmp_path):
    text = []
    eqaug.run("perm", out=tmp_path / "l", log=text.append, runs=1, epochs=1)
    assert "sweep finished" in "".join(text)


def test_hessian_from_python(tmp_path):
    r = eqaug.hessian("perm", out=tmp_path / "h", log=False, steps=[0], k=2, repeats=2, hessian_samples=2,
                      set={"model.layers[0].channels": 2, "data.samples": 50})
    assert r.kind == "hessian"
    h = r.tables["hessian"]
    assert set(h["operator"]) == {"eq_on_E", "aug_on_Eperp"} and np.all(np.isfinite(h["eigenvalue"]))


def test_no_leak_over_ten_thousand_calls():
    g = eqaug.Group("symmetric", n=4)
    E = eqaug.Subspace(g, (1, 1), (1, 1))
    W = np.random.default_rng(0).standard_normal(E.shape)
    for _ in range(200):  # warm up caches and allocators
        E.project(W), E.to_coords(W), E.distance(W)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    rss0 = rss_kib()
    for _ in range(10_000):
        E.project(W)
        E.to_coords(W)
        E.distance(W)
        E.project(W, out=W)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert grown < 64 * 1024, grown
    assert rss_kib() - rss0 < 4096


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_blas_threads_are_left_as_they_were(tmp_path):
    before = eqaug._eqaug._blas_threads()
    eqaug.run("perm", out=tmp_path / "b", runs=1, epochs=1, log=False)
    m = eqaug.Model("perm")
    m.gradient()
    assert eqaug._eqaug._blas_threads() == before
