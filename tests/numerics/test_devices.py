"""Chains spread over several devices (numerics/devices.py): on this CPU, XLA's forced
host device count stands in for a node's GPUs. The chains run on every device, SGLD's
numbers are those of one device bit for bit, and HMC's λ̂ agrees within its error bars
(its adaptation amplifies last-bit differences of the partitioned arithmetic)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lambda_hat.numerics.devices import chain_sharding

PROBE = Path(__file__).with_name("devices_probe.py")


def _probe(tmp_path, devices: int) -> dict:
    out = tmp_path / f"{devices}.json"
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, str(PROBE), str(out)], check=True, env=env, cwd=root, timeout=600
    )
    return json.loads(out.read_text())


@pytest.mark.slow
def test_chains_spread_over_four_devices_give_one_devices_numbers(tmp_path):
    one, four = _probe(tmp_path, 1), _probe(tmp_path, 4)
    assert (one["devices"], one["chains_on"]) == (1, 1)
    assert (four["devices"], four["chains_on"]) == (4, 4)
    assert four["sgld_written"] == one["sgld_written"]
    assert four["sgld_auto"] == one["sgld_auto"]
    (m1, e1), (m4, e4) = one["hmc"], four["hmc"]
    assert abs(m4 - m1) < 4 * np.hypot(e1, e4)


def test_one_device_spreads_nothing():
    assert chain_sharding(4) is None  # the test process has one CPU device
