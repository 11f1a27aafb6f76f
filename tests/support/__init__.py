"""Helpers shared by the test suite, each in one place: fixture paths, real network namespaces
(and the skip-or-fail-in-CI guard), comparable analysis documents, model comparisons, an
independent naive walk, and the real-binary differential checks."""
