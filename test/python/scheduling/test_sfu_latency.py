"""The cost model's SFU latencies are those of the hardware units it schedules."""

from __future__ import annotations

import pytest

from intar.hw.sfu import sfu_latency as pointwise_latency
from intar.hw.sfu_exp import exp_latency, softmax_latency
from intar.hw.sfu_layernorm import layernorm_latency
from intar.hw.sfu_pwl import pwl_latency
from intar.scheduling.cost import sfu_latency


@pytest.mark.parametrize("kind", ["relu", "requantize", "add", "mul"])
def test_pointwise_units(kind: str) -> None:
    assert sfu_latency(kind, 8, 4) == pointwise_latency(kind, shift=8)


@pytest.mark.parametrize("kind", ["gelu", "silu"])
def test_piecewise_linear_units(kind: str) -> None:
    assert sfu_latency(kind, 8, 4) == pwl_latency(kind, frac_bits=8)


def test_exp_unit() -> None:
    assert sfu_latency("exp", 8, 4) == exp_latency()


@pytest.mark.parametrize(("row", "lanes"), [(16, 4), (12, 4), (64, 2), (7, 1), (256, 8)])
def test_row_units(row: int, lanes: int) -> None:
    assert sfu_latency("softmax", row, lanes) == softmax_latency(row, lanes)
    assert sfu_latency("layernorm", row, lanes) == layernorm_latency(row, lanes, 16, 16)
    assert 0 <= sfu_latency("layernorm", row, lanes) - layernorm_latency(row, lanes, 8, 8) <= 2
