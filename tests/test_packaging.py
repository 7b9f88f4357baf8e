"""Packaging promises: the layout maps into the xpiler namespace, and `import xpiler` stays light."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from programs import ROOT


def test_every_package_folder_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    mapping = config["package-dir"]
    found = set()
    for package, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((package,) + rel))
    assert found == listed


def test_import_loads_no_heavy_dependency():
    """`import xpiler` must not load tree-sitter, numpy, z3 or litellm (they load on first use)."""
    code = ("import sys, xpiler; heavy = [m for m in ('tree_sitter', 'numpy', 'z3', 'litellm', 'networkx') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_passes_and_synth_live_in_the_xpiler_namespace():
    import xpiler.passes
    import xpiler.synth
    assert xpiler.passes.__file__.startswith(str(ROOT / "passes"))
    assert xpiler.synth.__file__.startswith(str(ROOT / "synth"))
    assert "passes" not in sys.modules and "synth" not in sys.modules
