"""Exception classes. Every message says what went wrong, where, and what to do."""


class LambdaHatError(Exception):
    """Base class for errors lambda-hat reports to the user (no traceback needed)."""


class ConfigError(LambdaHatError):
    """An experiments file is malformed, or a value in it is invalid."""


class StoreError(LambdaHatError):
    """The store is missing, unreadable, or an artifact in it is inconsistent."""


def broken_artifact(path, exc: BaseException | None = None) -> StoreError:
    """The error for a published file that is missing or unreadable, saying how to recover."""
    what = "is missing" if exc is None else f"is unreadable ({type(exc).__name__})"
    return StoreError(
        f"{path} {what}; the artifact is broken: `lambda-hat verify --quarantine` moves it "
        "out of the store, then `lambda-hat run` rebuilds it"
    )


class AmbiguousIdError(StoreError):
    """An ID prefix matches several artifacts (or none)."""


class SamplerDivergedError(LambdaHatError):
    """A sampler produced a non-finite loss; the run is recorded as failed."""


class ModelError(LambdaHatError):
    """The model cannot be sampled at w*: its loss there is not a finite number."""


class StepSizeError(LambdaHatError):
    """SGLD's automatic step cannot be set: the posterior has no finite curvature at w*."""


class SlurmError(LambdaHatError):
    """SLURM commands are missing or refused a request."""


class StoreFullError(StoreError):
    """A write to the store failed for lack of space (ENOSPC) or quota (EDQUOT)."""
