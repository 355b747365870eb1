"""lambda-hat: Local Learning Coefficient (λ̂) estimates of neural networks.

>>> import lambda_hat as lh
>>> r = lh.estimate(apply, params, (X, Y), loss="cross_entropy", sampler="sgld")
>>> print(r)                  # λ̂ ± MCSE, ESS, R-hat and the verdict
>>> t = lh.load_target("tgt_10bf", root="runs")   # a stored w* as a pytree
>>> df = lh.results("runs")   # a store's runs, one row each (pandas)
>>> r = lh.estimate(apply, params, (X, Y), observe={"probe": (Xp, Yp)})
>>> lh.bif(r, "probe").value  # −Cov(ℓ_i, ℓ_j) between the probe rows
>>> r = lh.load_run("run_hmc_9552", root="runs")   # a stored run, its observed losses too

``estimate``, ``load_target`` and the classes they return load on first use, so the
command line starts without JAX.
"""

import lambda_hat.results as _results_module  # no JAX; see _Results for why it is eager

__all__ = [
    "estimate",
    "results",
    "load_target",
    "load_run",
    "bif",
    "susceptibility",
    "LLCResult",
    "Target",
]
_LAZY = ("estimate", "load_target", "load_run", "bif", "susceptibility", "LLCResult", "Target")


class _Results:
    """``lh.results(root="runs", experiment=None)``: every readable run of the store at
    ``root`` as a pandas DataFrame, one row each (``experiment``: only the runs that file
    asks for, with its swept keys as columns).

    Also the namespace of the module ``lambda_hat.results`` (``lh.results.load``,
    ``lh.results.ladders``, ``lh.results.COLUMNS``). The package attribute ``results``
    names one object only, and Python's import system sets it to the submodule the
    first time that is imported: so the submodule is imported before this object is
    bound (below), and this object serves both uses.
    """

    def __call__(self, root="runs", experiment=None):
        """The store's runs as a pandas DataFrame (see the class docstring)."""
        from lambda_hat.api import results

        return results(root, experiment)

    def __getattr__(self, name: str):
        return getattr(_results_module, name)

    def __dir__(self):
        return sorted({*object.__dir__(self), *dir(_results_module)})

    def __repr__(self) -> str:
        return "<lh.results: call it for a store's runs as a DataFrame>"


results = _Results()


def __getattr__(name: str):
    if name in _LAZY:
        from lambda_hat import api

        return getattr(api, name)
    raise AttributeError(f"module 'lambda_hat' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *__all__})
