"""The exceptions xpiler raises. Every error a user can cause is one of these, with a message that
names the place (file, line, column) and the cause; the CLI prints ``str(error)`` on one line."""

from __future__ import annotations


class XpilerError(Exception):
    """Base of every error xpiler raises on purpose."""


class DialectError(XpilerError, ValueError):
    """An unknown dialect name, or a dialect that cannot be detected or does not fit the text."""


class SourceError(XpilerError):
    """An error located in the user's program text."""

    def __init__(self, message: str, *, filename: str = "<input>", line: int | None = None,
                 column: int | None = None, snippet: str | None = None):
        self.message = message
        self.filename = filename
        self.line = line
        self.column = column
        self.snippet = snippet
        super().__init__(self._format())

    def _format(self) -> str:
        where = self.filename
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {self.message}"
        if self.snippet:
            text += f" near {self.snippet!r}"
        return text


class ParseError(SourceError):
    """The text is not a well-formed program of the dialect (a syntax error)."""


class UnsupportedError(SourceError, NotImplementedError):
    """Valid input that xpiler does not (yet) handle; the message says what is missing."""


class TranslationError(XpilerError):
    """A translation could not be produced (e.g. a direction whose passes do not exist yet)."""


class NotImplementedDirection(TranslationError, NotImplementedError):
    """A translation direction whose passes have not landed."""


class RunError(XpilerError):
    """Running a program through the verification oracle failed."""


class CompileError(RunError):
    """The program (or its emulation) did not compile; the message carries the compiler's words."""


class ProgramCrash(RunError):
    """The compiled program crashed (signal) in its child process."""


class ProgramTimeout(RunError):
    """The compiled program ran past its time limit and was killed."""


class EmulationFault(RunError):
    """The emulator detected a fault a real device or toolchain would raise (out-of-bounds access,
    memory over capacity, invalid DMA direction, ...)."""


class ToolMissing(RunError):
    """A required external tool (nvcc, hipcc, a GPU) is not available here."""
