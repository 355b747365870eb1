"""The samplers by name: ``name = "..."`` of a ``[[samplers]]`` entry."""

from __future__ import annotations

from lambda_hat.errors import ConfigError
from lambda_hat.samplers import hmc, mclmc, nuts, sghmc, sgld
from lambda_hat.samplers.kind import Sampler

SAMPLERS: dict[str, Sampler] = {
    s.name: s for s in (sgld.SAMPLER, sghmc.SAMPLER, hmc.SAMPLER, nuts.SAMPLER, mclmc.SAMPLER)
}


def sampler(name, where: str = "sampler") -> Sampler:
    """The definition of sampler ``name``, or an error listing the names there are."""
    if name not in SAMPLERS:
        raise ConfigError(
            f"{where}.name: unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}"
        )
    return SAMPLERS[name]
