"""Project your own weight matrix onto the equivariant subspace E of a group given by generators.

The group: the dihedral group D_6 of a ring of 6 nodes (a rotation and a reflection). A linear
map of node features that commutes with every symmetry of the ring is a symmetric circulant
matrix; this script finds that subspace, projects a random matrix onto it and checks the result.

    python3 examples/project_generators.py
CLI equivalent of the group: a config's [group] table with kind = "generated",
acts_on = "nodes", generators = [[1, 2, 3, 4, 5, 0], [0, 5, 4, 3, 2, 1]] (eqaug dims CONFIG).
"""
import numpy as np

import eqaug

rotate = [1, 2, 3, 4, 5, 0]   # node i -> i + 1
reflect = [0, 5, 4, 3, 2, 1]  # node i -> -i
G = eqaug.Group.from_generators([rotate, reflect])
print(G, "- elements enumerated from the generators")

# Maps from 1 channel on the nodes (order 1) to 1 channel on the nodes: 6 x 6 matrices.
E = eqaug.Subspace(G, input=(1, 1), output=(1, 1))
print("dim E =", E.dim, "of", E.ambient_dim, "(orbits of node pairs: distance 0, 1, 2, 3 on the ring)")

W = np.random.default_rng(0).standard_normal(E.shape)  # your own layer's weights
P = E.project(W)
np.set_printoptions(precision=3, suppress=True)
print("Pi_E W =\n", P)
print("||W - Pi_E W|| =", E.distance(W))

# Checks: P commutes with every group element, and is the Haar average of the action.
for g in G.elements():
    assert np.allclose(E.act(g, P), P)
average = sum(E.act(g, W) for g in G.elements()) / G.order
assert np.allclose(average, P)
# The orthonormal orbit coordinates: dim E numbers that describe P.
c = E.to_coords(W)
assert np.allclose(E.from_coords(c), P) and np.isclose(np.linalg.norm(c), np.linalg.norm(P))
print("orbit coordinates:", c)
print("ok: Pi_E W is equivariant, the group average of W, and recovered from its", E.dim, "coordinates")
