"""How bulk work treats Python's cyclic garbage collector."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_frozen() -> Iterator[None]:
    """A parse allocates millions of objects and frees none, so cyclic gc would only rescan them.
    Afterwards they are frozen (moved out of gc's sight): the model is immutable and acyclic."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
