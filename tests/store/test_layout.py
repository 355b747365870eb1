"""Where the store keeps what is not results: the compilation cache."""

from __future__ import annotations

from lambda_hat.store.layout import Layout


def test_the_compilation_cache_is_in_the_store_unless_a_shared_one_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("LAMBDA_HAT_JAX_CACHE", raising=False)
    assert Layout(tmp_path / "runs").cache_dir == tmp_path / "runs" / ".jax-cache"
    monkeypatch.setenv("LAMBDA_HAT_JAX_CACHE", str(tmp_path / "scratch"))
    assert Layout(tmp_path / "runs").cache_dir == tmp_path / "scratch"
    monkeypatch.setenv("LAMBDA_HAT_JAX_CACHE", "")  # empty: as if unset
    assert Layout(tmp_path / "runs").cache_dir == tmp_path / "runs" / ".jax-cache"
