"""Import and call the python factories of targets about to be built, before any work.

Reading an experiments file only hashes a python model's module; this imports it, calls
the factory and checks apply's output against the data's Y on two rows, abstractly
(``jax.eval_shape``: nothing is computed), so a broken model stops ``lambda-hat run``
and ``lambda-hat slurm`` with its message instead of failing in a worker.
"""

from __future__ import annotations

from lambda_hat.targets import python_model
from lambda_hat.targets.checks import check_model_fits
from lambda_hat.targets.registry import data_of


def check_python_models(tasks, source: str) -> None:
    """``tasks``: plan targets (``.spec``, ``.names``) still to build; ``source``: the file."""
    todo = [t for t in tasks if t.spec.model.kind == "python"]
    if not todo:
        return
    import jax
    import jax.numpy as jnp
    import numpy as np

    from lambda_hat.targets.build import flat_model

    for task in todo:
        spec = task.spec
        where = f"{source}: models.{task.names.get('model', '?')}"
        dtype = jnp.float32  # shapes only
        model = python_model.build(spec.model, dtype, spec.origin(check_content=False), where)
        data = data_of(spec.data).build(spec.data, model, None, jax.random.PRNGKey(0), dtype)
        apply_flat, _, p = flat_model(model, dtype)
        w = jax.ShapeDtypeStruct((p,), dtype)
        loss = python_model.loss_function(spec.model, f"{where}.loss")
        check_model_fits(apply_flat, w, np.asarray(data.x), np.asarray(data.y), loss, where)
