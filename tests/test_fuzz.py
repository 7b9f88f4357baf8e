"""Robustness: mutated programs (deleted braces, cut files, random bytes, spliced lines) never make
the command line print a traceback, hang, or write a partial output file."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from xpiler.cli import main

from programs import corpus

SEED = 20261121
N_MUTANTS = 240


def mutate(text: str, rng: random.Random) -> bytes:
    data = text.encode()
    kind = rng.randrange(7)
    if kind == 0:  # delete a brace or parenthesis
        spots = [i for i, c in enumerate(data) if c in b"{}()[];"]
        i = rng.choice(spots)
        return data[:i] + data[i + 1:]
    if kind == 1:  # cut the file
        return data[:rng.randrange(1, len(data))]
    if kind == 2:  # random bytes
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
    if kind == 3:  # random bytes spliced into the program
        i = rng.randrange(len(data))
        return data[:i] + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16))) + data[i:]
    if kind == 4:  # duplicate or drop a line
        lines = data.split(b"\n")
        i = rng.randrange(len(lines))
        return b"\n".join(lines[:i] + ([lines[i]] * 2 if rng.random() < 0.5 else []) + lines[i + 1:])
    if kind == 5:  # replace a character by a punctuation character
        i = rng.randrange(len(data))
        return data[:i] + bytes([rng.choice(b"{}()<>;,#*&@$\"'\\")]) + data[i + 1:]
    # shuffle tokens of one line
    lines = data.split(b"\n")
    i = rng.randrange(len(lines))
    tokens = lines[i].split()
    rng.shuffle(tokens)
    lines[i] = b" ".join(tokens)
    return b"\n".join(lines)


def mutants():
    rng = random.Random(SEED)
    programs = corpus()
    out = []
    for n in range(N_MUTANTS):
        path = programs[n % len(programs)]
        out.append((f"{path.name}#{n}", path.suffix, mutate(path.read_text(), rng)))
    return out


MUTANTS = mutants()


@pytest.mark.timeout(120)
def test_mutants_give_clean_errors(tmp_path, capsys):
    outcomes = {"ok": 0, "error": 0}
    for name, suffix, data in MUTANTS:
        source = tmp_path / f"m{suffix}"
        source.write_bytes(data)
        for argv in (["parse", str(source)], ["translate", str(source), "--to", "hip", "-o", str(tmp_path / "o")],
                     ["translate", str(source), "--to", "vnni", "-o", str(tmp_path / "o")]):
            target = tmp_path / "o"
            if target.exists():
                target.unlink()
            code = main(argv)
            out, err = capsys.readouterr()
            assert code in (0, 1), f"{name}: {argv[0]} exit {code}: {err}"
            if code == 0:
                outcomes["ok"] += 1
                assert err == ""
            else:
                outcomes["error"] += 1
                assert err.startswith("xpiler: error: ") and err.count("\n") == 1, f"{name}: {err!r}"
                assert "Traceback" not in err and "internal error" not in err
                assert not target.exists(), f"{name}: output written on error"
    # The mutations must actually exercise the error paths.
    assert outcomes["error"] > N_MUTANTS


def test_mutants_through_the_real_command(tmp_path):
    """A sample through the installed `xpiler` command: no traceback reaches the user."""
    for name, suffix, data in MUTANTS[:24]:
        source = tmp_path / f"m{suffix}"
        source.write_bytes(data)
        proc = subprocess.run([sys.executable, "-m", "xpiler", "translate", str(source), "--to", "hip"],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode in (0, 1), f"{name}: {proc.stderr}"
        assert "Traceback" not in proc.stderr
        if proc.returncode:
            assert proc.stderr.count("\n") == 1 and proc.stdout == ""
