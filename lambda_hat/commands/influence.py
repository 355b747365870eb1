"""``lambda-hat influence``: what a run's observed losses say about its probe samples.

The Bayesian influence between probe entries (BIF = −Cov(ℓ_i, ℓ_j), and the loss
kernel's correlation), the strongest pairs first; each entry's susceptibility
χ = −Cov(L, ℓ − L), or a component's (``--full``: this run restricted to it, the other
the whole model); per position for sequences. ``--save`` writes the arrays, ``--plot``
a PNG. The same numbers as ``lh.bif`` and ``lh.susceptibility`` on ``lh.load_run``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HELP = "BIF between a run's observed samples and their susceptibilities (observe = [...])"


def add_arguments(p) -> None:
    p.add_argument("run", help="a run's ID, any unique prefix of it, or its folder")
    p.add_argument("data", help="an observed dataset of the run (its observe = [...])")
    p.add_argument("--against", metavar="NAME", help="BIF against this observed dataset")
    p.add_argument("--full", metavar="RUN", help="a full run of the same target: per-component χ")
    p.add_argument("--top", type=int, default=10, help="entries and pairs listed (default 10)")
    p.add_argument("--root", default="runs", help="store root (default: runs)")
    p.add_argument("--save", metavar="FILE.npz", help="write every value and MCSE here")
    p.add_argument("--plot", metavar="FILE.png", help="draw the correlations and χ here")


def run(args) -> int:
    from rich.console import Console

    import lambda_hat as lh

    console = Console()
    _check_outputs(args)
    result = lh.load_run(args.run, root=args.root)
    full = lh.load_run(args.full, root=args.root) if args.full else None
    shape = _shape(result, args.data)
    other = _shape(result, args.against) if args.against else shape
    bif = lh.bif(result, args.data, args.against)
    corr = lh.bif(result, args.data, args.against, normalized=True)
    chi, why = _chi(lh, result, args.data, full)
    _header(console, result, args.data, shape)
    from lambda_hat.analysis.influence_plot import top_pairs

    pairs = top_pairs(bif.value, args.top, symmetric=args.against is None)
    _print_pairs(console, bif, corr, pairs, (shape, other))
    if chi is None:
        console.print(f"susceptibility: not available: {why}")
    else:
        _print_chi(console, chi, shape, args.top)
    arrays = {"bif": bif.value, "bif_mcse": bif.mcse, "corr": corr.value, "corr_mcse": corr.mcse}
    if chi is not None:
        arrays.update(chi=chi.value, chi_mcse=chi.mcse)
    for path in (args.save, args.plot):  # their folders, once there is something to write
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    if args.save:
        np.savez(args.save, shape=np.asarray(shape), **arrays)
        console.print(f"wrote {args.save}")
    if args.plot:
        _plot(args, result, pairs, corr, chi, shape)
        console.print(f"wrote {args.plot}")
    return 0


PLOT_FORMATS = (".png", ".pdf", ".svg")


def _check_outputs(args) -> None:
    """``--top``, ``--save`` and ``--plot`` before any work: a count of at least 1, files
    of the kinds written, outside any store."""
    from lambda_hat.errors import ConfigError
    from lambda_hat.store.root import outside_store

    if args.top < 1:
        raise ConfigError(f"--top {args.top}: give at least 1 (entries and pairs listed)")
    for option, path, kinds in (
        ("--save", args.save, (".npz",)),
        ("--plot", args.plot, PLOT_FORMATS),
    ):
        if path is None:
            continue
        if Path(path).suffix.lower() not in kinds:
            raise ConfigError(f"{option} {path}: name a {' or '.join(kinds)} file")
        outside_store(path, args.root, option)


def _shape(result, name: str) -> tuple:
    """(rows,) or (rows, T) of an observed dataset, or the error naming what was."""
    from lambda_hat.errors import ConfigError

    if not result.observed or name not in result.observed:
        have = ", ".join(result.observed or {}) or "none"
        raise ConfigError(
            f"run {result.spec.sampler} on {result.spec.target_id} observed no dataset "
            f"{name!r} (observed: {have}); add observe = [{name!r}] to its [[samplers]] "
            "entry and run it again"
        )
    return tuple(result.observed[name].shape[2:])


def _chi(lh, result, name: str, full):
    """(χ, None), or (None, why not)."""
    from lambda_hat.errors import ConfigError

    try:
        return lh.susceptibility(result, name, full=full), None
    except ConfigError as exc:
        why = str(exc).removeprefix("lh.susceptibility: ")  # the Python API's name
        if full is not None:  # the message says which run (the run, or the full run)
            raise ConfigError(why) from None
        return None, why


def _header(console, result, name: str, shape: tuple) -> None:
    chains, draws = result.llc.shape
    entries = " × ".join(f"{n:,}" for n in shape)
    part = f" restricted to {', '.join(result.spec.restrict)}" if result.spec.restrict else ""
    console.print(
        f"[bold]{name}[/]: {entries} entries observed at {chains} × {draws:,} draws of "
        f"{result.spec.sampler}{part} (λ̂ = {result.llc_mean:.4g} ± {result.llc_mcse:.2g}, "
        f"{(result.trust or {}).get('verdict', '?')})"
    )


def _entry(index: int, shape: tuple) -> str:
    """``17``, or ``row 2 pos 5`` for a sequence dataset's flattened entry."""
    if len(shape) == 2:
        row, pos = divmod(index, shape[1])
        return f"row {row} pos {pos}"
    return str(index)


def _print_pairs(console, bif, corr, pairs: list, shapes: tuple) -> None:
    """The ``pairs`` of largest |BIF|; ``shapes``: the two datasets' (rows[, T])."""
    from rich.table import Table

    shape, other = shapes
    console.print(f"the {len(pairs)} strongest pairs, BIF = −Cov(ℓ_i, ℓ_j) (Corr: normalized):")
    table = Table()
    for header in ("i", "j", "BIF", "± MCSE", "Corr"):
        table.add_column(header, justify="right")
    for i, j in pairs:
        row = (_entry(i, shape), _entry(j, other), f"{bif.value[i, j]:.4g}")
        table.add_row(*row, f"{bif.mcse[i, j]:.2g}", f"{corr.value[i, j]:+.3f}")
    console.print(table)


def _print_chi(console, chi, shape: tuple, top: int) -> None:
    from rich.markup import escape
    from rich.table import Table

    console.print(f"the {top} largest susceptibilities, {escape(chi.meaning)}:")
    table = Table()
    for header in ("entry", "χ", "± MCSE"):
        table.add_column(header, justify="right")
    for k in np.argsort(np.abs(chi.value))[::-1][:top]:
        table.add_row(_entry(int(k), shape), f"{chi.value[k]:.4g}", f"{chi.mcse[k]:.2g}")
    console.print(table)
    if len(shape) == 2:
        by_position = chi.value.reshape(shape).mean(axis=0)
        values = "  ".join(f"{t}: {v:+.3g}" for t, v in enumerate(by_position))
        console.print(f"mean χ per position: {values}", soft_wrap=True)


def _plot(args, result, pairs, corr, chi, shape) -> None:
    from lambda_hat.analysis.influence_plot import write_influence

    title = f"{args.data} · {result.spec.sampler} on {result.spec.target_id}"
    part = ", ".join(result.spec.restrict)
    label = f"χ of {part} (per component)" if args.full else "χ = −Cov(L, ℓ − L)"
    values = None if chi is None else chi.value
    write_influence(Path(args.plot), corr.value, values, shape, title, pairs, label)
