"""pytest configuration: the netns fixture comes from support.kernel; hypothesis profiles from
kubechain.testing (`dev` unless `--hypothesis-profile` says otherwise)."""

import os

from hypothesis import settings

from kubechain.testing import register_profiles

from support.kernel import netns  # noqa: F401  (re-exported as a fixture)

register_profiles()
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))  # --hypothesis-profile overrides this
