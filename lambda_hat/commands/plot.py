"""``lambda-hat plot``: PNGs of an experiments file's results.

λ̂ over training for each training run kept at checkpoints (``--skip-steps``/``--min-step``
leave checkpoints out, ``--log-x``/``--log-y`` take log axes), and λ̂ against each swept
key for each target family of a file with sweeps.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

HELP = "plot λ̂ ± error bar against the training step (checkpoints) and the swept keys"


def add_arguments(p) -> None:
    p.add_argument("experiments", help="the experiments file whose checkpoints/sweeps to plot")
    p.add_argument("--root", help="store root (default: the experiments file's)")
    p.add_argument("--out", default=".", help="folder for the PNGs (default: here)")
    p.add_argument(
        "--skip-steps",
        type=_steps,
        default=(),
        metavar="0,10",
        help="leave these checkpoint steps out of the λ̂-over-training curves",
    )
    p.add_argument("--min-step", type=int, metavar="N", help="leave out checkpoints before N")
    p.add_argument("--log-x", action="store_true", help="log step axis (symlog with step 0)")
    p.add_argument("--log-y", action="store_true", help="log λ̂ axis (λ̂ > 0 at every step)")


def _steps(text: str) -> tuple[int, ...]:
    """``--skip-steps 0,10`` -> (0, 10)."""
    import argparse

    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected checkpoint steps separated by commas (e.g. 0,10), got {text!r}"
        ) from None


def run(args) -> int:
    from rich.console import Console

    from lambda_hat.config import load
    from lambda_hat.config.specs import training_run
    from lambda_hat.errors import ConfigError
    from lambda_hat.results import load as load_rows
    from lambda_hat.store.root import outside_store

    experiment = load(args.experiments, args.root)
    out = outside_store(args.out, experiment.store_root, "--out")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: a file; give the folder for the PNGs")
    groups = defaultdict(list)  # one training run: the targets that differ only in step
    for entry in experiment.targets:
        if (run_key := training_run(entry.spec)) is not None:
            groups[run_key].append(entry)
    keys = experiment.swept_keys
    if not groups and not keys:
        raise ConfigError(
            f"{args.experiments}: nothing to plot: no training keeps checkpoints (add e.g. "
            "checkpoints = [0, 100, 1000] to a [training.*] preset) and nothing is swept "
            "(e.g. step_size = { sweep = [1e-5, 1e-4] })"
        )
    rows = load_rows(experiment.store_root, args.experiments)
    console = Console(soft_wrap=not sys.stdout.isatty())  # a log keeps paths whole
    written = sum(_plot_training(entries, rows, args, console) for entries in groups.values())
    if keys:
        written += _plot_sweeps(experiment, rows, keys, Path(args.out), console)
    return 0 if written else 1  # nothing drawn: a script should not read it as done


def _plot_training(entries: list, rows: list[dict], args, console) -> int:
    """λ̂ over one training run (its checkpoint targets ``entries``), as a PNG; the
    number of PNGs written (0 or 1)."""
    from lambda_hat.analysis.curve import keep_steps, write_curve
    from lambda_hat.store.ids import target_id

    first = entries[0]
    label = f"{first.model}/{first.data}/{first.training} seed {first.spec.seed}"
    ids = {target_id(e.spec) for e in entries}
    mine = [r for r in rows if r["target_id"] in ids and r["llc_mean"] is not None]
    kept = keep_steps(mine, args.skip_steps, args.min_step)
    steps = sorted({r["step"] for r in mine})
    for step in sorted(set(args.skip_steps or ()) - set(steps)) if mine else ():
        console.print(f"note: --skip-steps {step}: no run at that step (runs at {steps})")
    if not kept:
        why = "every step with runs is left out" if mine else "no runs yet; run it first"
        console.print(f"{label}{_swept_label(first.swept)}: {why}")
        return 0
    name = (
        f"llc_over_training_{first.model}_{first.data}_{first.training}_seed"
        f"{first.spec.seed}{_swept_name(first.swept)}.png"
    )
    title = (
        f"{first.model} on {first.data}, training {first.training}, seed "
        f"{first.spec.seed}{_swept_label(first.swept)}"
    )
    path = write_curve(Path(args.out) / name, kept, title, args.log_x, args.log_y)
    console.print(f"wrote {path} ({len({r['step'] for r in kept})} checkpoints)")
    return 1


def _swept_label(swept: dict) -> str:
    """The swept values that tell one training run from its sweep siblings, for a title."""
    return "".join(f", {key.split('.')[-1]} = {value}" for key, value in swept.items())


def _swept_name(swept: dict) -> str:
    """The same for a file name: ``_n_data1000_seed2``."""
    return "".join(f"_{key.split('.')[-1]}{value}" for key, value in swept.items())


def _plot_sweeps(experiment, rows, keys, out: Path, console) -> int:
    """One PNG per target family (preset triple): λ̂ against each swept key; the number
    written."""
    from lambda_hat.analysis.sweep_plot import write_sweep
    from lambda_hat.store.ids import target_id

    families, written = defaultdict(set), 0
    for entry in experiment.targets:
        families[(entry.model, entry.data, entry.training)].add(target_id(entry.spec))
    for (model, data, training), ids in families.items():
        mine = [r for r in rows if r["target_id"] in ids and r["llc_mean"] is not None]
        name = f"sweep_{model}_{data}_{training}.png"
        title = f"{model} on {data}, training {training}: λ̂ against the swept keys"
        path = write_sweep(out / name, mine, keys, title) if mine else None
        if path is None:
            console.print(f"{model}/{data}/{training}: no swept runs yet; run it first")
        else:
            console.print(f"wrote {path} ({len(mine)} runs)")
            written += 1
    return written
