"""A small sweep of the Perm experiment from Python, loaded into pandas and plotted.

Trains Nom, Aug and Equi from a shared equivariant start (3 runs of 10 steps, about 30 s on
2 cores) and plots the median distance to E per strategy.

    python3 examples/small_sweep.py [OUT]      (default OUT: results/perm-python)
CLI equivalent: eqaug run perm --runs 3 --epochs 10 --out OUT --force, then OUT/steps.csv.
"""
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import eqaug  # noqa: E402

out = sys.argv[1] if len(sys.argv) > 1 else "results/perm-python"


def show(p):
    print("\r  run %d/%d  step %d/%d  sweep ETA %.0f s   " % (p["run"], p["runs"], p["step"], p["steps"],
                                                             p["eta_sweep_s"]), end="", file=sys.stderr)


results = eqaug.run("perm", out=out, runs=3, epochs=10, force=True, log=False, progress=show)
print(file=sys.stderr)
steps = results.steps  # a pandas DataFrame: mode, run, step, loss, accuracy, dist_E, ...
median = steps.groupby(["mode", "step"])["dist_E"].median().unstack("mode")
print(median.tail(3))

fig, ax = plt.subplots(figsize=(6, 4))
for mode in ["nom", "aug", "equi"]:
    ax.plot(median.index, median[mode].clip(lower=1e-12), label=mode)
ax.set_yscale("log")
ax.set_xlabel("step")
ax.set_ylabel("median ||A - Pi_E A||")
ax.set_title("Perm, %d runs (eqaug %s)" % (steps["run"].nunique(), eqaug.__version__))
ax.legend()
fig.tight_layout()
fig.savefig(out + "/python-figure.png", dpi=120)
print("wrote", out + "/python-figure.png")
