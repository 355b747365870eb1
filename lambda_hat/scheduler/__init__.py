"""Plan what an experiments file needs and execute what is missing (no JAX here)."""
