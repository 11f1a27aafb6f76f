"""pytest configuration: the netns fixture lives in helpers.py with the other shared helpers;
hypothesis profiles come from kubechain.testing (`dev` unless `--hypothesis-profile` says otherwise)."""

import os

from helpers import netns  # noqa: F401  (re-exported as a fixture)
from hypothesis import settings

from kubechain.testing import register_profiles

register_profiles()
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))  # --hypothesis-profile overrides this
