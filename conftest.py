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
