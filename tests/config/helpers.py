"""A minimal experiments file with one sampler entry, for tests that add keys to it."""

ONE_SAMPLER = """
[models.m]
kind = "mlp"
in_dim = 2
widths = [3]
out_dim = 1
[data.d]
n_data = 100
[[targets]]
model = "m"
data = "d"
[[samplers]]
name = "hmc"
"""
