"""Launch configuration of bare kernels (see conventions.md, "Launch configuration")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import XpilerError

# BANG function types, matched by name: CNRT_FUNC_TYPE_UNION1, cnrtFuncTypeUnion1, UNION1 ...
BANG_FUNC_TYPES = ("BLOCK", "UNION1", "UNION2", "UNION4", "UNION8", "UNION16")


def _dim3(value: Any, what: str) -> tuple[int, int, int]:
    if isinstance(value, int):
        value = (value,)
    try:
        dims = tuple(int(v) for v in value)
    except TypeError:
        raise XpilerError(f"launch: {what} must be an int or a sequence of up to 3 ints, got {value!r}") from None
    if not 1 <= len(dims) <= 3 or any(d < 1 for d in dims):
        raise XpilerError(f"launch: {what} must have 1 to 3 positive extents, got {value!r}")
    return dims + (1,) * (3 - len(dims))


def normalize_func_type(name: str) -> str:
    """``CNRT_FUNC_TYPE_UNION1`` / ``cnrtFuncTypeUnion1`` / ``union1`` -> ``UNION1``."""
    key = name.upper().replace("CNRT_FUNC_TYPE_", "").replace("CNRTFUNCTYPE", "")
    if key not in BANG_FUNC_TYPES:
        raise XpilerError(f"launch: unknown BANG function type {name!r} (expected one of {', '.join(BANG_FUNC_TYPES)})")
    return key


@dataclass(frozen=True)
class Launch:
    """How a bare kernel is launched.

    SIMT (cuda/hip): ``grid`` and ``block`` (x, y, z). BANG: ``task_dim`` (x, y, z) and
    ``func_type`` (``"BLOCK"``, ``"UNION1"``, ...).
    """

    grid: tuple[int, int, int] | None = None
    block: tuple[int, int, int] | None = None
    task_dim: tuple[int, int, int] | None = None
    func_type: str | None = None

    def __post_init__(self):
        for field in ("grid", "block", "task_dim"):
            value = getattr(self, field)
            if value is not None:
                object.__setattr__(self, field, _dim3(value, field))
        if self.func_type is not None:
            object.__setattr__(self, "func_type", normalize_func_type(self.func_type))
        if (self.grid is None) != (self.block is None):
            raise XpilerError("launch: give both grid and block, or neither")

    @classmethod
    def coerce(cls, value: Any) -> "Launch | None":
        """Accept a Launch, a dict with the same keys, or None."""
        if value is None or isinstance(value, Launch):
            return value
        if isinstance(value, dict):
            unknown = set(value) - {"grid", "block", "task_dim", "func_type"}
            if unknown:
                raise XpilerError(f"launch: unknown keys {sorted(unknown)}")
            return cls(**value)
        raise XpilerError(f"launch: expected a Launch or a dict, got {type(value).__name__}")

    @property
    def is_simt(self) -> bool:
        return self.grid is not None

    @property
    def is_bang(self) -> bool:
        return self.task_dim is not None or self.func_type is not None
