"""Content-addressed store: IDs, layout, locks, atomic publish, manifests (no JAX here)."""
