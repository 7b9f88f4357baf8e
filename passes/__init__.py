"""Transformation passes and the pass manager (imported as ``xpiler.passes``).

The lowering passes (loop recovery, detensorize) and raising passes (split, bind, cache, tensorize,
...) land here, one pass per module. Until they do, `xpiler.translate` supports only the identity
and the direct CUDA <-> HIP mapping and says so for every other direction.
"""
