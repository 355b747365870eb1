"""lambda-hat: Local Learning Coefficient (λ̂) estimates of neural networks.

>>> import lambda_hat as lh
>>> r = lh.estimate(apply, params, (X, Y), loss="cross_entropy", sampler="sgld")
>>> r.llc_mean, r.llc_mcse, r.warnings
>>> df = lh.results("runs")   # a store's runs, one row each (pandas)

Loaded on first use, so the command line starts without JAX.
"""

__all__ = ["estimate", "results", "LLCResult"]


def __getattr__(name: str):
    if name in __all__:
        from lambda_hat import api

        return getattr(api, name)
    raise AttributeError(f"module 'lambda_hat' has no attribute {name!r}")
