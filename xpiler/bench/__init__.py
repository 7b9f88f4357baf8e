"""Benchmarks of xpiler against the published QiMeng-Xpiler figures (docs/benchmarks.md).

- ``python -m xpiler.bench accuracy``: translate every suite program to every other dialect, compile,
  run against the numpy reference; the 4x4 accuracy matrix next to the paper's (:mod:`.accuracy`).
- ``python -m xpiler.bench perf``: time programs on the hardware present against the strongest library
  baseline (PyTorch when importable, else numpy/BLAS); the GPU part runs here when an NVIDIA GPU is
  present, or elsewhere through a self-contained bundle (:mod:`.perf`).
- :mod:`.published`: the paper's figures.

Nothing here is imported by ``import xpiler``.
"""

from . import published

__all__ = ["published", "accuracy", "perf"]


def __getattr__(name):
    if name in ("accuracy", "perf"):
        from importlib import import_module
        module = import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
