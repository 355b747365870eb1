"""Exception classes. Every message says what went wrong, where, and what to do."""


class LambdaHatError(Exception):
    """Base class for errors lambda-hat reports to the user (no traceback needed)."""


class ConfigError(LambdaHatError):
    """An experiments file is malformed, or a value in it is invalid."""


class StoreError(LambdaHatError):
    """The store is missing, unreadable, or an artifact in it is inconsistent."""


class AmbiguousIdError(StoreError):
    """An ID prefix matches several artifacts (or none)."""


class SamplerDivergedError(LambdaHatError):
    """A sampler produced a non-finite loss; the run is recorded as failed."""


class SlurmError(LambdaHatError):
    """SLURM commands are missing or refused a request."""
