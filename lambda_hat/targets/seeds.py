"""What a target's ``seed`` draws, in words: recorded in meta.json, and used to refuse a
seed sweep whose targets could not differ."""

from __future__ import annotations

from lambda_hat.targets.registry import data_of, model_of


def seed_uses(spec, *, factory: bool = True) -> list[str]:
    """What the seed of TargetSpec ``spec`` draws (empty: nothing).

    ``factory=False`` leaves out a user factory's use of it: what the factory returns is
    hashed into the target (``params_sha256``), so targets whose factories returned the
    same parameters are told apart only by the other uses.
    """
    model, data, training = model_of(spec.model), data_of(spec.data), spec.training
    uses = []
    if data.needs_teacher:
        uses.append("teacher")
    if data.random:
        uses.append("data")
    user_code = model.content is not None
    if user_code and factory or not user_code and training.init == "random":
        use = model.seed_use(spec.model, spec.seed)
        if use is not None:
            uses.append(use)
    trains = training.init == "random" and training.steps > 0
    if trains and training.batch_size is not None:
        uses.append("training minibatches")
    return uses
