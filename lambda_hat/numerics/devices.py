"""Chains spread over the local devices: one chain axis, sharded.

Every sampler keeps its chains' states as arrays with a leading chain axis and advances
them with ``vmap``; the chains never interact. Placing those arrays with a
``NamedSharding`` that splits the chain axis over all local devices is then enough for
``jit`` to run each device's chains where they are (XLA's SPMD partitioner), while the
data, closed over or passed unsharded, are replicated. A node with 8 GPUs runs 8 chains
in the time of one. With one device nothing moves; chains that do not divide evenly over
the devices use as many of them as they do divide over.
"""

from __future__ import annotations

import jax
import numpy as np


def chain_sharding(num_chains: int):
    """A sharding of a leading chain axis over as many local devices as divide
    ``num_chains`` evenly (4 chains on 8 devices: 4 of them; on 3: 2), or None where
    that is one."""
    devices = jax.local_devices()
    count = max(d for d in range(1, min(len(devices), num_chains) + 1) if num_chains % d == 0)
    if count < 2:
        return None
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    mesh = Mesh(np.array(devices[:count]), ("chains",))
    return NamedSharding(mesh, PartitionSpec("chains"))


def spread(tree, num_chains: int):
    """``tree`` with each leaf whose leading axis is the chains placed across the local
    devices (``chain_sharding``); unchanged where there is nothing to spread over."""
    sharding = chain_sharding(num_chains)
    if sharding is None:
        return tree

    def place(leaf):
        shape = getattr(leaf, "shape", ())
        return jax.device_put(leaf, sharding) if shape and shape[0] == num_chains else leaf

    return jax.tree_util.tree_map(place, tree)
