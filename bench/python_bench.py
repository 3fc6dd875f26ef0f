"""Overhead of the Python module (docs/benchmarks.md, "Python module"):
 (a) eqaug.run on one Perm run against the eqaug program on the same run (wall time);
 (b) Subspace.project + distance of every Trans layer (40.8 M float32 weights) against
     eqaug_bench's BM_TransProjectAndDistance (the same work in C++);
 (c) the same projection as a plain numpy orbit average (np.add.at over the orbit index).
Each time is printed with the CPU model and a raw float32 GEMM measured in this process.

    PYTHONPATH=build/python /usr/bin/python3 bench/python_bench.py [--repeats N] [--parts abc]

(b) runs build/eqaug_bench --benchmark_filter=BM_TransProjectAndDistance in the same session
and prints the ratio; each time is the best of its repeats.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import eqaug

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "build", "eqaug")
BENCH = os.path.join(ROOT, "build", "eqaug_bench")


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def raw_gemm_s(n=2048):
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    a @ a
    t = time.perf_counter()
    a @ a
    return time.perf_counter() - t


def perm_overhead(repeats):
    """Pairs of one Perm run by the program and by eqaug.run, back to back, the order
    alternating (the machine's speed drifts); returns the best of each and the pairs' ratios."""
    cli, py, ratios = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            pair = {}
            for kind in (("cli", "py") if i % 2 == 0 else ("py", "cli")):
                out = os.path.join(tmp, "%s%d" % (kind, i))
                t = time.perf_counter()
                if kind == "cli":
                    subprocess.run([BINARY, "run", "perm", "--runs", "1", "--no-report", "--out", out], check=True,
                                   capture_output=True)
                else:
                    eqaug.run("perm", out=out, runs=1, log=False)
                pair[kind] = time.perf_counter() - t
            cli.append(pair["cli"])
            py.append(pair["py"])
            ratios.append(pair["py"] / pair["cli"])
    return min(cli), min(py), sorted(ratios)


def trans_layers():
    m = eqaug.Model("trans")
    rng = np.random.default_rng(1)
    layers = []
    for layer in m.layers:
        E = layer["subspace"]
        layers.append((E, rng.standard_normal(E.shape).astype(np.float32)))
    return m, layers


def project_all(layers):
    t = time.perf_counter()
    for E, w in layers:
        E.distance(w)
        E.project(w, out=w)
    return time.perf_counter() - t


def cpp_project_s():
    """BM_TransProjectAndDistance's best repetition (seconds), or None without eqaug_bench."""
    if not os.path.exists(BENCH):
        return None
    env = dict(os.environ, EQAUG_CONFIG_DIR=os.path.join(ROOT, "configs"))
    r = subprocess.run([BENCH, "--benchmark_filter=BM_TransProjectAndDistance", "--benchmark_repetitions=5",
                        "--benchmark_format=json"], check=True, capture_output=True, text=True, env=env)
    runs = [b["real_time"] for b in json.loads(r.stdout)["benchmarks"] if b.get("run_type") == "iteration"]
    return min(runs) / 1e3  # milliseconds


def numpy_orbit_average(E, w):
    co, so, ci, si = E.output.channels, E.output.sites, E.input.channels, E.input.sites
    idx = E.orbit_index.reshape(-1)
    wt = w.reshape(co, so, ci, si).transpose(0, 2, 1, 3).reshape(co, ci, so * si).astype(np.float64)
    sums = np.zeros((co, ci, E.orbits))
    np.add.at(sums, (slice(None), slice(None), idx), wt)
    means = sums / E.orbit_sizes
    return means[:, :, idx].reshape(co, ci, so, si).transpose(0, 2, 1, 3).reshape(w.shape).astype(w.dtype)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=4, help="pairs of Perm runs in (a) (default 4)")
    ap.add_argument("--parts", default="abc", help="which of (a), (b), (c) to run (default abc)")
    args = ap.parse_args()
    gemm = raw_gemm_s()
    print("CPU: %s; raw float32 GEMM 2048^3 (numpy): %.3f s" % (cpu_model(), gemm))
    if "a" in args.parts:
        cli, py, ratios = perm_overhead(args.repeats)
        print("(a) one Perm run, best of %d: eqaug program %.2f s, eqaug.run %.2f s (%.1f GEMMs): ratio of the bests "
              "%.3f; ratios of the %d back-to-back pairs %s (median %.3f)"
              % (args.repeats, cli, py, py / gemm, py / cli, len(ratios), " ".join("%.3f" % r for r in ratios),
                 ratios[len(ratios) // 2] if len(ratios) % 2 else sum(ratios[len(ratios) // 2 - 1:][:2]) / 2))
    if "b" not in args.parts and "c" not in args.parts:
        return 0
    m, layers = trans_layers()
    n = sum(w.size for _, w in layers)
    # The machine's speed drifts over seconds: three rounds, each Python's best of 5 and then
    # the C++ benchmark's best of 5, and the best of each over the rounds.
    best, cpp = float("inf"), None
    for _ in range(3 if "b" in args.parts else 1):
        best = min(best, min(project_all(layers) for _ in range(5)))
        if "b" in args.parts:
            c = cpp_project_s()
            cpp = c if cpp is None or (c is not None and c < cpp) else cpp
    if "b" in args.parts:
        print("(b) project + distance of the %d Trans layers (%.1f M float32 weights), best of 15: %.3f s (%.2f GEMMs)"
              % (len(layers), n / 1e6, best, best / gemm)
              + ("; C++ BM_TransProjectAndDistance %.3f s: ratio %.3f" % (cpp, best / cpp) if cpp else ""))
    if "c" in args.parts:
        t = time.perf_counter()
        for E, w in layers:
            p = numpy_orbit_average(E, w)
        numpy_s = time.perf_counter() - t
        E, w = layers[-1]
        assert np.allclose(p, E.project(w), atol=1e-6)
        print("(c) the same projection by a numpy orbit average (np.add.at): %.2f s, %.0f x eqaug's project "
              "(%.1f GEMMs)" % (numpy_s, numpy_s / best, numpy_s / gemm))
    return 0


if __name__ == "__main__":
    sys.exit(main())
