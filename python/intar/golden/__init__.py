"""Golden model: exact-integer reference semantics of every intar task kind."""

from intar.golden import kernels
from intar.golden.kernels import *  # noqa: F403

__all__ = kernels.__all__
