"""The intrinsic registry: per intrinsic, its scalar semantics and its spelling per dialect.

This is TVM's ``TensorIntrin`` idea: an intrinsic is registered as a pair, a *scalar description*
(C text of the loop nest it computes, written over the intrinsic's parameter names) and its
*implementations*, the spelling that calls it in each dialect that has it. Lifting tags calls of
known intrinsics; detensorize inlines the scalar description; tensorize matches loop nests against
it; the direct CUDA <-> HIP mapping uses the spellings.

A spelling is ``(function name, argument order)``: the argument order lists parameter names, so the
same intrinsic can take its arguments in a different order per dialect (``__shfl_down_sync(mask, v,
d)`` in CUDA, ``__shfl_down(v, d)`` in HIP), and parameters with a ``default`` may be left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Spelling:
    dialect: str
    function: str
    order: tuple[str, ...]  # parameter names in call order


@dataclass(frozen=True)
class Intrinsic:
    name: str                       # registry key (a canonical, dialect-neutral name)
    kind: str                       # sync | warp | atomic | dma | fill | vector | reduce | tensor | math | simd | convert | runtime
    params: tuple[str, ...]         # parameter names of the scalar description
    spellings: tuple[Spelling, ...]
    scalar: str | None = None       # C text of its meaning over `params` (None: see `doc`)
    writes: tuple[str, ...] = ()    # pointer parameters it writes
    defaults: dict = field(default_factory=dict)  # param -> C expression when a spelling omits it
    doc: str = ""
    signature: str = ""             # C parameter list of `scalar` (types of `params`; T, D, S, F element types)

    def spelling(self, dialect: str) -> Spelling | None:
        for s in self.spellings:
            if s.dialect == dialect:
                return s
        return None

    @property
    def dialects(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.dialect for s in self.spellings))


class Registry:
    """Intrinsics by name and by (dialect, spelled function name)."""

    def __init__(self):
        self._by_name: dict[str, Intrinsic] = {}
        self._by_spelling: dict[tuple[str, str], list[tuple[Intrinsic, Spelling]]] = {}

    def add(self, intrinsic: Intrinsic) -> Intrinsic:
        if intrinsic.name in self._by_name:
            raise ValueError(f"intrinsic {intrinsic.name!r} registered twice")
        self._by_name[intrinsic.name] = intrinsic
        for s in intrinsic.spellings:
            self._by_spelling.setdefault((s.dialect, s.function), []).append((intrinsic, s))
        return intrinsic

    def __getitem__(self, name: str) -> Intrinsic:
        return self._by_name[name]

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def __iter__(self):
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def lookup(self, dialect: str, function: str, nargs: int | None = None) -> tuple[Intrinsic, Spelling] | None:
        """The intrinsic a call of ``function`` with ``nargs`` arguments means in ``dialect``."""
        candidates = self._by_spelling.get((dialect, function), [])
        if nargs is None:
            return candidates[0] if candidates else None
        for intrinsic, s in candidates:
            if len(s.order) == nargs:
                return intrinsic, s
        for intrinsic, s in candidates:  # trailing defaulted parameters left out
            if len(s.order) > nargs and all(p in intrinsic.defaults for p in s.order[nargs:]):
                return intrinsic, s
        return None

    def spelling_of(self, intrinsic: Intrinsic, function: str, nargs: int) -> Spelling | None:
        """The spelling of ``intrinsic`` a call ``function(<nargs args>)`` used, in any dialect."""
        for s in intrinsic.spellings:
            if s.function == function and len(s.order) == nargs:
                return s
        return None

    def is_known_function(self, dialect: str, function: str) -> bool:
        return (dialect, function) in self._by_spelling

    def map_call(self, intrinsic: Intrinsic, source: Spelling, args: tuple, target_dialect: str,
                 parse_default) -> tuple[str, tuple] | None:
        """Re-spell a call from ``source`` to ``target_dialect``: ``(function, args)`` or None when
        the target has no spelling. ``parse_default`` turns a default's C text into an argument."""
        target = intrinsic.spelling(target_dialect)
        if target is None:
            return None
        bound = dict(zip(source.order, args))
        out = []
        for p in target.order:
            if p in bound:
                out.append(bound[p])
            elif p in intrinsic.defaults:
                out.append(parse_default(intrinsic.defaults[p]))
            else:
                return None
        # Trailing parameters equal to their default can be left out of the target spelling.
        return target.function, tuple(out)


REGISTRY = Registry()


def params_of(signature: str) -> tuple[str, ...]:
    """Parameter names of a C parameter list ``"T *dst, const T *a, int n"``."""
    names = []
    for part in signature.split(","):
        part = part.strip()
        if part:
            names.append(part.replace("*", " ").replace("&", " ").split()[-1])
    return tuple(names)


def intrinsic(name: str, kind: str, signature: str, *, scalar: str | None = None, writes=(),
              defaults=None, doc: str = "", **spellings) -> Intrinsic:
    """Register an intrinsic. Each keyword ``cuda=``, ``hip=``, ``bang=``, ``vnni=`` gives the
    function name (arguments in the signature's order), ``(function, "p1, p2, ...")``, or a list of
    those."""
    params = params_of(signature)
    built = []
    for dialect, spelled in spellings.items():
        names = spelled if isinstance(spelled, list) else [spelled]  # a tuple is one (function, order)
        for entry in names:
            if isinstance(entry, tuple):
                function, order = entry[0], params_of(entry[1]) if entry[1] else ()
            else:
                function, order = entry, params
            built.append(Spelling(dialect, function, order))
    return REGISTRY.add(Intrinsic(name, kind, params, tuple(built), scalar, tuple(writes),
                                  dict(defaults or {}), doc, signature))
