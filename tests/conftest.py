"""Shared pytest configuration."""

import os

import pytest
from hypothesis import settings

from convgrad import _threads

# In CI (CI=true) the property tests draw the same examples on every run, so a
# course fork's build never turns red by chance; locally they explore anew.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def threads():
    """Restore the thread count (and drop the pool) that a test changes."""
    before = _threads._state["threads"]
    yield
    _threads._state["threads"] = before
    _threads._state["pool"] = None


@pytest.fixture
def one_image_per_group(monkeypatch):
    """Split every batch into groups of one image, so that a small test has many groups to share."""
    monkeypatch.setattr(_threads, "_GROUP_WORK", 1)
    monkeypatch.setattr(_threads, "_SMALL_GROUP_WORK", 1)
