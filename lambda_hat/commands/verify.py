"""``lambda-hat verify [--repair] [--quarantine]``: check a store's integrity (no JAX).

The checks and repairs are the store's own (``store/verify.py``); this prints their
report. Exit 1 when problems remain; artifacts without checksums are a note, not a
problem.
"""

from __future__ import annotations

HELP = "check every artifact, manifest and temp folder of a store; --repair fixes the index"


def add_arguments(p) -> None:
    p.add_argument("--root", default="runs", help="store root (default: runs)")
    p.add_argument(
        "--repair",
        action="store_true",
        help="rebuild manifests, remove stale temp folders and failure records",
    )
    p.add_argument(
        "--quarantine",
        action="store_true",
        help="move broken artifacts to ROOT/_quarantine/TIME/ (kept, not deleted) and "
        "fix the manifests, so the next `lambda-hat run` rebuilds them",
    )
    p.add_argument(
        "--break-soft-locks",
        action="store_true",
        help="with LAMBDA_HAT_SOFT_LOCKS=1: delete lock files left by killed processes "
        "(only when no lambda-hat process uses the store)",
    )


def run(args) -> int:
    from lambda_hat.store.root import existing_store
    from lambda_hat.store.verify import verify

    root = existing_store(args.root)
    report = verify(
        root,
        repair=args.repair,
        break_soft_locks=args.break_soft_locks,
        quarantine=args.quarantine,
    )
    c = report.checked
    print(f"checked {c['targets']} target(s) and {c['runs']} run(s) in {root}")
    if args.repair or args.break_soft_locks:
        for line in report.fixable:
            print(f"repaired: {line}")
    else:
        for line in report.fixable:
            print(f"problem (fixable with --repair): {line}")
    for line in report.problems:
        print(f"problem: {line}")
    if report.unchecksummed:
        print(
            f"note: {len(report.unchecksummed)} artifact(s) have no checksums (published "
            "before lambda-hat recorded them), so their content could not be checked; "
            "`lambda-hat verify --repair` adds them for artifacts whose files load"
        )
    for path in report.added:
        print(f"note: {path}: not published with its run (written there later); remove it")
    for source, dest in report.quarantined:
        print(f"quarantined: {source} -> {dest}")
    if report.quarantined:
        print("rerun `lambda-hat run` to rebuild what was quarantined.")
    if report.problems:
        print(
            f"{len(report.problems)} problem(s) in {len(report.broken)} artifact(s): "
            "`lambda-hat verify --quarantine` moves them out of the store (kept under "
            "_quarantine/), then `lambda-hat run` rebuilds them."
        )
    fixed = args.repair or args.break_soft_locks
    remaining = report.problems + ([] if fixed else report.fixable)
    if not remaining:
        print("ok: the store is consistent")
    return 1 if remaining else 0
