"""Closed-form learning coefficients, in exact rational arithmetic (no JAX).

Deep linear networks follow Aoyagi (2024, Thm 1); see DESIGN.md section 5. One layer
gives d/2 (a regular model); two layers give reduced-rank regression.
"""

from __future__ import annotations

import math
from fractions import Fraction


def regular_llc(num_params: int) -> Fraction:
    """λ = d/2 for a regular model with d parameters."""
    return Fraction(num_params, 2)


def dln_llc(layer_sizes: list[int] | tuple[int, ...], rank: int) -> Fraction:
    """Learning coefficient of a deep linear network at a teacher of rank ``rank``.

    Parameters
    ----------
    layer_sizes : [H^1 (input), H^2, ..., H^{L+1} (output)]
    rank : true rank r of the teacher's product matrix, 0 <= r <= min(layer_sizes)
    """
    sizes = [int(h) for h in layer_sizes]
    r = int(rank)
    if len(sizes) < 2:
        raise ValueError("a deep linear network needs at least an input and an output size")
    if not 0 <= r <= min(sizes):
        raise ValueError(f"rank {r} must lie in [0, {min(sizes)}]")
    h_in, h_out = sizes[0], sizes[-1]
    base = Fraction(-r * r + r * (h_in + h_out), 2)
    if len(sizes) == 2:
        return Fraction(h_in * h_out, 2)
    deltas = sorted(h - r for h in sizes)
    for k in range(2, len(deltas) + 1):
        sigma, rest = deltas[:k], deltas[k:]
        ell = k - 1
        s = sum(sigma)
        ok_a = not rest or max(sigma) < min(rest)
        ok_b = s >= ell * max(sigma)
        ok_c = not rest or s < ell * min(rest)
        if ok_a and ok_b and ok_c:
            a = s - (math.ceil(Fraction(s, ell)) - 1) * ell
            pairs = sum(sigma[i] * sigma[j] for i in range(k) for j in range(i + 1, k))
            return (
                base
                + Fraction(a * (ell - a), 4 * ell)
                - Fraction(ell * (ell - 1), 4) * Fraction(s, ell) ** 2
                + Fraction(pairs, 2)
            )
    raise ValueError(f"no admissible set for sizes {sizes}, rank {r}")  # pragma: no cover


def dln_layer_llc(layer_sizes, rank: int, layer: int) -> Fraction:
    """λ of a deep linear network at its rank-``rank`` teacher when only layer ``layer``
    (1-based from the input) moves: the weight-restricted LLC of that layer.

    The model is then linear in the layer's W: f(x) = A W B x, with A the product of
    the layers above and B of those below. It is regular in the rank(A)·rank(B)
    directions of W that change f (vec(A W B) = (Bᵀ ⊗ A) vec W) and flat in the rest,
    so λ = rank(A)·rank(B)/2. The teacher's first layer has rank r and its others are
    generic (full rank): rank(A) is the narrowest size from W's output on, rank(B) the
    input size for the first layer, else min(r, the sizes below W).
    """
    sizes = [int(h) for h in layer_sizes]
    if not 1 <= layer < len(sizes):
        raise ValueError(f"layer {layer} is not one of 1..{len(sizes) - 1}")
    above = min(sizes[layer:])
    below = sizes[0] if layer == 1 else min(int(rank), *sizes[:layer])
    return Fraction(above * below, 2)


def dln_num_params(layer_sizes) -> int:
    return sum(a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:], strict=True))
