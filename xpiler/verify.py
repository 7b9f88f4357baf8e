"""Differential verification of pass applications (architecture.md, "Verified at every step").

Given the arguments of a program's host entry (numpy arrays and scalars, as for :func:`xpiler.run`),
the program is run once as given (the reference), and the program after every pass is run on copies
of the same arguments; every array is compared in full with the reference. A stage that cannot run on
its own (the middle of a lowering, where kernels are already loops but the host code still launches
them) is recorded as not verified, with that reason, and the next stage that runs is compared with
the reference again, so a wrong pass is still caught at the latest there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import CompileError, RunError


@dataclass
class Verifier:
    """Runs stages of a translation on copies of ``args`` and compares them with the source's run."""

    args: list
    entry: str | None = None
    launch: object = None
    rtol: float | None = None
    atol: float | None = None
    timeout: float = 120.0
    reference: list | None = field(default=None, init=False)
    final: bool = field(default=False, init=False)  # set by the pipeline for its last pass

    def _run(self, module):
        import numpy as np
        from .emitters import emit
        from .oracle import run
        args = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in self.args]
        run(emit(module), args, entry=self.entry, lang=module.dialect, launch=self.launch, timeout=self.timeout)
        return args

    def start(self, module) -> None:
        """Run the source program: the reference every stage is compared with."""
        self.reference = self._run(module)

    def __call__(self, before, after) -> tuple[bool | None, str]:
        import numpy as np
        if self.reference is None:
            self.start(before)
        try:
            got = self._run(after)
        except CompileError as error:
            if not self.final:
                why = ("kernels are loops while the host still launches them" if _mid_lowering(after)
                       else "it does not compile on its own yet")
                return None, f"an intermediate stage ({why}); checked at a later stage"
            return False, f"the translated program does not compile: {str(error).splitlines()[0]}"
        except RunError as error:
            return False, f"the program after this pass fails: {error}"
        for index, (want, have) in enumerate(zip(self.reference, got)):
            if not isinstance(want, np.ndarray):
                continue
            rtol, atol = self.tolerance(want.dtype)
            if want.shape != have.shape or not np.allclose(have, want, rtol=rtol, atol=atol, equal_nan=True):
                bad = np.argwhere(~np.isclose(have, want, rtol=rtol, atol=atol, equal_nan=True))
                where = tuple(int(i) for i in bad[0]) if len(bad) else ()
                return False, (f"argument {index} differs from the source program's "
                               f"({len(bad)} elements, first at {where}: {have[where]!r} != {want[where]!r})")
        return True, "outputs equal to the source program's"

    def tolerance(self, dtype) -> tuple[float, float]:
        import numpy as np
        if self.rtol is not None or self.atol is not None:
            return self.rtol or 0.0, self.atol or 0.0
        if np.issubdtype(dtype, np.integer):
            return 0.0, 0.0
        return (1e-2, 1e-2) if dtype == np.float16 else (1e-3, 1e-3)


def _mid_lowering(module) -> bool:
    """Kernels already turned into loops while the host code still launches them."""
    return any(f.name in module.launched and f.kind != "kernel" for f in module.functions())
