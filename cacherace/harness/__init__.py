"""Where things run: backends, driver interception, the scheduler, faults, the
Hypothesis state machine, traces and replay, reports, the CLI and the pytest plugin."""
