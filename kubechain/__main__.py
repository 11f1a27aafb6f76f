"""`python -m kubechain`: the same command as `kubechain`."""

from .cli import main

main()
