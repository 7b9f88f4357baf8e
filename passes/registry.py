"""The pass registry: built-in passes and third-party passes from the ``xpiler.passes`` entry-point
group (a package declares ``[project.entry-points."xpiler.passes"] my-pass = "pkg.module:MyPass"``;
see examples/custom_pass/)."""

from __future__ import annotations

import dataclasses
import typing
from importlib import import_module, metadata

from .base import ModulePass, PassError, parse_pipeline

ENTRY_POINT_GROUP = "xpiler.passes"
# Built-in pass modules, imported on first use of the registry.
BUILTIN_MODULES = ("xpiler.passes.simt_port", "xpiler.passes.inline", "xpiler.passes.loop_recovery",
                   "xpiler.passes.detensorize", "xpiler.passes.constant_fold", "xpiler.passes.dce",
                   "xpiler.passes.simplify_index",
                   "xpiler.passes.host_lower", "xpiler.passes.c_prelude", "xpiler.passes.host_entry",
                   "xpiler.passes.outline", "xpiler.passes.bind",
                   "xpiler.passes.loop_split", "xpiler.passes.loop_fuse", "xpiler.passes.loop_reorder",
                   "xpiler.passes.loop_expansion", "xpiler.passes.loop_contraction",
                   "xpiler.passes.broadcast_forward", "xpiler.passes.forward_copies", "xpiler.passes.task_units", "xpiler.passes.unique_names", "xpiler.passes.loop_normalize", "xpiler.passes.lanes_outward", "xpiler.passes.mask_bounds",
                   "xpiler.passes.contract_temporaries", "xpiler.passes.scalar_replace",
                   "xpiler.passes.elide_mirrors", "xpiler.passes.wide_subscripts",
                   "xpiler.passes.simd_unswitch", "xpiler.passes.simd_jam", "xpiler.passes.byte_flags", "xpiler.passes.lane_bounds",
                   "xpiler.passes.unit_arrays", "xpiler.passes.tensorize", "xpiler.passes.block_constants",
                   "xpiler.passes.cache", "xpiler.passes.pipeline")

_builtin: dict[str, type[ModulePass]] = {}


def register(cls: type[ModulePass]) -> type[ModulePass]:
    """Class decorator registering a built-in pass under ``cls.name``."""
    if not cls.name:
        raise PassError(f"{cls.__qualname__} has no pass name")
    if cls.name in _builtin and _builtin[cls.name] is not cls:
        raise PassError(f"two passes named {cls.name!r}")
    _builtin[cls.name] = cls
    return cls


def available() -> dict[str, type[ModulePass]]:
    """All passes by name: built-ins, then entry points (a third-party name may not shadow one)."""
    for module in BUILTIN_MODULES:
        import_module(module)
    passes = dict(_builtin)
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in passes:
            continue  # built-ins win; the conflict is reported by `xpiler passes`
        try:
            cls = ep.load()
        except Exception as error:  # a broken plug-in must not break xpiler
            raise PassError(f"pass {ep.name!r} from entry point {ep.value!r} failed to load: {error}") from error
        if not (isinstance(cls, type) and issubclass(cls, ModulePass)):
            raise PassError(f"entry point {ep.name!r} ({ep.value}) is not a ModulePass subclass")
        if cls.name != ep.name:
            raise PassError(f"entry point {ep.name!r} loads a pass named {cls.name!r}; the names must agree")
        passes[ep.name] = cls
    return passes


def _coerce(cls: type[ModulePass], field: dataclasses.Field, value):
    hints = typing.get_type_hints(cls)
    hint = hints.get(field.name)
    origin = typing.get_origin(hint)
    allowed = typing.get_args(hint) if origin is typing.Union or str(origin) == "types.UnionType" else (hint,)
    if float in allowed and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tuple in allowed or typing.get_origin(hint) is tuple:
        return tuple(value) if isinstance(value, (tuple, list)) else (value,)
    ok = any(a is typing.Any or (isinstance(a, type) and isinstance(value, a)) or a is type(None) and value is None
             for a in allowed)
    if not ok:
        names = " or ".join(getattr(a, "__name__", str(a)) for a in allowed)
        raise PassError(f"pass {cls.name!r}: parameter {field.name!r} must be {names}, got {value!r}")
    return value


def make(name: str, params: dict | None = None) -> ModulePass:
    """An instance of pass ``name`` with ``params`` (checked against its fields)."""
    passes = available()
    cls = passes.get(name)
    if cls is None:
        raise PassError(f"unknown pass {name!r}; available: {', '.join(sorted(passes))}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    params = dict(params or {})
    unknown = set(params) - set(fields)
    if unknown:
        raise PassError(f"pass {name!r} has no parameter(s) {', '.join(sorted(unknown))}; "
                        f"its parameters: {', '.join(fields) or 'none'}")
    try:
        return cls(**{k: _coerce(cls, fields[k], v) for k, v in params.items()})
    except (TypeError, ValueError) as error:
        raise PassError(f"pass {name!r}: {error}") from None


def pipeline(spec: str) -> list[ModulePass]:
    """The passes of a pipeline spec string."""
    return [make(name, params) for name, params in parse_pipeline(spec)]


def pipeline_spec(passes) -> str:
    return ",".join(p.spec() for p in passes)
