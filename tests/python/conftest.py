"""Shared fixtures of the Python module's tests: the eqaug program beside the module (ctest
sets EQAUG_BINARY, PYTHONPATH and EQAUG_CONFIG_DIR) and a helper that runs it."""
import os
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("EQAUG_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))


@pytest.fixture(scope="session")
def binary():
    path = os.environ.get("EQAUG_BINARY", os.path.join(SOURCE, "build", "eqaug"))
    assert os.path.exists(path), "the eqaug program is not built: " + path
    return path


@pytest.fixture(scope="session")
def cli(binary):
    def run(*args, check=True):
        r = subprocess.run([binary, *map(str, args)], capture_output=True, text=True)
        if check:
            assert r.returncode == 0, r.stderr
        return r

    return run


def csv_files(folder):
    """Every CSV under folder, as {relative path: bytes}."""
    out = {}
    for root, _, files in os.walk(folder):
        for f in files:
            if f.endswith(".csv"):
                p = os.path.join(root, f)
                with open(p, "rb") as fh:
                    out[os.path.relpath(p, folder)] = fh.read()
    return out
