"""Every runtime header the oracle compiles against ships in the wheel (package-data patterns)."""

from __future__ import annotations

import fnmatch
import tomllib

from programs import ROOT


def test_runtime_headers_are_package_data():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["xpiler"]
    runtime = ROOT / "xpiler"
    files = [p.relative_to(runtime).as_posix() for p in (runtime / "oracle" / "runtime").rglob("*") if p.is_file()]
    missing = [f for f in files if not any(fnmatch.fnmatch(f, pat) and f.count("/") == pat.count("/") for pat in patterns)]
    assert missing == []
