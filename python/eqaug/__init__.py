"""eqaug from Python: equivariant subspaces, models and sweeps of the C++ toolkit.

The classes and functions are thin layers over eqaug's C++ library (the extension
``eqaug._eqaug``); every computation is the library's, with the GIL released.

    >>> import eqaug
    >>> g = eqaug.Group("symmetric", n=5)
    >>> E = eqaug.Subspace(g, (1, 2), (1, 2))     # maps of adjacency matrices
    >>> E.dim                                      # 15 = Bell(4) orbits
    15

Bad input raises ValueError, a failure of the environment RuntimeError, Ctrl-C during
``run`` KeyboardInterrupt (finished runs stay; continue with ``resume=True``).
docs/python.md shows every call beside its command line.
"""
import os

from ._eqaug import Group, Model, Space, Subspace, __version__  # noqa: F401
from . import _eqaug

__all__ = ["Group", "Space", "Subspace", "Model", "Results", "run", "hessian", "load", "__version__"]


class Results:
    """A results folder of eqaug: ``kind`` ('sweep', 'study', 'hessian' or 'minimum'),
    ``out`` (its path), ``manifest`` (manifest.json, study.json, ... as a dict) and its
    tables as attributes: ``steps`` and ``summary`` (a sweep or study), ``hessian``,
    ``optimizer`` and ``growth`` (minimum). A table is a pandas DataFrame when pandas is
    importable, else a dict of numpy columns (``tables`` always holds the dicts)."""

    def __init__(self, loaded):
        self.kind = loaded["kind"]
        self.out = loaded["out"]
        self.manifest = loaded["manifest"]
        self.tables = loaded["tables"]
        try:
            import pandas
        except ImportError:
            pandas = None
        for name, columns in self.tables.items():
            setattr(self, name, pandas.DataFrame(columns) if pandas is not None else columns)

    def __repr__(self):
        return "<eqaug.Results %s %s: %s>" % (self.kind, self.out, ", ".join(sorted(self.tables)))


def load(out):
    """Reads the results folder ``out`` of ``eqaug run`` (a sweep or a study), ``eqaug
    hessian`` or ``eqaug minimum`` into a Results. CLI: the same files, e.g. OUT/steps.csv."""
    return Results(_eqaug._load(os.fsdecode(out)))


def run(config=None, out=None, *, log=True, progress=None, report=False, **options):
    """Runs a sweep (or a study) as ``eqaug run CONFIG --out OUT [options]`` does, in this
    process, and returns its Results.

    config: a preset name ('perm', 'trans', 'rot', 'groups', ...), a .toml path, a results
    folder, or a dict with the TOML's structure. out: the results folder (default
    results/<name>). options: the command's options with underscores, e.g. runs=2,
    epochs=10, scale='small', modes=['nom', 'equi'], set={'train.lr': 2e-5}, threads=2,
    force=True, resume=True, shard=(0, 2), seed=1. log: True writes eqaug's messages to
    sys.stderr, False silences them, a callable receives the text. progress: a callable
    given a dict (sweep, run, runs, step, steps, seconds_per_step, eta_run_s, eta_sweep_s)
    at most ten times a second. report=True also prints the summary table and draws the
    figure (gnuplot), as the command line does.

    Ctrl-C stops at the next chunk of work and raises KeyboardInterrupt; the folder keeps
    every finished run and continues with resume=True.
    """
    folder = _eqaug._run(config, out, log=log, progress=progress, report=report, **options)
    return load(folder)


def hessian(config, out=None, *, log=True, plot=False, **options):
    """Hessian spectra on E and E-perp along augmented trajectories, as ``eqaug hessian
    CONFIG --out OUT [options]`` (e.g. scale='small', steps=[0, 10], k=3,
    hessian_exact=True, force=True); returns the Results (its ``hessian`` table is
    OUT/hessian.csv). plot=True draws the figure."""
    folder = _eqaug._hessian(config, out, log=log, plot=plot, **options)
    return load(folder)
