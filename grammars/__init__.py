"""Lark grammars, one per input format (installed as kubechain.grammars)."""
