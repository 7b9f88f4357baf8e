"""Transformation passes and the pass manager (imported as ``xpiler.passes``).

One pass per module: lowering (``loop-recovery``, ``detensorize``, ``host-lower``, ...), raising
(``outline``, ``bind``, the vector-to-lanes passes before them), the platform-agnostic loop passes
(``loop-split``, ``loop-fuse``, ...) and the direct CUDA <-> HIP port (``simt-port``). ``registry``
names them; ``manager`` runs pipelines of them.
"""
