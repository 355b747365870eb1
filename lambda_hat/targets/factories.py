"""User code named as ``"module:function"``: found, hashed, imported and called in one place.

The module is looked for in the experiments file's folder first, then on ``sys.path``.
Its file's bytes are hashed into the target ID (``source_sha256``), and so is what the
factory *returns* (``content_digest``): a file it reads, an environment variable or a
cache that changes its output makes a new target, like an edit of the module does. A
target keeps a copy of the module and later runs import that copy, so they use the code
the target was built with.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
import traceback
from pathlib import Path

from lambda_hat.errors import ConfigError
from lambda_hat.fileio import sha256_file


class FactoryError(ConfigError):
    """A factory cannot be found, imported or called, or returned something unusable."""


def split_ref(ref: str, where: str) -> tuple[str, str]:
    """``"pkg.mod:fn"`` -> ("pkg.mod", "fn")."""
    module, sep, func = ref.partition(":")
    names = module.split(".") + [func]
    if not sep or not all(part.isidentifier() for part in names):
        raise FactoryError(
            f"{where}: expected 'module:function' (e.g. 'my_models:make_net'), got {ref!r}"
        )
    return module, func


def search_dirs(base_dir: Path) -> list[Path]:
    return [Path(base_dir).resolve(), *(Path(p).resolve() for p in sys.path if p)]


def locate(module: str, base_dir: Path, where: str) -> Path:
    """The file of ``module`` (``a/b.py`` or ``a/b/__init__.py``), without importing it."""
    rel = Path(*module.split("."))
    tried = []
    for folder in search_dirs(base_dir):
        for candidate in (folder / rel.with_suffix(".py"), folder / rel / "__init__.py"):
            if candidate.is_file():
                return candidate
        tried.append(str(folder))
    shown = ", ".join(tried[:4]) + (f" and {len(tried) - 4} more" if len(tried) > 4 else "")
    raise FactoryError(
        f"{where}: cannot find module {module!r} (looked for {rel}.py in {shown}); put it "
        "next to the experiments file or install it"
    )


def reject_computed(table: dict, where: str, keys) -> None:
    """Keys a kind fills in itself (hashes, paths, sizes) may not be written by hand."""
    for key in keys:
        if key in table:
            raise ConfigError(f"{where}.{key}: computed by lambda-hat; remove it")


def find_factory(table: dict, where: str, base_dir: Path) -> dict:
    """``source_sha256`` and ``source_path`` of the module a table's ``factory`` names."""
    ref = table.get("factory")
    if not isinstance(ref, str):
        raise FactoryError(f"{where}: kind = 'python' needs factory = 'module:function' (a string)")
    module, _ = split_ref(ref, f"{where}.factory")
    file = locate(module, base_dir, f"{where}.factory")
    return {"source_sha256": sha256_file(file), "source_path": str(file)}


def check_unchanged(path: Path, sha256: str, where: str) -> Path:
    """``path``, unless it is gone or its bytes are no longer those the spec hashed."""
    path = Path(path)
    if not path.is_file() or sha256_file(path) != sha256:
        raise FactoryError(
            f"{where}: {path} is missing or has changed since the target was specified "
            f"(sha256 {sha256[:12]}…); rerun `lambda-hat run` to make a new target from "
            "its current content"
        )
    return path


def load_factory(ref: str, file: Path, where: str):
    """The function ``ref`` (``"module:function"``) of the module file ``file``."""
    module, func = split_ref(ref, where)
    return load_function(file, module, func, where)


def load_function(file: Path, module: str, func: str, where: str, extra_dir: Path | None = None):
    """Import ``file`` as a private module and return its ``func``.

    The module is registered under a name derived from its content hash, so two versions
    of one file (an old target's copy, today's file) never share an entry of
    ``sys.modules``; ``extra_dir`` (the original folder) goes on ``sys.path`` for the
    module's own imports.
    """
    file = Path(file)
    private = f"_lambda_hat_user_{sha256_file(file)[:16]}_{module.replace('.', '_')}"
    mod = sys.modules.get(private)
    if mod is None:
        for folder in (extra_dir, file.parent):
            if folder is not None and str(folder) not in sys.path:
                sys.path.append(str(folder))
        spec = importlib.util.spec_from_file_location(private, file)
        mod = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(mod)
        except Exception as exc:
            raise FactoryError(
                f"{where}: importing {module!r} ({file}) failed: {type(exc).__name__}: {exc}\n"
                + user_traceback(exc)
            ) from None
        sys.modules[private] = mod
    fn = getattr(mod, func, None)
    if fn is None:
        raise FactoryError(f"{where}: module {module!r} ({file}) has no function {func!r}")
    if not callable(fn):
        raise FactoryError(f"{where}: {module}:{func} is not callable ({type(fn).__name__})")
    return fn


KEY_ARGUMENTS = ("key", "rng_key")


def passed_arguments(fn, args: dict, origin, ref: str, where: str) -> dict:
    """What lambda-hat passes ``fn`` besides ``args``: the target's ``seed`` (or a JAX
    PRNG key of it, as ``key`` / ``rng_key``) where ``fn`` takes one that ``args`` does
    not set, and ``step`` for a checkpoint of the user's own training."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin or C function: pass nothing more
        params = {}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    out = {}
    if origin.step is not None:
        if "step" in args:
            raise FactoryError(
                f"{where}.args.step: the training's checkpoints pass step to {ref}; remove "
                "it from args"
            )
        if "step" not in params and not takes_any:
            raise FactoryError(
                f"{where}: the training's checkpoints call {ref}(step=...) for each step, "
                f"and {ref} takes no step argument; add one (it loads that step's weights)"
            )
        out["step"] = origin.step
    if "seed" in params and "seed" not in args:
        out["seed"] = origin.seed
    else:
        key = next((k for k in KEY_ARGUMENTS if k in params and k not in args), None)
        if key is not None:
            import jax

            out[key] = jax.random.PRNGKey(origin.seed)
    return out


def content_digest(tree) -> str:
    """sha256 of a pytree of arrays: each leaf's path, dtype, shape and bytes (not the
    tree's printed structure, which may hold a function's address)."""
    import jax

    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return arrays_digest([(jax.tree_util.keystr(path), leaf) for path, leaf in leaves])


def arrays_digest(named) -> str:
    """sha256 of ``[(name, array), ...]``: names, dtypes, shapes and bytes (no JAX)."""
    import numpy as np

    out = hashlib.sha256()
    for name, leaf in named:
        a = np.ascontiguousarray(np.asarray(leaf))
        out.update(f"{name}|{a.dtype.str}|{a.shape}\0".encode())
        out.update(a.tobytes())
    return out.hexdigest()


def call(fn, args: dict, ref: str, where: str):
    """``fn(**args)``, with the factory's own traceback under the message if it raises."""
    try:
        return fn(**args)
    except Exception as exc:
        raise FactoryError(
            f"{where}: factory {ref} raised {type(exc).__name__}: {exc}\n" + user_traceback(exc)
        ) from None


def user_traceback(exc: BaseException) -> str:
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return "".join(lines).rstrip()
