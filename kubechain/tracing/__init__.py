"""`kubechain trace`: one new packet through a node's tables, every outcome with its exact
probability, its DNAT destination, whether it is masqueraded, and the path to it.

:func:`trace` (re-exported as :func:`kubechain.trace`) takes a Ruleset and a :class:`Packet`
and returns a :class:`Trace`; the `kubechain/trace/v1` document is
:func:`kubechain.report.trace_json.document`.
"""

from __future__ import annotations

from .flow import Step
from .matches import Assumption
from .packet import ORIGINS, Packet, split_endpoint
from .trace import SCHEMA, Outcome, Trace, trace

__all__ = ["ORIGINS", "SCHEMA", "Assumption", "Outcome", "Packet", "Step", "Trace", "split_endpoint", "trace"]
