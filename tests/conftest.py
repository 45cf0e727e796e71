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


# CONVGRAD_REQUIRE_TORCH=1 (set by .ci/run, which installs requirements-torch.txt): a parity test
# that skips because PyTorch cannot be imported fails the run instead of passing unseen.
REQUIRE_TORCH = os.environ.get("CONVGRAD_REQUIRE_TORCH") == "1"


def _skip_reason(report):
    return str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else str(report.longrepr)


def pytest_terminal_summary(terminalreporter):
    skipped = terminalreporter.stats.get("skipped", [])
    parity = [report for report in skipped if "torch" in _skip_reason(report)]
    terminalreporter.write_line(f"skipped: {len(skipped)} tests, {len(parity)} of them PyTorch parity tests "
                                f"(PyTorch {'required' if REQUIRE_TORCH else 'optional'})")
    if REQUIRE_TORCH and parity:
        terminalreporter.write_line("CONVGRAD_REQUIRE_TORCH=1 but PyTorch parity tests skipped: "
                                    + "; ".join(sorted({_skip_reason(r) for r in parity})), red=True)


def pytest_sessionfinish(session, exitstatus):
    if not REQUIRE_TORCH:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if any("torch" in _skip_reason(report) for report in skipped):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
