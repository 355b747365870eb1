"""Samplers: what each one is, how it is checked, prepared, run and shown.

Each sampler is one module (``sgld``, ``hmc``, ``nuts``, ``mclmc``) holding its
parameters (a frozen dataclass whose hash view is part of the run ID), its defaults,
its checks, its preparation (SGLD's step pilot) and how it is described; ``registry``
maps names to them, as ``lambda_hat/targets`` does for target kinds. No JAX at import:
the numerics (``lambda_hat/numerics/samplers``) are imported when a run samples.
"""
