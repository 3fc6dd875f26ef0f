"""eqaug.Model: the parameters, Π_E of every preset's layers against the command line's
(bit for bit), the risk against a sweep's CSV, gradients and Hessian-vector products
against finite differences."""
import os

import numpy as np
import pytest

import eqaug

# Every preset (the study `groups` through its members' folders), at its small scale.
PRESETS = [("perm", "full"), ("trans", "small"), ("rot", "small"), ("example-images", "small"), ("groups", "small")]


def npy_as_matrix(path, shape4):
    """A --save-weights file (C_out, C_in, S_out, S_in) as the matrix (C_out*S_out, C_in*S_in)."""
    a = np.load(path)
    co, ci, so, si = shape4
    return a.reshape(co, ci, so, si).transpose(0, 2, 1, 3).reshape(co * so, ci * si)


@pytest.mark.parametrize("preset,scale", PRESETS)
def test_projection_of_every_preset_layer_equals_the_cli(tmp_path, cli, preset, scale):
    out = tmp_path / preset
    cli("run", preset, "--scale", scale, "--runs", "1", "--epochs", "0", "--modes", "nom", "--precision", "f64",
        "--save-weights", "--no-report", "--threads", "2", "--out", out)
    folders = [out] if (out / "manifest.json").exists() else sorted(p for p in out.iterdir() if (p / "manifest.json").exists())
    assert folders
    for folder in folders:
        m = eqaug.Model(str(folder))
        raw = m.initial_point(project=False)
        for layer in m.layers:
            E = layer["subspace"]
            W = raw[layer["offset"]:layer["offset"] + layer["count"]].reshape(layer["shape"])
            P = E.project(W)
            four = (E.output.channels, E.input.channels, E.output.sites, E.input.sites)
            saved = npy_as_matrix(folder / "nom" / "run-000" / "init" / (layer["name"] + ".npy"), four)
            np.testing.assert_array_equal(P, saved, err_msg="%s %s" % (folder.name, layer["name"]))
        # The whole model at once (Model.project) is the same projection.
        np.testing.assert_array_equal(m.project(raw), m.initial_point())


def test_risk_at_a0_equals_the_sweeps_step_zero(tmp_path, cli):
    out = tmp_path / "perm"
    cli("run", "perm", "--runs", "1", "--epochs", "0", "--modes", "nom", "--precision", "f64", "--no-report",
        "--out", out)
    r = eqaug.load(out)
    steps = r.tables["steps"]
    m = eqaug.Model("perm")
    loss = m.loss()
    assert loss["samples"] == 1000
    assert abs(loss["loss"] - steps["loss"][0]) <= 1e-11 * abs(loss["loss"])
    assert abs(loss["accuracy"] - steps["accuracy"][0]) <= 1e-11


def small_model():
    cfg = {
        "name": "tiny",
        "group": {"kind": "symmetric", "n": 4},
        "data": {"kind": "sbm", "samples": 40, "clusters": [2, 2]},
        "model": {"input": {"channels": 1, "order": 2}, "loss": "bce", "layers": [
            {"type": "linear", "channels": 2, "order": 2, "init": "normal", "std": 0.5}, {"type": "tanh"},
            {"type": "linear", "channels": 1, "order": 0, "init": "normal", "std": 0.5}, {"type": "sigmoid"}]},
        "train": {"precision": "f64"},
    }
    return eqaug.Model(cfg, threads=1)


def test_gradient_and_hvp_against_finite_differences():
    m = small_model()
    rng = np.random.default_rng(0)
    A = m.params + 0.1 * rng.standard_normal(m.num_params)  # off E: every direction counts
    g = m.gradient(A)
    v = rng.standard_normal(m.num_params)
    h = 1e-6
    fd = (m.loss(A + h * v)["loss"] - m.loss(A - h * v)["loss"]) / (2 * h)
    assert abs(fd - g @ v) < 1e-7 * max(1.0, abs(fd))
    hv = m.hvp(v, A)
    fd_hv = (m.gradient(A + h * v) - m.gradient(A - h * v)) / (2 * h)
    np.testing.assert_allclose(hv, fd_hv, rtol=1e-5, atol=1e-7)
    # Symmetric: u·Hv = v·Hu.
    u = rng.standard_normal(m.num_params)
    assert abs(u @ hv - v @ m.hvp(u, A)) < 1e-10 * np.linalg.norm(hv) * np.linalg.norm(u)


def test_given_data_and_the_configurations_agree():
    m = small_model()
    x, y = m.data()
    assert x.shape == (40, 16) and y.shape == (40, 1)
    a, b = m.loss(), m.loss(x=x, y=y)
    assert a == b
    np.testing.assert_array_equal(m.gradient(), m.gradient(x=x, y=y))
    with pytest.raises(ValueError, match=r"x: expected shape \(n, 16\)"):
        m.loss(x=x[:, :5], y=y)
    with pytest.raises(ValueError, match="both x and y"):
        m.loss(x=x)


def test_weights_round_trip_and_distances():
    m = small_model()
    assert np.all(m.distance_to_E() < 1e-12)  # A0 is in E
    w = m.weights
    assert [a.shape for a in w] == [l["shape"] for l in m.layers]
    w[0] = w[0] + np.random.default_rng(2).standard_normal(w[0].shape)  # off E
    m.weights = w
    E = m.layers[0]["subspace"]
    assert abs(m.distance_to_E()[0] - E.distance(w[0])) < 1e-12
    np.testing.assert_array_equal(m.weights[0], w[0])
    with pytest.raises(ValueError, match="list of 2 arrays"):
        m.weights = w[:1]
    with pytest.raises(ValueError, match="expected shape"):
        m.params = np.zeros(3)


def test_equivariance_error_is_zero_on_E_only():
    m = small_model()
    e0 = m.equivariance_error(samples=4)
    assert e0["equiv_error"] < 1e-24
    off = m.params + 0.5 * np.random.default_rng(1).standard_normal(m.num_params)
    assert m.equivariance_error(off, samples=4)["equiv_error"] > 1e-6


def test_dict_config_equals_preset(tmp_path):
    a = eqaug.Model("perm", set={"train.seed": 3})
    b = eqaug.Model(a.config)
    np.testing.assert_array_equal(a.params, b.params)
    assert a.loss() == b.loss()
    with pytest.raises(ValueError, match="train.lr"):
        eqaug.Model("perm", set={"train.lr": -1.0})
    with pytest.raises(ValueError, match="no-such-preset"):
        eqaug.Model("no-such-preset")


def test_one_model_from_several_threads_equals_serial_calls():
    # A Model's calls take turns (its thread pool runs one computation at a time); four Python
    # threads once crashed the interpreter here.
    import threading
    m = eqaug.Model("perm", set={"data.samples": 200}, threads=2)
    want = m.gradient()
    got, errors = [], []

    def work():
        try:
            for _ in range(5):
                got.append(m.gradient())
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(got) == 20
    for g in got:
        np.testing.assert_array_equal(g, want)
    with pytest.raises(ValueError, match="v is required"):
        m.hvp(None)
