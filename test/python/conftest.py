"""Shared pytest fixtures: a fresh intar context per test."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from intar.ir import make_context

settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True)
settings.register_profile("long", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def ctx():
    context = make_context()
    with context:
        yield context
