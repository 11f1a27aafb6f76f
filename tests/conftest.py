"""pytest configuration: the netns fixture lives in helpers.py with the other shared helpers."""

from helpers import netns  # noqa: F401  (re-exported as a fixture)
