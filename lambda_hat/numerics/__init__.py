"""Pure JAX numerics: models, data, training, posterior, samplers, estimator. No I/O."""
