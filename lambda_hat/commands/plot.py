"""``lambda-hat plot``: λ̂ over training, a PNG per training run kept at checkpoints."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

HELP = "plot λ̂ ± error bar against the training step for targets kept at checkpoints"


def add_arguments(p) -> None:
    p.add_argument("experiments", help="the experiments file whose checkpoints to plot")
    p.add_argument("--root", help="store root (default: the experiments file's)")
    p.add_argument("--out", default=".", help="folder for the PNGs (default: here)")


def run(args) -> int:
    from rich.console import Console

    from lambda_hat.analysis.curve import write_curve
    from lambda_hat.config import load
    from lambda_hat.errors import ConfigError
    from lambda_hat.results import load as load_rows
    from lambda_hat.store.ids import target_id

    experiment = load(args.experiments, args.root)
    groups = defaultdict(list)  # one training run: the entry with its step left out
    for entry in experiment.targets:
        if entry.spec.training.at_step is not None:
            groups[(entry.model, entry.data, entry.training, entry.spec.seed)].append(entry)
    if not groups:
        raise ConfigError(
            f"{args.experiments}: no training keeps checkpoints; add e.g. "
            "checkpoints = [0, 100, 1000] to a [training.*] preset"
        )
    rows = load_rows(experiment.store_root, args.experiments)
    console = Console()
    for (model, data, training, seed), entries in groups.items():
        ids = {target_id(e.spec) for e in entries}
        mine = [r for r in rows if r["target_id"] in ids and r["llc_mean"] is not None]
        if not mine:
            console.print(f"{model}/{data}/{training} seed {seed}: no runs yet; run it first")
            continue
        name = f"llc_over_training_{model}_{data}_{training}_seed{seed}.png"
        title = f"{model} on {data}, training {training}, seed {seed}"
        path = write_curve(Path(args.out) / name, mine, title)
        console.print(f"wrote {path} ({len({r['step'] for r in mine})} checkpoints)")
    return 0
