"""The `kubechain` command: a thin click layer over the library (no logic of its own).

One module per command (analyze, sample, …); what they share (output options, exit statuses,
the loop over inputs with its error documents, interrupts, encoding, progress) is in
:mod:`kubechain.cli.common`. A new command is a module here with a click command, added to
:data:`main` below, that uses those helpers.
"""

from __future__ import annotations

import click

from .analyze import analyze
from .common import Group
from .fleet import fleet
from .sample import sample
from .simulate import simulate
from .trace import trace


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             epilog="\b\nRun 'kubechain COMMAND -h' for a command's options, examples and exit statuses.\n"
                    "Shell completion (bash, zsh, fish): see README, 'Shell completion'.")
@click.version_option(package_name="kubechain", message="%(prog)s %(version)s")
def main() -> None:
    """Where kube-proxy sends your traffic, exactly: reads iptables dumps (iptables -L, -S,
    iptables-save) and gives each Service endpoint's exact share of new connections."""


main.add_command(analyze)
main.add_command(sample)
main.add_command(simulate)
main.add_command(fleet)
main.add_command(trace)

if __name__ == "__main__":
    main()
