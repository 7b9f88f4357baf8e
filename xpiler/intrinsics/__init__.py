"""The intrinsic registry (see :mod:`xpiler.intrinsics.registry`), filled per platform."""

from . import bang, simt, x86  # noqa: F401  (registration side effects)
from .registry import REGISTRY, Intrinsic, Spelling, intrinsic  # noqa: F401
