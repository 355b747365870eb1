"""The all-float64 fixture of the numerics tests."""

from tests.numerics.conftest import x64  # noqa: F401
