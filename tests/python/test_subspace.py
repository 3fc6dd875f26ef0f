"""eqaug.Group, Space and Subspace: closed-form dimensions, the projection's identities,
dtypes, shapes and errors."""
import math

import numpy as np
import pytest

import eqaug


def bell(m):
    # Bell numbers by the triangle.
    row = [1]
    for _ in range(m):
        nxt = [row[-1]]
        for x in row:
            nxt.append(nxt[-1] + x)
        row = nxt
    return row[0]


@pytest.mark.parametrize("orders", [(0, 0), (1, 0), (1, 1), (2, 1), (2, 2)])
def test_symmetric_group_dims_are_bell_numbers(orders):
    g = eqaug.Group("symmetric", n=5)
    assert g.order == 120 and g.degree == 5
    k_in, k_out = orders
    E = eqaug.Subspace(g, (1, k_in), (1, k_out))
    assert E.orbits == bell(k_in + k_out)
    assert E.closed_form_orbits == bell(k_in + k_out)
    assert E.check() is True
    assert E.dim == bell(k_in + k_out)


def test_translation_dims_and_closed_form():
    g = eqaug.Group("translation2d", side=6)
    assert g.order == 36
    E = eqaug.Subspace(g, (2, 1), (3, 1))  # convolutions: one orbit per shift
    assert E.orbits == 36 and E.dim == 2 * 3 * 36 and E.check() is True
    assert E.shape == (3 * 36, 2 * 36)


def test_generated_group_has_no_closed_form():
    g = eqaug.Group.from_generators([[1, 2, 3, 0]])  # C_4 on 4 nodes
    assert g.order == 4 and g.kind == "generated"
    E = eqaug.Subspace(g, (1, 1), (1, 1))
    assert E.orbits == 4  # circulant matrices
    assert E.closed_form_orbits is None and E.check() is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_projection_identities(dtype):
    g = eqaug.Group("rotation", side=4)
    E = eqaug.Subspace(g, (2, 1), (3, 1))
    rng = np.random.default_rng(0)
    W = rng.standard_normal(E.shape).astype(dtype)
    P = E.project(W)
    assert P.dtype == dtype and P.shape == W.shape
    assert not np.shares_memory(P, W)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    # Idempotent, equivariant, orthogonal: Π_E is the orthogonal projection onto E.
    np.testing.assert_allclose(E.project(P), P, atol=tol)
    for g_elem in g.elements():
        np.testing.assert_allclose(E.act(g_elem, P), P, atol=tol)
    assert E.distance(P) < 10 * tol
    assert math.isclose(E.distance(W), np.linalg.norm((W - P).astype(np.float64)), rel_tol=1e-5)
    assert abs(np.vdot((W - P).astype(np.float64), P.astype(np.float64))) < 1e-4 * np.linalg.norm(W) ** 2
    # Orbit coordinates: orthonormal, and from_coords inverts to_coords on E.
    c = E.to_coords(W)
    assert c.dtype == np.float64 and c.shape == (E.dim,)
    assert math.isclose(np.linalg.norm(c), np.linalg.norm(P.astype(np.float64)), rel_tol=1e-6)
    back = E.from_coords(c, dtype=dtype)
    np.testing.assert_allclose(back, P, atol=tol)


def test_projection_equals_haar_average_of_the_action():
    g = eqaug.Group("symmetric", n=4)
    E = eqaug.Subspace(g, (1, 2), (2, 1))
    W = np.random.default_rng(1).standard_normal(E.shape)
    average = sum(E.act(p, W) for p in g.elements()) / g.order
    np.testing.assert_allclose(E.project(W), average, atol=1e-13)


def test_project_in_place_and_four_dimensional_view():
    g = eqaug.Group("translation_x", side=5)
    E = eqaug.Subspace(g, (2, 1), (3, 1))
    W = np.random.default_rng(2).standard_normal((3, 25, 2, 25))  # (C_out, S_out, C_in, S_in): 5 x 5 pixels
    expected = E.project(W.reshape(E.shape)).reshape(W.shape)
    address = W.__array_interface__["data"][0]
    r = E.project(W, out=W)
    assert r is W and W.__array_interface__["data"][0] == address
    np.testing.assert_array_equal(W, expected)


def test_non_contiguous_input_is_read_correctly():
    g = eqaug.Group("symmetric", n=3)
    E = eqaug.Subspace(g, (1, 1), (1, 1))
    big = np.random.default_rng(3).standard_normal((3, 6))
    W = big[:, ::2]
    assert not W.flags.c_contiguous
    np.testing.assert_array_equal(E.project(W), E.project(np.ascontiguousarray(W)))
    assert E.distance(W) == E.distance(np.ascontiguousarray(W))


def test_errors_are_value_errors_naming_what_was_expected():
    g = eqaug.Group("symmetric", n=3)
    E = eqaug.Subspace(g, (1, 1), (1, 1))
    with pytest.raises(ValueError, match=r"expected shape \(3, 3\)"):
        E.project(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="float32 or float64"):
        E.project(np.zeros((3, 3), dtype=np.int64))
    with pytest.raises(ValueError, match="dtype"):
        E.project(np.zeros((3, 3)), out=np.zeros((3, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="read-only"):
        ro = np.zeros((3, 3))
        ro.setflags(write=False)
        E.project(np.zeros((3, 3)), out=ro)
    with pytest.raises(ValueError, match="dim E"):
        E.from_coords(np.zeros(7))
    with pytest.raises(ValueError, match="group.n"):
        eqaug.Group("symmetric", n=0)
    with pytest.raises(ValueError, match="symmetric"):
        eqaug.Group("no-such-kind")
    with pytest.raises(ValueError, match="did you mean"):
        eqaug.Group("translation2d", sid=4)
    with pytest.raises(ValueError, match="not a permutation"):
        eqaug.Group.from_generators([[0, 0, 1]])
    with pytest.raises(ValueError, match="sampler"):
        g.sample(0, sampler="nope")


def test_sampling_is_seeded_and_uniform():
    g = eqaug.Group("rotation", side=3)
    a, b = g.sample(7, count=4000), g.sample(7, count=4000)
    np.testing.assert_array_equal(a, b)
    elements = {tuple(e) for e in g.elements()}
    counts = {}
    for row in a:
        assert tuple(row) in elements
        counts[tuple(row)] = counts.get(tuple(row), 0) + 1
    assert len(counts) == 4 and all(abs(c - 1000) < 150 for c in counts.values())
    # The reference's draws (randint(0, 4) per quarter turn): the identity 2/5 of the time.
    identity = tuple(range(9))
    ref = g.sample(7, count=5000, sampler="reference")
    share = np.mean([tuple(r) == identity for r in ref])
    assert abs(share - 0.4) < 0.03


def test_help_is_readable():
    doc = eqaug.Subspace.__doc__
    assert "orbit" in doc and "project" in dir(eqaug.Subspace)
    assert eqaug.Subspace.project.__doc__.strip()
    assert eqaug.__version__


def test_adversarial_input_is_an_exception_not_a_crash():
    # Each of these once crashed the interpreter or gave a wrong answer (a review's findings).
    g = eqaug.Group("symmetric", n=4)
    with pytest.raises(TypeError):
        eqaug.Subspace(None, (1, 1), (1, 1))
    d = {}
    d["x"] = d
    with pytest.raises(ValueError, match="nested more than"):
        eqaug.Group("symmetric", n=4, extra=d)
    with pytest.raises(ValueError):
        eqaug.Group("symmetric", n=2**64)
    with pytest.raises(ValueError, match="channels, order"):
        eqaug.Subspace(g, (-1, 1), (1, 1))
    with pytest.raises(ValueError, match="another group"):
        eqaug.Subspace(g, eqaug.Space(eqaug.Group("symmetric", n=7), 1, 1), (1, 1))
    # out= overlapping w in another layout (a transposed view): Pi_E of w, not of out.
    E = eqaug.Subspace(g, (1, 1), (1, 1))
    x = np.random.default_rng(0).standard_normal(E.shape)
    want = E.project(x.T.copy())
    got = E.project(x.T, out=x)
    assert got is x or np.shares_memory(got, x)
    np.testing.assert_array_equal(x, want)
