"""Closed-form λ of deep linear networks (Aoyagi 2024), exact rationals."""

from __future__ import annotations

from fractions import Fraction

import pytest

from lambda_hat.numerics.truth import dln_llc, dln_num_params, regular_llc

VECTORS = [
    ([3, 3], 0, Fraction(9, 2)),
    ([2, 2, 2], 1, Fraction(2)),
    ([5, 3, 5], 0, Fraction(13, 2)),
    ([4, 3, 8], 0, Fraction(6)),
    ([5, 5, 5], 3, Fraction(12)),
    ([10, 10, 10], 5, Fraction(47)),
    ([3, 5, 5, 3], 0, Fraction(9, 2)),
    ([4, 4, 4, 4], 1, Fraction(13, 2)),
    ([2, 3, 4, 5, 6], 1, Fraction(9, 2)),
    ([10, 20, 20, 10], 3, Fraction(50)),
]


@pytest.mark.parametrize("sizes,rank,expected", VECTORS)
def test_design_vectors(sizes, rank, expected):
    value = dln_llc(sizes, rank)
    assert isinstance(value, Fraction)
    assert value == expected


@pytest.mark.parametrize("sizes", [[1, 1], [3, 7], [10, 4]])
@pytest.mark.parametrize("rank", [0, 1])
def test_one_layer_is_regular(sizes, rank):
    assert (
        dln_llc(sizes, rank)
        == regular_llc(dln_num_params(sizes))
        == Fraction(sizes[0] * sizes[1], 2)
    )


@pytest.mark.parametrize("h1,h2,h3,r", [(5, 3, 5, 1), (4, 6, 3, 2), (7, 2, 9, 2), (6, 6, 6, 0)])
def test_two_layers_match_reduced_rank_regression(h1, h2, h3, r):
    """Aoyagi & Watanabe (2005): RLCT of reduced rank regression, M=h1 (in), N=h3 (out), H=h2."""
    M, N, H = h1, h3, h2
    if N + r <= M + H and M + r <= N + H and H + r <= M + N:
        if (M + H + N + r) % 2 == 0:
            expected = Fraction(2 * (H + r) * (M + N) - (M - N) ** 2 - (H + r) ** 2, 8)
        else:
            expected = Fraction(2 * (H + r) * (M + N) - (M - N) ** 2 - (H + r) ** 2 + 1, 8)
    elif M + H < N + r:
        expected = Fraction(H * M - H * r + N * r, 2)
    elif N + H < M + r:
        expected = Fraction(H * N - H * r + M * r, 2)
    else:
        expected = Fraction(M * N, 2)
    assert dln_llc([h1, h2, h3], r) == expected


def test_full_rank_two_layer_with_wide_middle_is_regular_in_product():
    # [2, 5, 2] with r = 2: the product map is full rank; λ = (2*2)/2 + ... per the formula
    assert dln_llc([2, 5, 2], 2) == Fraction(-4 + 2 * 4, 2) + 0  # r(H1+H3)/2 - r^2/2 = 2


def test_rejects_bad_rank():
    with pytest.raises(ValueError, match="rank"):
        dln_llc([3, 2, 3], 3)
