"""The test corpus: every program under examples/ (showcase programs and the operator suite), with
its dialect taken from the folder it lives in (examples/<dialect>/, examples/suite/<dialect>/)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SUFFIXES = {".cu", ".cuh", ".hip", ".mlu", ".c", ".cpp", ".cc"}
DIALECTS = ("cuda", "hip", "bang", "vnni")


def dialect_of(path: Path) -> str | None:
    for part in reversed(path.relative_to(EXAMPLES).parts[:-1]):
        if part in DIALECTS:
            return part
    return None


def corpus(dialect: str | None = None) -> list[Path]:
    """Program files of ``dialect`` (all dialects when None), sorted."""
    files = []
    for path in sorted(EXAMPLES.rglob("*")):
        if path.suffix in SUFFIXES and path.is_file():
            d = dialect_of(path)
            if d is not None and (dialect is None or d == dialect):
                files.append(path)
    return files


def ids(paths) -> list[str]:
    return [str(p.relative_to(EXAMPLES)) for p in paths]
