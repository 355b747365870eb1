"""``lambda-hat promote --to DIR``: key plots at stable, readable paths, and an index.

Each run's diagnostic PNGs are copied to
``DIR/<model>_n<n_data>_seed<seed>_<target id>/<sampler>_<run id>/<plot>.png`` and
``DIR/index.md`` shows the results table and the plots. Promoting again overwrites the
same paths (same store, same paths), so links to them stay valid.
"""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

HELP = "copy each run's key plots to stable paths and write an index page (Markdown)"


def add_arguments(p) -> None:
    p.add_argument("--to", required=True, metavar="DIR", help="destination folder")
    p.add_argument("--root", help="store root (default: the experiments file's, else runs)")
    p.add_argument("--experiment", metavar="FILE", help="only the runs this file asks for")


def _slug(text) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "-", str(text)).strip("-") or "x"


def run_folder(row: dict) -> Path:
    """The stable, human-readable relative folder of one run's plots."""
    target = (
        f"{_slug(row['model'])}_n{row['n_data']}_seed{row['seed']}_"
        f"{row['target_id'].removeprefix('tgt_')[:8]}"
    )
    return Path(target) / f"{_slug(row['sampler'])}_{row['run_id']}"


def promote(rows: list[dict], dest: Path) -> list[Path]:
    """Copy plots and write ``index.md`` and ``results.csv``; returns the files written."""
    from lambda_hat.commands.results import TABLE_COLUMNS, fmt
    from lambda_hat.results import COLUMNS
    from lambda_hat.store.layout import DIAGNOSTICS

    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    plots: dict[str, list[Path]] = {}
    for row in rows:
        rel = run_folder(row)
        (dest / rel).mkdir(parents=True, exist_ok=True)
        copied = []
        for png in sorted((Path(row["path"]) / DIAGNOSTICS).glob("*.png"), key=_plot_order):
            shutil.copy2(png, dest / rel / png.name)
            copied.append(rel / png.name)
        plots[row["run"] + row["target_id"]] = copied
        written += [dest / c for c in copied]

    with open(dest / "results.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    written.append(dest / "results.csv")

    lines = ["# LLC results", "", f"{len(rows)} run(s); data also in `results.csv`.", ""]
    headers = [h for _, h in TABLE_COLUMNS] + ["plots"]
    lines += ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        cells = [fmt(k, row.get(k)) for k, _ in TABLE_COLUMNS]
        cells.append(f"[plots](#{_anchor(row)})")
        lines.append("| " + " | ".join(cells) + " |")
    for row in rows:
        lines += ["", f"## {_title(row)}", "", f'<a id="{_anchor(row)}"></a>', ""]
        lines.append(
            f"λ̂ = {fmt('llc_mean', row['llc_mean'])} ± "
            f"{fmt('llc_mcse', row['llc_mcse'])} (MCSE)"
            + (
                f", true λ = {fmt('true_llc', row['true_llc'])}"
                if row.get("true_llc") is not None
                else ""
            )
            + f"; ESS {fmt('ess', row['ess'])}, R-hat {fmt('rhat', row['rhat'])}; "
            f"source `{row['path']}`"
        )
        lines.append("")
        for rel in plots[row["run"] + row["target_id"]]:
            lines.append(f"![{rel.stem}]({rel.as_posix()})")
    (dest / "index.md").write_text("\n".join(lines) + "\n")
    written.append(dest / "index.md")
    return written


def _plot_order(png: Path) -> tuple:
    key = ("running_llc", "trace", "rank", "sampler_stats")
    return (key.index(png.stem) if png.stem in key else len(key), png.name)


def _title(row: dict) -> str:
    return (
        f"{row['model']} (n={row['n_data']}, seed {row['seed']}, {row['target_id']}) — "
        f"{row['sampler']} {row['run_id']}"
    )


def _anchor(row: dict) -> str:
    return f"{row['target_id']}-{row['run_id']}"


def run(args) -> int:
    from lambda_hat.commands.results import store_root
    from lambda_hat.errors import ConfigError
    from lambda_hat.results import load
    from lambda_hat.store.root import existing_store, outside_store

    root = existing_store(store_root(args), "pass --root DIR (the store's root)")
    dest = outside_store(args.to, root, "--to")
    if dest.resolve() == Path(root).resolve():
        raise ConfigError(f"--to {dest}: that is the store's root; give a folder of its own")
    if dest.exists() and not dest.is_dir():
        raise ConfigError(f"--to {dest}: a file; give a folder")
    rows = load(root, args.experiment)
    if not rows:  # an index of nothing would replace the one there
        what = f" of {args.experiment}" if args.experiment else ""
        raise ConfigError(f"no published runs{what} in {root}: nothing to promote")
    written = promote(rows, dest)
    print(
        f"promoted {len(rows)} run(s) from {root} to {dest} ({len(written)} files); "
        f"open {dest / 'index.md'}"
    )
    return 0
