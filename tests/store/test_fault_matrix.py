"""The fault matrix: SIGKILL at each point of the publish path, ENOSPC at each write.

After every fault the next ``lambda-hat run`` completes, and then every artifact exists
exactly once, ``verify`` is clean (checksums included), and no file published before the
fault changed. The figures are printed (``pytest -m slow -s``) for the closing note.
"""

from __future__ import annotations

import shutil
import traceback
from pathlib import Path

import pytest

from lambda_hat.cli import main
from lambda_hat.config import load
from lambda_hat.errors import StoreFullError
from lambda_hat.scheduler.plan import make_plan
from lambda_hat.store import checksums, housekeeping
from lambda_hat.store.layout import Layout
from tests.numerics.conftest import x64  # noqa: F401  (the same all-float64 fixture)
from tests.store.faults import (
    KILL_POINTS,
    experiments,
    free_bytes,
    leave_free,
    run_killed,
    stored_files,
    tmpfs,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A store holding one target and one run: what a fault must not touch."""
    folder = tmp_path_factory.mktemp("base")
    exp = experiments(folder / "pre.toml")
    root = folder / "store"
    assert main(["run", str(exp), "--root", str(root), "--workers", "1", "--quiet"]) == 0
    return root


def _files(folder: Path) -> dict[str, Path]:
    """The experiments files of the matrix: the base, plus a new target, plus a new run."""
    return {
        "pre": experiments(folder / "pre.toml"),
        "target": experiments(folder / "target.toml", target_seeds=(1, 2)),
        "run": experiments(folder / "run.toml", sampler_seeds=(0, 1)),
    }


def _rerun(exp: Path, root: Path, kind: str) -> int:
    args = ["run", str(exp), "--root", str(root), "--workers", "1", "--quiet"]
    return main(args + (["--only-targets"] if kind == "target" else []))


def _check_complete(exp: Path, root: Path, before: dict[str, str], capsys) -> None:
    """Every artifact of ``exp`` once, verify clean, checksums matching, old files intact."""
    plan = make_plan(load(exp, str(root)))
    layout = Layout(root)
    folders = [layout.target_dir(t.target_id) for t in plan.targets]
    folders += [layout.run_dir(r.target_id, r.dirname) for r in plan.runs if r.status == "done"]
    assert all(f.is_dir() for f in folders)
    assert housekeeping.temp_folders(root) == []
    for folder in folders:
        problems: list[str] = []
        assert checksums.check(folder, problems) is True, problems
    capsys.readouterr()
    assert main(["verify", "--root", str(root)]) == 0
    assert "ok: the store is consistent" in capsys.readouterr().out
    after = stored_files(root)
    changed = [name for name, digest in before.items() if after.get(name) != digest]
    assert changed == [], f"published files changed by the fault: {changed}"


@pytest.mark.parametrize("point", KILL_POINTS)
@pytest.mark.parametrize("kind", ["target", "run"])
def test_sigkill_at_each_publish_point(base, tmp_path, kind, point, capsys):
    root = tmp_path / "store"
    shutil.copytree(base, root)
    exp = _files(tmp_path)[kind]
    before = stored_files(root)
    proc = run_killed(root, exp, kind, point)
    assert proc.returncode == -9, proc.stderr[-2000:]
    plan = make_plan(load(exp, str(root)))
    missing = [t for t in (plan.targets if kind == "target" else plan.runs) if t.status != "done"]
    # the fault struck where it says: up to the rename nothing is published (a temp
    # folder is left behind), after it the artifact is whole and its manifest line is
    # missing or torn
    layout = Layout(root)
    tid = plan.targets[-1].target_id if kind == "target" else plan.runs[-1].target_id
    index = layout.catalog if kind == "target" else layout.runs_manifest(tid)
    raw = index.read_text() if index.exists() else ""
    if point in ("writing", "before_rename"):
        assert len(missing) == 1 and len(housekeeping.temp_folders(root)) == 1
    else:
        assert missing == [] and housekeeping.temp_folders(root) == []
        assert raw.endswith("\n") == (point == "after_rename")
    assert _rerun(exp, root, kind) == 0
    _check_complete(exp, root, before, capsys)
    print(f"\nSIGKILL {kind} {point}: rerun completed, no corruption")


def _attempt(kind: str, exp: Path, root: Path):
    """Publish the experiment's missing target or run in this process."""
    from lambda_hat import runner

    plan = make_plan(load(exp, str(root)))
    if kind == "target":
        task = next(t for t in plan.targets if t.status != "done")
        return runner.build_target(task.spec, root, task.names)
    task = next(r for r in plan.runs if r.status != "done")
    return runner.run_sampler(task.spec, root)


def _failing_write(exc: StoreFullError) -> str:
    """Where the full disk struck: the innermost lambda-hat function of the cause."""
    frames = traceback.extract_tb(exc.__cause__.__traceback__)
    ours = [f for f in frames if "lambda_hat" in f.filename]
    return f"{Path(ours[-1].filename).stem}.{ours[-1].name}"


def _publish_cost(kind: str, exp: Path, store: Path, mount: Path) -> int:
    before = free_bytes(mount)
    _attempt(kind, exp, store)
    return before - free_bytes(mount)


@pytest.mark.parametrize("kind", ["target", "run"])
def test_enospc_at_each_write(base, tmp_path, kind, capsys, x64):  # noqa: F811
    """On a real full file system (a tmpfs), at every level of free space a publish
    needs: a clean StoreFullError, nothing partial, and the next attempt completes."""
    try:
        mount_cm = tmpfs(tmp_path / "mnt", "64m")
        mount = mount_cm.__enter__()
    except OSError as exc:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {exc}")
    try:
        files = _files(mount)
        exp = files[kind]
        probe = mount / "probe"
        shutil.copytree(base, probe)
        cost = _publish_cost(kind, exp, probe, mount)
        shutil.rmtree(probe)
        # tmpfs counts whole pages: every page level near either end (where the small
        # files are written), about eight levels between
        page = 4096
        pages = cost // page
        step = max(1, pages // 8)
        ends = {*range(min(4, pages)), *range(max(0, pages - 4), pages)}
        levels = [k * page for k in sorted(ends | set(range(0, pages, step)))]
        hit: set[str] = set()
        fits = 0
        for free in levels:
            root = mount / f"store-{free}"
            shutil.copytree(base, root)
            before = stored_files(root)
            manifests = {p: p.read_bytes() for p in root.rglob("*.jsonl")}
            filler = leave_free(mount, free)
            try:
                _attempt(kind, exp, root)
            except StoreFullError as exc:
                message = str(exc)
                assert f"store {root}" in message and "--root" in message
                hit.add(_failing_write(exc))
                # nothing partial: no temp folder, manifests as they were, no failure record
                assert housekeeping.temp_folders(root) == []
                assert {p: p.read_bytes() for p in root.rglob("*.jsonl")} == manifests
                assert not list(root.rglob("_failures/*.json"))
                filler.unlink()
                _attempt(kind, exp, root)
                housekeeping.reconcile(root)  # what the next `lambda-hat run` does first
            else:
                # analysis.json holds the wall and creation times, so its size varies by a few
                # bytes between attempts: one page under the probe's cost may just fit
                assert free >= cost - 2 * page, f"published with {free} of {cost} bytes free"
                fits += 1
                filler.unlink()
            _check_complete(files["pre"], root, before, capsys)
            shutil.rmtree(root)
        print(
            f"\nENOSPC {kind}: {len(levels)} levels of free space (0..{cost} bytes), "
            f"{len(levels) - fits} stopped cleanly and completed after, {fits} fit; "
            f"writes hit: {sorted(hit)}"
        )
        assert len(hit) >= (2 if kind == "target" else 3)
    finally:
        mount_cm.__exit__(None, None, None)


@pytest.fixture
def small_disk(tmp_path):
    try:
        with tmpfs(tmp_path / "mnt", "32m") as mount:
            yield mount
    except OSError as exc:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {exc}")


def test_a_full_disk_stops_lambda_hat_run_and_the_next_run_finishes(base, small_disk, capsys):
    """What a user sees: one message naming the store and what to do, exit status 1,
    nothing more started; with space again the same command completes."""
    root = small_disk / "store"
    shutil.copytree(base, root)
    before = stored_files(root)
    exp = experiments(small_disk / "more.toml", target_seeds=(1, 2, 3), sampler_seeds=(0, 1))
    args = ["run", str(exp), "--root", str(root), "--workers", "1", "--quiet"]
    (root / ".jax-cache").mkdir(exist_ok=True)  # the workers' compilation cache is small
    filler = leave_free(small_disk, 8192)
    capsys.readouterr()
    assert main(args) == 1
    err = capsys.readouterr().err
    assert f"stopped: no space is left on the device of store {root}" in " ".join(err.split())
    assert "--root" in err and "task(s) left undone" in err
    assert housekeeping.temp_folders(root) == [] and not list(root.rglob("_failures/*.json"))
    filler.unlink()
    assert main(args) == 0
    _check_complete(exp, root, before, capsys)


def test_a_full_disk_ends_a_slurm_task_and_resubmitting_finishes(base, small_disk, capsys):
    from lambda_hat.slurm.task import run_task

    root = small_disk / "store"
    shutil.copytree(base, root)
    exp = experiments(small_disk / "more.toml", target_seeds=(1, 2), sampler_seeds=(0, 1))
    assert main(["slurm", str(exp), "--root", str(root), "--time", "10"]) == 0
    [plan] = sorted(Layout(root).slurm_dir.glob("*/plan.json"))
    filler = leave_free(small_disk, 8192)
    capsys.readouterr()
    assert run_task(plan, 0) == 1
    out = capsys.readouterr().out
    assert "STOPPED at " in out and "no space is left" in out and "left undone" in out
    assert not list(root.rglob("_failures/*.json"))
    filler.unlink()
    from lambda_hat.slurm.planfile import read_plan

    assert [run_task(plan, i) for i in range(len(read_plan(plan)["tasks"]))] == [0, 0]
    _check_complete(exp, root, stored_files(base), capsys)
