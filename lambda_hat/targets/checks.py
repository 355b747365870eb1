"""Does a model fit its data and loss? Checked when the experiments file is read (from
the specs) and again when a target is built (from the arrays), before any training."""

from __future__ import annotations

from lambda_hat.errors import ConfigError
from lambda_hat.targets.kind import LABELS, is_custom
from lambda_hat.targets.registry import data_of


def check_pair(model, data, training, where: str, other_table: bool = False) -> None:
    """Static checks of a [[targets]] entry: loss against labels, sizes, training init.
    ``other_table``: ``data`` is a table a sampler names (observed or sampled) for a
    built model, so a size that differs is the table's to change, not the model's."""
    kind = data_of(data)
    labels = kind.labels(data)
    check_labels(model.loss, labels, where, f"data kind {data.kind!r}")
    if kind.needs_teacher and model.kind == "python":
        raise ConfigError(
            f"{where}: data kind {data.kind!r} draws its labels from a teacher network of the "
            "model's own kind, which a python model does not have; use kind = 'mlp_teacher' "
            "(a teacher described in the data table), 'file' or 'python' data"
        )
    shape = kind.shape(data)
    if shape is not None and model.kind in ("mlp", "dln"):
        check = _check_table_shape if other_table else _check_model_shape
        check(model, shape, labels, where)
    if training.init == "teacher" and not kind.needs_teacher:
        raise ConfigError(
            f"{where}: training init = 'teacher' needs data a teacher generated (kind = "
            f"'teacher' or 'softmax_teacher'), not {data.kind!r}"
        )
    if training.init == "given" and model.kind != "python":
        raise ConfigError(
            f"{where}: training init = 'given' takes w* from a python model's factory; "
            f"{model.kind!r} has none (use 'random' or 'teacher')"
        )


def _check_model_shape(model, shape: tuple, labels: str, where: str) -> None:
    """A target's own data against its model: the model gives way."""
    in_dim, out_dim = shape
    if model.in_dim != in_dim:
        raise ConfigError(
            f"{where}: the model's in_dim = {model.in_dim}, but the data have {in_dim} "
            f"input features; set in_dim = {in_dim}"
        )
    if labels == "classes" and model.out_dim < out_dim:
        raise ConfigError(
            f"{where}: the data have labels up to {out_dim - 1}, but the model has "
            f"out_dim = {model.out_dim} classes; set out_dim = {out_dim}"
        )
    if labels == "real" and model.out_dim != out_dim:
        raise ConfigError(
            f"{where}: the model's out_dim = {model.out_dim}, but Y has {out_dim} columns; "
            f"set out_dim = {out_dim}"
        )


def _check_table_shape(model, shape: tuple, labels: str, where: str) -> None:
    """A sampler's table against the model it is read by: the table gives way."""
    in_dim, out_dim = shape
    wrong = out_dim > model.out_dim if labels == "classes" else out_dim != model.out_dim
    if model.in_dim != in_dim or wrong:
        raise ConfigError(
            f"{where}: the table has {in_dim} input features and {out_dim} "
            f"{'classes' if labels == 'classes' else 'outputs'}, the model "
            f"in_dim = {model.in_dim} and out_dim = {model.out_dim}; give the table rows the "
            "model reads"
        )


def check_labels(loss: str, labels: str, where: str, source: str) -> None:
    """The loss fits the labels: cross_entropy integer classes, mse real values (a custom
    loss takes what it takes)."""
    if is_custom(loss) or LABELS[loss] == labels:
        return
    want = "integer class labels" if loss == "cross_entropy" else "real-valued targets"
    have = "integer labels" if labels == "classes" else "real-valued Y"
    fix = "loss = 'mse'" if labels == "real" else "loss = 'cross_entropy'"
    raise ConfigError(
        f"{where}: loss = {loss!r} needs {want}, but {source} has {have}; use {fix} in the model"
    )


def check_outputs(out_shape, y_shape, loss: str, where: str, max_label: int | None = None):
    """apply(params, X)'s shape against Y's for some rows (``max_label``: over all rows)."""
    out_shape, y_shape = tuple(out_shape), tuple(y_shape)
    if loss == "cross_entropy":
        if out_shape[:-1] != y_shape or len(out_shape) < 2:
            want = "(rows, classes)" if len(y_shape) == 1 else "(rows, positions, classes)"
            raise ConfigError(
                f"{where}: for cross_entropy apply(params, X) must return logits of shape "
                f"{want}, labels' shape and the classes: Y has shape {y_shape} for these "
                f"rows, and it returned {out_shape}"
            )
        classes = out_shape[-1]
        if max_label is not None and max_label >= classes:
            raise ConfigError(
                f"{where}: a label is {max_label}, outside the model's {classes} classes "
                f"(labels must lie in 0..{classes - 1})"
            )
        return
    if out_shape != y_shape:
        hint = (
            " (it returns one value per row: reshape Y to (n, 1) or the output to (n,))"
            if len(out_shape) == 1 or len(y_shape) == 1
            else ""
        )
        raise ConfigError(
            f"{where}: apply(params, X) returned shape {out_shape}, but Y has shape {y_shape} "
            f"for those rows; for loss = 'mse' they must match{hint}"
        )


def check_model_fits(apply_flat, w, x, y, loss: str, where: str) -> None:
    """``apply_flat(w, X)`` runs on two rows and its output fits ``Y`` and the labels.

    Abstract (``jax.eval_shape``): nothing is computed, so it is cheap before any work.
    """
    import jax
    import numpy as np

    from lambda_hat.targets.factories import FactoryError, user_traceback

    try:
        out = jax.eval_shape(apply_flat, w, x[:2])
    except Exception as exc:
        raise FactoryError(
            f"{where}: apply(params, X) fails on two rows of the data: "
            f"{type(exc).__name__}: {exc}\n" + user_traceback(exc)
        ) from None
    if callable(loss):  # a loss of your own may read outputs of any structure
        _check_custom(loss, out, y, where)
        return
    if not hasattr(out, "shape"):  # a tuple, a dict: not the one array a built-in loss reads
        raise ConfigError(
            f"{where}: apply(params, X) must return one array of outputs for loss = "
            f"{loss!r}, got a {type(out).__name__} (a loss function of your own may read it)"
        )
    max_label = int(np.max(np.asarray(y))) if loss == "cross_entropy" else None
    check_outputs(out.shape, y[:2].shape, loss, where, max_label)


def _check_custom(loss, out, y, where: str) -> None:
    """A custom loss runs on two rows' outputs and targets and gives (rows[, T]) values."""
    import jax

    from lambda_hat.targets.factories import FactoryError, user_traceback

    name = getattr(loss, "__name__", "loss")
    targets = jax.ShapeDtypeStruct(y[:2].shape, y.dtype)
    try:
        shape = tuple(jax.eval_shape(loss, out, targets).shape)
    except Exception as exc:
        raise FactoryError(
            f"{where}: the loss {name}(outputs, targets) fails on two rows: "
            f"{type(exc).__name__}: {exc}\n" + user_traceback(exc)
        ) from None
    if len(shape) not in (1, 2) or shape[0] != 2:
        raise ConfigError(
            f"{where}: the loss {name}(outputs, targets) must give each row's loss, (rows,), "
            f"or each position's, (rows, T); for 2 rows it returned shape {shape}"
        )
