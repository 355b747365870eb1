"""Target kinds: what a model or a data set is, how it is checked, built and described.

Each kind is one module: its spec (a frozen dataclass whose hash view is part of the
target ID), its TOML checks, its builder (JAX and user code are imported only when a
target is built) and a one-line description read from stored metadata, which never
imports user code. ``registry`` maps ``kind`` names to them.
"""
