"""`gatewarden asn`: import IP-to-ASN tables, look addresses up, fill ASNs on ingested requests."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gatewarden.cli.common import ConfigOption, DbOption, QuietOption, err, handles_errors, load, out
from gatewarden.db import connect, scalar
from gatewarden.enrich.asn_import import FORMATS, import_asn_files
from gatewarden.enrich.asn_lookup import enrich_requests, lookup_ips
from gatewarden.enrich.hosting import hosting_asn_sql

asn_app = typer.Typer(help="IP-to-ASN tables: import, look up, enrich requests.", no_args_is_help=True)


@asn_app.command("import")
@handles_errors
def import_(
    files: Annotated[list[Path], typer.Argument(help="Table files (gzip read as is). A pyasn asnames JSON names the ASNs "
                                                     "of the pyasn .dat files given with it.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help=f"auto, {', '.join(FORMATS[:4])}. `auto` sniffs each file.")] = "auto",
    replace: Annotated[bool, typer.Option("--replace", help="Drop every imported range first (default: replace only "
                                                            "ranges from files of the same name).")] = False,
    no_enrich: Annotated[bool, typer.Option("--no-enrich", help="Do not fill ASNs on already-ingested requests.")] = False,
    db: DbOption = None,
    config: ConfigOption = None,
    quiet: QuietOption = False,
) -> None:
    """Load IP-to-ASN tables: iptoasn.com TSV, ip-location-db CSV, MaxMind GeoLite2-ASN CSV, pyasn .dat.

    Overlapping ranges are resolved (the narrower wins), so every address maps to one ASN. Afterwards,
    requests already ingested without an ASN get one (see --no-enrich).

    Example: gatewarden asn import asn-ipv4.csv.gz asn-ipv6.csv.gz
    """
    cfg = load(config, db)
    con = connect(cfg.database)
    try:
        started = time.monotonic()
        results = import_asn_files(con, files, fmt, replace)
        seconds = time.monotonic() - started
        total = scalar(con, "SELECT count(*) FROM asn_ranges")
        updated = 0 if no_enrich else enrich_requests(con)
    finally:
        con.close()
    if not quiet:
        table = Table(title="asn import", title_justify="left")
        for col in ("file", "format", "rows", "ranges", "not routed", "invalid"):
            table.add_column(col, justify="left" if col in ("file", "format") else "right")
        for r in results:
            table.add_row(r.path.name, r.format, f"{r.rows:,}", f"{r.ranges:,}", f"{r.not_routed:,}",
                          f"[red]{r.invalid:,}[/]" if r.invalid else "0")
        out.print(table)
        out.print(f"{total:,} disjoint ranges in the database ({seconds:.1f} s); "
                  f"{updated:,} requests given an ASN.")
    for r in results:
        for example in r.examples:
            err.print(f"[yellow]warning:[/] {r.path.name}: skipped row: {example}")


@asn_app.command("lookup")
@handles_errors
def lookup(
    ips: Annotated[list[str], typer.Argument(help="IPv4 or IPv6 addresses.")],
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Print ASN, organisation, country and hosting/VPN flags of addresses from the imported tables."""
    cfg = load(config, db)
    con = connect(cfg.database)
    try:
        found = lookup_ips(con, ips)
        flags = {r[0]: (r[1], r[2]) for r in con.execute(
            f"SELECT asn, is_hosting, is_vpn FROM ({hosting_asn_sql(cfg.enrich)}) f").fetchall()}
        empty = not scalar(con, "SELECT count(*) FROM asn_ranges")
    finally:
        con.close()
    if empty:
        err.print("[yellow]warning:[/] no ASN table imported yet; run `gatewarden asn import FILE`.")
    table = Table(title="asn lookup", title_justify="left")
    for col in ("ip", "asn", "as_org", "country", "hosting", "vpn", "source"):
        table.add_column(col)
    for row in found:
        if not row["valid"]:
            table.add_row(row["ip"], "[red]not an IP address[/]", "", "", "", "", "")
            continue
        hosting, vpn = flags.get(row["asn"], (False, False))
        table.add_row(row["ip"], str(row["asn"] or "-"), row["as_org"] or "-", row["country"] or "-",
                      "yes" if hosting else "no", "yes" if vpn else "no", row["source"] or "-")
    out.print(table)
    if any(not r["valid"] for r in found):
        raise typer.Exit(1)


@asn_app.command("enrich")
@handles_errors
def enrich(db: DbOption = None, config: ConfigOption = None, quiet: QuietOption = False) -> None:
    """Fill asn, as_org and country on ingested requests that lack them, from the imported tables."""
    cfg = load(config, db)
    con = connect(cfg.database)
    try:
        updated = enrich_requests(con)
    finally:
        con.close()
    if not quiet:
        out.print(f"{updated:,} requests given an ASN.")


def register(app: typer.Typer) -> None:
    app.add_typer(asn_app, name="asn")
