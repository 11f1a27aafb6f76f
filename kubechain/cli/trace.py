"""`kubechain trace`: one new packet through a node's tables; every outcome, exactly."""

from __future__ import annotations

import click

from .common import Output, epilog, input_format_option, load_or_exit, output_options

TRACE_OUTPUTS = ("text", "json", "yaml")


@click.command(epilog=epilog(
    "kubechain trace DUMP --dst 10.96.0.10:53 --proto udp --from pod --src 10.244.3.3",
    "kubechain trace DUMP --dst 192.168.77.1:31080 --from external --src 203.0.113.7 --local-address 192.168.77.1",
    "kubechain trace DUMP --dst 10.96.58.223:9090 --from pod --src 10.244.3.3 --returning-client 10.244.5.61:9090",
    "kubechain trace DUMP --dst 10.96.0.1:443 --from node --local-address 192.168.77.1 -o json",
))
@click.argument("dump", type=click.Path(allow_dash=True))
@click.option("--dst", required=True, metavar="IP:PORT", help="Where the packet is sent: [IPv6]:PORT for IPv6.")
@click.option("--proto", type=click.Choice(["tcp", "udp", "sctp"]), default="tcp", show_default=True)
@click.option("--from", "origin", type=click.Choice(["node", "pod", "external"]), default="pod", show_default=True,
              help="node starts at OUTPUT; pod and external at PREROUTING.")
@click.option("--src", default=None, metavar="IP",
              help="The client's address (default: the first --local-address for node; an address outside every "
                   "CIDR the dump names for external; pod needs one).")
@click.option("--sport", type=click.IntRange(1, 65535), default=None, metavar="PORT",
              help="The client's port (only rules that test it need one).")
@click.option("--local-address", "local_addresses", multiple=True, metavar="IP",
              help="An address of the node (repeatable): what addrtype LOCAL and the routing decision test.")
@click.option("--returning-client", default=None, metavar="IP:PORT",
              help="The client already has affinity to this endpoint (recent --rcheck / an nft affinity set hold).")
@click.option("--in-iface", default=None, metavar="NAME", help="The interface the packet comes in on (-i).")
@click.option("--out-iface", default=None, metavar="NAME", help="The interface it leaves on (-o).")
@output_options(TRACE_OUTPUTS)
@input_format_option
def trace(dump: str, dst: str, proto: str, origin: str, src: str | None, sport: int | None,
          local_addresses: tuple[str, ...], returning_client: str | None, in_iface: str | None,
          out_iface: str | None, output: str, quiet: bool, no_color: bool, input_format: str | None) -> None:
    """Follow one new packet through DUMP's tables (nat, then filter on the DNATed destination,
    then POSTROUTING) and print every outcome: its verdict, DNAT destination, exact probability,
    whether it is masqueraded, and the most likely path (table, chain:line). --quiet prints one
    line per outcome."""
    import kubechain

    out = Output(output, quiet, no_color)
    try:
        host, port = kubechain.tracing.split_endpoint(dst)
        if port is None:
            raise ValueError(f"--dst needs a port: {dst}")
        packet = kubechain.Packet(dst=host, dport=port, proto=proto, origin=origin, src=src, sport=sport,
                                  local_addresses=local_addresses, returning_client=returning_client,
                                  in_iface=in_iface, out_iface=out_iface)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    ruleset = load_or_exit(dump, input_format, "trace")
    try:
        result = kubechain.trace(ruleset, packet)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    if out.format in ("json", "yaml"):
        out.documents([kubechain.document(result)])
    elif quiet:
        from kubechain.report.trace_text import render_outcomes
        out.report(render_outcomes(result))
    else:
        from kubechain.report.trace_text import render
        out.report(render(result, out.width))
