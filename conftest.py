"""Hypothesis profiles. Servers and their options come from cacherace's pytest plugin."""

import os

from hypothesis import HealthCheck, settings

# pytester: the plugin's own tests run inner pytest sessions.
pytest_plugins = ["pytester"]

# dev: quick feedback while editing; ci: Hypothesis's built-in profile (CI=true
# loads it); thorough: nightly, many examples.
settings.register_profile(
    "dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

if not os.environ.get("HYPOTHESIS_PROFILE") and not os.environ.get("CI"):
    settings.load_profile("dev")
elif os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])


def pytest_collection_modifyitems(items: list) -> None:
    """Mark every test that needs real servers (``-m "not servers and not slow"``
    runs the pure ones alone: the model, the claims, the reports, the layout).
    The command tests start theirs in subprocesses."""
    import pytest

    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        folder = item.path.parent.name
        if {"cacherace_backend", "cacherace_servers"} & fixtures or folder in ("cli", "bench"):
            item.add_marker(pytest.mark.servers)
