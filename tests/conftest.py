"""Shared pytest fixtures (keep this file small)."""

import pytest


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """An empty, private build cache (``XPILER_CACHE_DIR``) for this test."""
    cache = tmp_path / "xpiler-cache"
    monkeypatch.setenv("XPILER_CACHE_DIR", str(cache))
    return cache
