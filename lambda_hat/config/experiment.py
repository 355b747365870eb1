"""Parse and validate an experiments TOML file into frozen, resolved specs.

Nothing runs until the whole file validates; every error names the file, the table
path (``samplers[2].step_size``) and what was expected. Sweeps (``config/sweeps.py``)
expand here: a preset with sweeps is several variants, a target names the product of
its presets' variants and its own sweeps, a sampler entry with sweeps is several
samplers; each point keeps what it chose (``swept``) for display.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

from lambda_hat.config.formats import read_document
from lambda_hat.config.specs import (
    PRECISIONS,
    SamplerSpec,
    TargetSpec,
    TrainingSpec,
    check_budget,
    to_dict,
)
from lambda_hat.config.sweeps import build_points, expand, located
from lambda_hat.errors import ConfigError
from lambda_hat.fields import build
from lambda_hat.samplers.registry import SAMPLERS, sampler
from lambda_hat.targets.checks import check_pair
from lambda_hat.targets.kind import ParseContext
from lambda_hat.targets.registry import DEFAULT_DATA_KIND, data_kind, model_kind, model_of
from lambda_hat.targets.seeds import seed_uses

TOP_LEVEL = ("store", "models", "data", "training", "targets", "samplers")

# presets every file has (a file's own preset of the same name replaces it): the seed
# document's `targets: [{model: base, data: base}]` runs as it is written there
BUILT_IN = {
    "models": {
        "base": {"kind": "mlp", "in_dim": 4, "widths": [8, 8], "out_dim": 1, "activation": "tanh"}
    },
    "data": {"base": {"n_data": 5000, "noise_scale": 0.1}},
    "training": {"base": {"optimizer": "adam", "learning_rate": 0.01, "steps": 2000}},
}


@dataclass(frozen=True)
class TargetEntry:
    """A target as the file names it: preset names (for display) and the resolved spec."""

    model: str
    data: str
    training: str
    spec: TargetSpec
    swept: dict = field(default_factory=dict, compare=False)  # {"data.n_data": 1000, ...}


@dataclass(frozen=True)
class Experiment:
    path: Path
    store_root: Path
    targets: tuple[TargetEntry, ...]
    samplers: tuple[SamplerSpec, ...]
    # what each sampler's sweeps chose ({"samplers.step_size": 1e-5, ...}), as samplers
    sampler_swept: tuple[dict, ...] = ()
    # {name: data spec} of the [data.*] tables sampler entries name (observe, data)
    tables: dict = field(default_factory=dict)

    @property
    def swept_keys(self) -> list[str]:
        """Every swept key of the file (targets' first, then samplers'), once each."""
        keys = [k for t in self.targets for k in t.swept]
        keys += [k for s in self.sampler_swept for k in s]
        return list(dict.fromkeys(keys))


def load(path: str | Path, root_override: str | Path | None = None) -> Experiment:
    """Read and validate ``path`` (TOML, or YAML by its suffix); ``root_override``
    replaces ``[store].root``."""
    path = Path(path)
    return parse(read_document(path), path, root_override)


def parse(doc: dict, path: Path, root_override: str | Path | None = None) -> Experiment:
    name = str(path)
    unknown = sorted(set(doc) - set(TOP_LEVEL))
    if unknown:
        raise ConfigError(
            f"{name}: unknown top-level table {unknown[0]!r}; allowed: {', '.join(TOP_LEVEL)}"
        )
    store = doc.get("store", {})
    if not isinstance(store, dict) or set(store) - {"root"}:
        raise ConfigError(f"{name}: [store] may only hold 'root' (a path)")
    root = store.get("root", "runs")
    if not isinstance(root, str) or not root:
        raise ConfigError(f"{name}: store.root: expected a path string, got {root!r}")
    store_root = Path(root_override) if root_override is not None else Path(root)

    ctx = ParseContext(base_dir=path.parent)

    def variants(section: str, build_one) -> dict[str, list[tuple]]:
        """{preset: [(spec, swept), ...]}: one variant per point of its sweeps."""
        out = {}
        for k, v in _presets(doc, section, name):
            where = f"{name}: {section}.{k}"
            out[k] = [
                (spec, {f"{section}.{key}": value for key, value in swept.items()})
                for spec, swept in build_points(v, where, lambda t, w=where: build_one(t, w))
            ]
        return out

    models = variants("models", lambda t, w: _kind_spec(t, w, ctx, model_kind, None))
    data = variants("data", lambda t, w: _kind_spec(t, w, ctx, data_kind, DEFAULT_DATA_KIND))
    training = variants("training", _training)
    targets = tuple(
        with_content(entry, f"{name}: models.{entry.model}")
        for i, t in enumerate(_array(doc, "targets", name))
        for target in _targets(t, f"{name}: targets[{i}]", models, data, training)
        for entry in _checkpoints(target)
    )
    check_seeds(targets, name)
    samplers, sampler_swept = parse_samplers(_array(doc, "samplers", name), name)
    if not targets:
        raise ConfigError(f"{name}: no [[targets]]; add at least one target")
    experiment = Experiment(
        path=path,
        store_root=store_root,
        targets=targets,
        samplers=samplers,
        sampler_swept=sampler_swept,
    )
    tables = named_tables(experiment, data)
    check_restrictions(experiment)
    return dataclasses.replace(experiment, tables=tables)


def sampler_where(experiment: Experiment, i: int) -> str:
    """Where sampler ``i`` is written, for messages: ``file: samplers[i]`` (its table's
    index when no sampler sweeps; else its name and the point of its sweeps)."""
    if not any(experiment.sampler_swept):
        return f"{experiment.path}: samplers[{i}]"
    from lambda_hat.config.sweeps import label

    point = label(experiment.sampler_swept[i])
    return f"{experiment.path}: samplers ({experiment.samplers[i].name} at {point})"


def check_restrictions(experiment: Experiment) -> None:
    """Every sampler entry's ``restrict`` selects part of every target's model: a pattern
    that matches nothing, or a selection of the whole model, is refused here."""
    from lambda_hat.targets.restrict import select

    leaves = {}
    for i, spec in enumerate(experiment.samplers):
        if not spec.restrict:
            continue
        for entry in experiment.targets:
            key = json.dumps(to_dict(entry.spec.model), sort_keys=True)
            if key not in leaves:
                leaves[key] = _leaves(entry.spec)
            where = f"{sampler_where(experiment, i)} (on model {entry.model})"
            select(leaves[key], spec.restrict, where)


def _leaves(spec: TargetSpec) -> tuple:
    """The model's parameter leaves (a kind without readable names is built: JAX)."""
    from lambda_hat.targets.registry import model_of

    kind = model_of(spec.model)
    if kind.leaves is not None:
        return kind.leaves(spec.model)
    from lambda_hat.targets.build import param_leaves

    return param_leaves(spec.model, spec.origin(check_content=False))


def named_tables(experiment: Experiment, data: dict) -> dict:
    """{name: data spec} of every [data.*] table a sampler entry names (``observe``, and
    ``data``: the data-refined LLC's), each checked against every target's model as a
    target's data would be."""
    out, name = {}, str(experiment.path)
    for i, spec in enumerate(experiment.samplers):
        where = sampler_where(experiment, i)
        named = [(f"observe[{k}]", table) for k, table in enumerate(spec.observe)]
        named += [("data", spec.data)] if spec.data is not None else []
        for key, table in named:
            out[table] = _one_table(data, table, f"{where}.{key}")
        if len(set(spec.observe)) != len(spec.observe):
            raise ConfigError(f"{where}.observe: names a table twice")
    for entry in experiment.targets:
        for table, dat in out.items():
            on = f"{entry.model}/{entry.data}"
            where = f"{name}: data.{table} (named by a sampler, on target {on})"
            check_pair(entry.spec.model, dat, TrainingSpec(), where, other_table=True)
    return out


def _one_table(data: dict, table: str, where: str):
    """The data spec of ``[data.<table>]``, which must exist and not sweep."""
    if table not in data:
        known = ", ".join(sorted(data)) or "none defined"
        raise ConfigError(f"{where}: no table {table!r} in [data] (known: {known})")
    if len(data[table]) != 1:
        raise ConfigError(
            f"{where}: data.{table} has sweeps, so it is {len(data[table])} datasets; a "
            "sampler entry names one: give it a table without sweeps"
        )
    return data[table][0][0]


def parse_samplers(tables: list[dict], name: str) -> tuple[tuple, tuple]:
    """(sampler specs, what each one's sweeps chose) of ``[[samplers]]`` tables."""
    points = [
        (spec, {f"samplers.{key}": value for key, value in swept.items()})
        for i, s in enumerate(tables)
        for spec, swept in build_points(
            s,
            f"{name}: samplers[{i}]",
            lambda t, i=i: _sampler(t, f"{name}: samplers[{i}]"),
            fixed=("name",),
        )
    ]
    return tuple(spec for spec, _ in points), tuple(swept for _, swept in points)


def _presets(doc: dict, key: str, name: str):
    table = doc.get(key, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{name}: [{key}] must hold named tables like [{key}.small]")
    for preset, body in {**BUILT_IN.get(key, {}), **table}.items():
        if not isinstance(body, dict):
            raise ConfigError(f"{name}: {key}.{preset}: expected a table, got {body!r}")
        yield preset, body


def _array(doc: dict, key: str, name: str) -> list:
    items = doc.get(key, [])
    if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
        raise ConfigError(f"{name}: {key} must be an array of tables ([[{key}]])")
    return items


def _kind_spec(table: dict, where: str, ctx: ParseContext, lookup, default: str | None):
    """A model or data preset, checked by its kind's module."""
    kind = table.get("kind", default)
    if kind is None:
        raise ConfigError(f"{where}: missing required key 'kind'")
    return lookup(kind, where).parse(table, where, ctx)


def _training(table: dict, where: str) -> TrainingSpec:
    """A training preset; ``checkpoint_every = K`` keeps steps 0, K, 2K, ... and the last."""
    if "at_step" in table:
        raise ConfigError(f"{where}.at_step: set by lambda-hat for each checkpoint; remove it")
    table = dict(table)
    every = table.pop("checkpoint_every", None)
    spec = build(TrainingSpec, table, where)
    if every is not None:
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise ConfigError(
                f"{where}.checkpoint_every: expected a positive integer, got {every!r}"
            )
        if spec.checkpoints:
            raise ConfigError(f"{where}: give checkpoints or checkpoint_every, not both")
        steps = (*range(0, spec.steps + 1, every), spec.steps)
        spec = dataclasses.replace(spec, checkpoints=tuple(sorted(set(steps))))
    marks = spec.checkpoints
    if marks:
        if list(marks) != sorted(set(marks)):
            raise ConfigError(
                f"{where}.checkpoints: must be increasing without repeats, got {list(marks)}"
            )
        if spec.init == "teacher":
            raise ConfigError(
                f"{where}.checkpoints: need training (init = 'random'), or your own "
                "training's steps (init = 'given' with a python model's factory(step=...))"
            )
        if spec.init == "random" and marks[-1] > spec.steps:
            raise ConfigError(
                f"{where}.checkpoints: {marks[-1]} is beyond the training's steps = "
                f"{spec.steps}; raise steps or drop the checkpoint"
            )
    return spec


def _checkpoints(entry: TargetEntry) -> list[TargetEntry]:
    """A target whose training keeps checkpoints is one target per checkpoint."""
    training = entry.spec.training
    if not training.checkpoints:
        return [entry]
    return [
        dataclasses.replace(
            entry,
            spec=dataclasses.replace(
                entry.spec, training=dataclasses.replace(training, at_step=step)
            ),
        )
        for step in training.checkpoints
    ]


def with_content(entry: TargetEntry, where: str) -> TargetEntry:
    """The entry with what its model's user code returns hashed in (``params_sha256``)."""
    return dataclasses.replace(entry, spec=content_of(entry.spec, where))


def content_of(spec: TargetSpec, where: str = "model") -> TargetSpec:
    """``spec`` with ``params_sha256`` set where its model comes from user code: the
    factory is called here, for the target's seed and checkpoint step."""
    content = model_of(spec.model).content
    if content is None:
        return spec
    digest = content(spec.model, spec.origin(check_content=False), where)
    return dataclasses.replace(spec, params_sha256=digest)


def training_checkpoints(spec: TargetSpec) -> dict[int, TargetSpec]:
    """{step: spec} of every checkpoint of checkpoint target ``spec``'s training run (what
    one training builds together); empty for a target that is not a checkpoint."""
    training = spec.training
    if training.at_step is None:
        return {}
    steps = sorted({*training.checkpoints, training.at_step})
    return {k: spec if k == training.at_step else checkpoint_at(spec, k) for k in steps}


def checkpoint_at(spec: TargetSpec, step: int) -> TargetSpec:
    """The checkpoint at ``step`` of the training run of checkpoint target ``spec`` (a
    w* given by the user's factory for each step has a digest of its own)."""
    training = dataclasses.replace(spec.training, at_step=step)
    out = dataclasses.replace(spec, training=training)
    return content_of(out) if training.init == "given" else out


def check_seeds(targets, name: str) -> None:
    """Refuse targets that differ only in a seed that changes nothing (their model's
    factory ignores it and nothing else here is random): a seed sweep that says nothing."""
    groups: dict[str, list[TargetEntry]] = {}
    for t in targets:
        rest = {k: v for k, v in to_dict(t.spec).items() if k != "seed"}
        groups.setdefault(json.dumps(rest, sort_keys=True), []).append(t)
    for group in groups.values():
        first = group[0]
        if len(group) > 1 and not seed_uses(first.spec, factory=False):
            seeds = ", ".join(str(t.spec.seed) for t in group)
            raise ConfigError(
                f"{name}: the targets of model {first.model!r}, data {first.data!r} and "
                f"training {first.training!r} with seeds {seeds} would compute the same: "
                "nothing in them depends on the seed (their parameters are the same for "
                "each seed, the data are fixed and the training is full-batch or none); "
                "give the model's factory a seed (int) or key (PRNG key) argument, or "
                "drop the seed sweep"
            )


TARGET_KEYS = ("model", "data", "training", "seed", "precision")


def _targets(table: dict, where: str, models: dict, data: dict, training: dict) -> list:
    """The targets of one [[targets]] entry: its sweeps' points × its presets' variants."""
    unknown = sorted(set(table) - set(TARGET_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r}; allowed keys: {', '.join(sorted(TARGET_KEYS))}"
        )
    out = []
    for point in expand(table, where):
        try:
            out += _target(point.table, where, models, data, training, point.swept)
        except ConfigError as exc:
            raise located(exc, where, point) from None
    return out


def _preset(table: dict, key: str, presets: dict, where: str) -> str | None:
    if key not in table:
        if key == "training":
            return None
        raise ConfigError(f"{where}: missing required key {key!r} (a preset name)")
    value = table[key]
    if not isinstance(value, str):
        raise ConfigError(f"{where}.{key}: expected a preset name, got {value!r}")
    if value not in presets:
        known = ", ".join(sorted(presets)) or "none defined"
        section = "models" if key == "model" else key
        raise ConfigError(f"{where}.{key}: no preset {value!r} in [{section}] (known: {known})")
    return value


def _target(table, where, models, data, training, swept) -> list[TargetEntry]:
    names = {
        key: _preset(table, key, presets, where)
        for key, presets in (("model", models), ("data", data), ("training", training))
    }
    seed = table.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"{where}.seed: expected a non-negative integer, got {seed!r}")
    precision = table.get("precision", "float64")
    if precision not in PRECISIONS:
        raise ConfigError(f"{where}.precision: expected one of {PRECISIONS}, got {precision!r}")
    trainings = training[names["training"]] if names["training"] else [(TrainingSpec(), {})]
    own = {f"targets.{key}": value for key, value in swept.items()}
    out = []
    for (model, m_swept), (dat, d_swept), (train, t_swept) in itertools.product(
        models[names["model"]], data[names["data"]], trainings
    ):
        check_pair(model, dat, train, where)
        if train.batch_size is not None and train.batch_size > dat.n_data:
            raise ConfigError(
                f"{where}: training.{names['training']}.batch_size = {train.batch_size} "
                f"exceeds the {dat.n_data} rows of data.{names['data']}; give batch_size "
                f"<= {dat.n_data}, or leave it out for full-batch training"
            )
        spec = TargetSpec(model=model, data=dat, training=train, seed=seed, precision=precision)
        chosen = {**m_swept, **d_swept, **t_swept, **own}
        entry = TargetEntry(
            names["model"], names["data"], names["training"] or "default", spec, chosen
        )
        out.append(entry)
    return out


def _sampler(table: dict, where: str) -> SamplerSpec:
    name = table.get("name")
    if name is None:
        known = {f.name for f in dataclasses.fields(SamplerSpec)}
        known |= {f.name for s in SAMPLERS.values() for f in dataclasses.fields(s.params)}
        stray = sorted(set(table) - known)
        also = f"; unknown key {stray[0]!r}" if stray else ""
        raise ConfigError(f"{where}: missing required key 'name' ({' | '.join(SAMPLERS)}){also}")
    params_cls = sampler(name, where).params
    own = {f.name for f in dataclasses.fields(params_cls)}
    common = {f.name for f in dataclasses.fields(SamplerSpec)} - {"name", "params"}
    unknown = sorted(set(table) - own - common - {"name"})
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r} for sampler {name!r}; allowed keys: "
            f"{', '.join(sorted(own | common))}"
        )
    params = build(params_cls, {k: v for k, v in table.items() if k in own}, where)
    rest = {k: v for k, v in table.items() if k in common}
    spec = build(SamplerSpec, rest, where, name=name, params=params)
    check_budget(spec, where)
    return spec
