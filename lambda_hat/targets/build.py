"""Build a target's data and w* from its spec: the kinds' builders, then numerics' training
(arrays in, arrays out)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from lambda_hat.numerics.loss import has_mask, make_loss
from lambda_hat.numerics.training import train
from lambda_hat.targets.checks import check_model_fits
from lambda_hat.targets.kind import Model
from lambda_hat.targets.registry import data_of, model_of


class TargetArrays(NamedTuple):
    x: jax.Array
    y: jax.Array
    w_star: jax.Array  # flat (p,)
    teacher: jax.Array | None  # flat (p,), where a teacher generated y
    loss_history: jax.Array
    L0: float
    x_test: Any = None
    y_test: Any = None
    test_loss: float | None = None  # L(w*) on the held-out rows


def dtype_of(precision: str):
    return jnp.float64 if precision == "float64" else jnp.float32


def flat_model(model: Model, dtype):
    """(apply_flat(w, x), unravel, p) for a built model.

    ``w`` is laid out by ``ravel_pytree``. Its ``unravel`` depends on the parameters'
    shapes only, so it is built from zeros of the shapes ``jax.eval_shape`` reads off
    ``init``: no initialisation runs, and a run's start-up compiles no throw-away
    random-number programs (about 20 of them, 1–2 s on a cold cache). The numbers are
    those of ``ravel_pytree`` on the initialised network, to the bit.
    """
    key = jax.ShapeDtypeStruct((2,), jnp.uint32)
    shapes = jax.eval_shape(model.init, key)
    template = jax.tree_util.tree_map(lambda s: np.zeros(s.shape, s.dtype), shapes)
    flat, unravel = ravel_pytree(template)

    def apply_flat(w, x):
        return model.apply(unravel(w), x)

    return apply_flat, unravel, flat.shape[0]


def flat_apply(model_spec, dtype, origin=None):
    """:func:`flat_model` of a model spec (``origin``: the target's, for a model from user
    code; see ``targets/kind.py``)."""
    return flat_model(model_of(model_spec).build(model_spec, dtype, origin), dtype)


def loss_of(model_spec):
    """The model's loss as the numerics take it: a built-in loss's name, or a custom
    loss function (a python model's ``loss = "module:function"``)."""
    return model_of(model_spec).loss_of(model_spec)


def param_leaves(model_spec, origin=None) -> tuple[tuple[str, int], ...]:
    """((name, size), ...) of the model's parameter leaves in the flat vector's order:
    its kind's readable names, else each leaf's key path joined by ``/`` (read off the
    shapes ``init`` gives, without computing it)."""
    kind = model_of(model_spec)
    if kind.leaves is not None:
        return kind.leaves(model_spec)
    model = kind.build(model_spec, jnp.float32, origin)
    return named_leaves(jax.eval_shape(model.init, jax.ShapeDtypeStruct((2,), jnp.uint32)))


def named_leaves(tree) -> tuple[tuple[str, int], ...]:
    """((key path as ``a/b/0``, size), ...) of a pytree's leaves (arrays or shapes), in
    the order ``ravel_pytree`` lays them out."""
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return tuple((path_name(path), int(np.prod(leaf.shape))) for path, leaf in flat)


def path_name(path) -> str:
    """A key path as ``a/b/0``: dict keys, attribute names and sequence indices."""
    parts = []
    for key in path:
        for attr in ("key", "name", "idx"):
            if hasattr(key, attr):
                parts.append(str(getattr(key, attr)))
                break
        else:
            parts.append(str(key))
    return "/".join(parts)


def build_target(spec) -> TargetArrays:
    """Make the data (from a teacher where the kind has one) and train to w*."""
    (arrays,) = build_checkpoints({spec.training.at_step: spec}).values()
    return arrays


def build_checkpoints(specs: dict) -> dict:
    """{step: TargetArrays} of one training run kept at its checkpoints (``specs``:
    {step: that checkpoint's TargetSpec}; {None: spec} for its end alone)."""
    from lambda_hat.numerics.training import train_checkpoints

    stops = list(specs)
    spec = specs[stops[0]]
    dtype = dtype_of(spec.precision)
    model = model_of(spec.model).build(spec.model, dtype, spec.origin())
    data_kind = data_of(spec.data)
    k_teacher, k_data, k_init, k_train = _keys(spec.seed)
    teacher_tree = model.teacher(k_teacher) if data_kind.needs_teacher else None
    data = data_kind.build(spec.data, model, teacher_tree, k_data, dtype)
    x, y = jnp.asarray(data.x), jnp.asarray(data.y)
    teacher = ravel_pytree(teacher_tree)[0] if teacher_tree is not None else None
    apply_flat, _, _ = flat_model(model, dtype)
    loss = loss_of(spec.model)
    loss_fn = make_loss(apply_flat, loss, has_mask(loss, data.y))
    w0 = teacher if spec.training.init == "teacher" else ravel_pytree(model.init(k_init))[0]
    check_model_fits(apply_flat, w0, x, y, loss, "model")
    empty = jnp.zeros((0,), dtype)
    if spec.training.init == "given":  # each checkpoint's w* from the factory for its step
        trained = [(w0, empty)] + [(_given(s, dtype), empty) for s in list(specs.values())[1:]]
    elif spec.training.init == "teacher" or spec.training.steps == 0:
        trained = [(w0, empty)] * len(stops)
    elif stops == [None]:
        trained = [jax.jit(lambda w, k: train(loss_fn, w, (x, y), spec.training, k))(w0, k_train)]
    else:
        trained = train_checkpoints(loss_fn, w0, (x, y), spec.training, k_train, stops)
    return _arrays_at(stops, trained, loss_fn, data, x, y, teacher)


def _keys(seed: int):
    """(teacher, data, init, training) keys of a target's seed."""
    return jax.random.split(jax.random.PRNGKey(seed), 4)


OBSERVED_DRAW = 1  # folded into a target's data key for the rows of another data table


def table_rows(spec, data_spec, x, y) -> tuple[np.ndarray, np.ndarray]:
    """The rows an observed data table ``data_spec`` holds for target ``spec``: the
    target's own training rows ``(x, y)`` where it is the target's data table, else the
    kind's build with the target's model and teacher in the target's precision, drawn
    with a key of their own (the target's data key folded with OBSERVED_DRAW), so a
    probe set of the same distribution is fresh rows, the same for every run."""
    from lambda_hat.fields import hash_view

    if hash_view(data_spec) == hash_view(spec.data):
        return np.asarray(x), np.asarray(y)
    dtype = dtype_of(spec.precision)
    with jax.enable_x64(spec.precision == "float64"):
        model = model_of(spec.model).build(spec.model, dtype, spec.origin(check_content=False))
        kind = data_of(data_spec)
        k_teacher, k_data, _, _ = _keys(spec.seed)
        teacher = model.teacher(k_teacher) if kind.needs_teacher else None
        key = jax.random.fold_in(k_data, OBSERVED_DRAW)
        data = kind.build(data_spec, model, teacher, key, dtype)
        return np.asarray(data.x), np.asarray(data.y)


def _given(spec, dtype):
    """w* (flat) of a target whose model's factory gives it (``init = "given"``)."""
    model = model_of(spec.model).build(spec.model, dtype, spec.origin())
    return ravel_pytree(model.init(None))[0]


def _arrays_at(stops, trained, loss_fn, data, x, y, teacher) -> dict:
    loss = jax.jit(loss_fn)
    test_data = None
    if data.x_test is not None:
        test_data = (jnp.asarray(data.x_test), jnp.asarray(data.y_test))
    out = {}
    for stop, (w_star, history) in zip(stops, trained, strict=True):
        test = None if test_data is None else float(loss(w_star, test_data))
        L0 = float(loss(w_star, (x, y)))
        out[stop] = TargetArrays(x, y, w_star, teacher, history, L0, data.x_test, data.y_test, test)
    return out
