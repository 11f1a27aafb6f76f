"""`python -m kubechain.cli`: the same command as `kubechain`."""

from . import main

main()
