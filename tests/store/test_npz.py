"""npz files: byte-reproducible writes, and broken files named in a StoreError."""

import numpy as np
import pytest

from lambda_hat.errors import StoreError
from lambda_hat.store import npz


def test_same_arrays_give_identical_bytes(tmp_path):
    arrays = {"w": np.arange(5.0), "x": np.eye(2, dtype=np.float32)}
    npz.save(tmp_path / "a.npz", **arrays)
    npz.save(tmp_path / "b.npz", **arrays)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    back = npz.load(tmp_path / "a.npz")
    np.testing.assert_array_equal(back["x"], arrays["x"])
    assert back["x"].dtype == np.float32


@pytest.mark.parametrize(
    ("content", "what"), [(b"garbage", "is unreadable (ValueError)"), (None, "is missing")]
)
def test_broken_file_is_a_store_error_saying_what_to_do(tmp_path, content, what):
    path = tmp_path / "data.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(StoreError) as info:
        npz.load(path)
    assert str(info.value).startswith(f"{path} {what}")
    assert "lambda-hat verify --quarantine" in str(info.value)
