"""The hypothesis settings profiles kubechain's own suite (and anyone's) can load."""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def register_profiles() -> None:
    """Register `dev` (quick, for editing), `ci` (≥ 300 examples per property, deterministic, no
    deadline, no example database) and `nightly` (5000 examples). Load one with
    `pytest --hypothesis-profile=NAME`."""
    quiet = [HealthCheck.too_slow, HealthCheck.data_too_large]
    settings.register_profile("dev", max_examples=40, deadline=None, suppress_health_check=quiet)
    settings.register_profile("ci", max_examples=300, deadline=None, database=None, derandomize=True,
                              suppress_health_check=quiet, print_blob=True)
    settings.register_profile("nightly", max_examples=5000, deadline=None, suppress_health_check=quiet)
