"""Running a pipeline: apply passes in order, record each application, run instruments.

Every application is recorded (:class:`PassRecord`): the pass spec, which implementation ran
(``symbolic`` today; ``llm`` when the neural implementation of a pass is used), how long it took and
whether the oracle verified it (``None`` when no verifier was given: the record then says
"not verified", never "verified"). Instruments observe the pipeline: :class:`DumpInstrument` writes
the program after every pass (numbered files, each in the dialect of that stage),
:class:`TimingInstrument` collects times.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from .base import ModulePass, PassError


@dataclass(frozen=True)
class PassRecord:
    spec: str
    implementation: str
    seconds: float
    verified: bool | None
    detail: str = ""

    def __str__(self) -> str:
        status = {True: "verified", False: "FAILED verification", None: "not verified"}[self.verified]
        return f"{self.spec}: {self.implementation}, {self.seconds * 1000:.1f} ms, {status}" + (
            f" ({self.detail})" if self.detail else "")


@dataclass
class PipelineResult:
    module: object
    records: list[PassRecord] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return bool(self.records) and all(r.verified for r in self.records)


class Instrument(Protocol):
    def before(self, index: int, pass_: ModulePass, module) -> None: ...
    def after(self, index: int, pass_: ModulePass, module, record: PassRecord) -> None: ...


# A verifier compares a program before and after a pass: True (agrees), False (differs), or raises.
Verifier = Callable[[object, object], tuple[bool, str]]


class DumpInstrument:
    """Writes ``00-input.<suffix>``, then ``NN-<pass-name>.<suffix>`` after each pass."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def _write(self, name: str, module) -> None:
        from xpiler.dialects import DEFAULT_SUFFIX
        from xpiler.emitters import emit
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / f"{name}{DEFAULT_SUFFIX[module.dialect]}").write_text(emit(module))

    def before(self, index, pass_, module):
        if index == 0:
            self._write("00-input", module)

    def after(self, index, pass_, module, record):
        self._write(f"{index + 1:02d}-{pass_.name}", module)


class TimingInstrument:
    def __init__(self):
        self.times: list[tuple[str, float]] = []

    def before(self, index, pass_, module):
        pass

    def after(self, index, pass_, module, record):
        self.times.append((record.spec, record.seconds))


def run_pipeline(module, passes, *, verifier: Verifier | None = None, instruments=()) -> PipelineResult:
    """Apply ``passes`` to ``module`` in order. With a ``verifier``, a pass whose output does not
    agree with its input stops the pipeline with a :class:`PassError` naming the pass."""
    result = PipelineResult(module)
    for index, pass_ in enumerate(passes):
        for instrument in instruments:
            instrument.before(index, pass_, result.module)
        start = time.perf_counter()
        after = pass_.apply(result.module)
        seconds = time.perf_counter() - start
        verified, detail = None, ""
        if verifier is not None:
            if hasattr(verifier, "final"):
                verifier.final = index == len(passes) - 1
            verified, detail = verifier(result.module, after)
        record = PassRecord(pass_.spec(), "symbolic", seconds, verified, detail)
        result.records.append(record)
        for instrument in instruments:
            instrument.after(index, pass_, after, record)
        if verified is False:
            raise PassError(f"pass {pass_.spec()} changed what the program computes: {detail}")
        result.module = after
    return result
