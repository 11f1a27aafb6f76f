"""Text → model, one module per input format: `iptables -L` (listing), `iptables-save` / `-S`
(save), with the shared value readers (values) and what the text leaves implicit (detect)."""

from .loader import FORMATS, load, loads

__all__ = ["FORMATS", "load", "loads"]
