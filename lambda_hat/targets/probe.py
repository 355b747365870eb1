"""Import and call the python factories of targets about to be built, before any work.

Reading an experiments file only hashes a python model's module; this imports it, calls
the factory and checks apply's output against the data's Y on two rows, abstractly
(``jax.eval_shape``: nothing is computed), so a broken model stops ``lambda-hat run``
and ``lambda-hat slurm`` with its message instead of failing in a worker.
"""

from __future__ import annotations

from lambda_hat.targets import python_model
from lambda_hat.targets.checks import check_outputs
from lambda_hat.targets.factories import FactoryError, user_traceback
from lambda_hat.targets.registry import data_of


def check_python_models(tasks, source: str) -> None:
    """``tasks``: plan targets (``.spec``, ``.names``) still to build; ``source``: the file."""
    todo = [t for t in tasks if t.spec.model.kind == "python"]
    if not todo:
        return
    import jax
    import jax.numpy as jnp
    import numpy as np

    from lambda_hat.numerics.target import flat_model

    for task in todo:
        spec = task.spec
        where = f"{source}: models.{task.names.get('model', '?')}"
        dtype = jnp.float32  # shapes only
        model = python_model.build(spec.model, dtype, where)
        data = data_of(spec.data).build(spec.data, model, None, jax.random.PRNGKey(0), dtype)
        apply_flat, _, p = flat_model(model, dtype)
        w = jax.ShapeDtypeStruct((p,), dtype)
        x = np.asarray(data.x[:2])
        try:
            out = jax.eval_shape(apply_flat, w, x)
        except Exception as exc:
            raise FactoryError(
                f"{where}: apply(params, X) fails on two rows of data.{task.names.get('data')}: "
                f"{type(exc).__name__}: {exc}\n" + user_traceback(exc)
            ) from None
        y = np.asarray(data.y)
        max_label = int(y.max()) if spec.model.loss == "cross_entropy" else None
        check_outputs(out.shape, y[:2].shape, spec.model.loss, where, max_label)
