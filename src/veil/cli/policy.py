"""``veil policy check`` and ``veil policy explain``.

``check`` validates a config the way ``veil serve`` would (including the checks
the policy layer adds) without starting anything.  ``explain`` shows, for one
identity and one statement, the decision and why, the tables and columns read,
and which output columns are expected to be masked and how.  Without ``--dsn``
there is no catalog, so ``*`` cannot be expanded; masking predictions come from
column tags and names - values are only seen at run time.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Any

import click

from veil.config import Settings, load_config
from veil.detect import category_of, name_hints
from veil.errors import ConfigError, KeyError_, VeilError
from veil.identity import dev_issuer_jwks, file_fetch
from veil.identity.jwks import parse_jwks
from veil.policy import PolicySet
from veil.sql import EMPTY_CATALOG, Catalog, analyze, lineage_all, strip_reason_comment
from veil.values import Decision, Identity, StatementInfo

NAME_HINT_CONFIDENCE = 0.5
_CONFIG = click.option("-c", "--config", "config_path", envvar="VEIL_CONFIG", required=True,
                       type=click.Path(dir_okay=False), help="The veil.yaml (also VEIL_CONFIG).")


@click.group()
def policy() -> None:
    """Check a config; explain a decision."""


@policy.command("check")
@_CONFIG
def check(config_path: str) -> None:
    """Validate a config; exit 0 if valid, 2 with file:line and key if not.

    \b
    Example:
      veil policy check -c veil.yaml
    """
    settings = load_config(config_path)
    policies = PolicySet.from_settings(settings)
    check_identity_files(settings)
    click.echo(f"{config_path}: ok ({len(policies.policies)} policies, "
               f"{len(settings.identity.users)} static identities, policy hash {settings.digest[:12]})")


@policy.command("explain")
@_CONFIG
@click.option("--identity", "name", required=True,
              help="Identity name (a static user, or any name with --groups).")
@click.option("--sql", "sql", required=True, help="The statement(s) to explain.")
@click.option("--groups", default=None,
              help="Groups for an identity not in identity.users (comma-separated).")
@click.option("--kind", type=click.Choice(["human", "agent"]), default=None,
              help="Kind for such an identity.")
@click.option("--reason", default=None, help="The reason the session would carry (veil.reason).")
@click.option("--client-addr", default="127.0.0.1", show_default=True, help="Client address for cidrs.")
@click.option("--dsn", default=None, help="Load the catalog from this database so * and views expand.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def explain(config_path: str, name: str, sql: str, groups: str | None, kind: str | None, reason: str | None,
            client_addr: str, dsn: str | None, fmt: str) -> None:
    """Show the decision for IDENTITY running SQL, the tables and columns read, and the masking.

    \b
    Example:
      veil policy explain -c veil.yaml --identity agent --sql "SELECT * FROM customers"
    """
    settings = load_config(config_path)
    policies = PolicySet.from_settings(settings)
    who = identity_for(settings, name, groups, kind)
    comment_reason, sql = strip_reason_comment(sql)
    statements = analyze(sql)
    decision = policies.evaluate(who, statements, client_addr=client_addr, reason=comment_reason or reason)
    catalog = load_catalog(dsn) if dsn else EMPTY_CATALOG
    report = build_report(settings, who, statements, decision, sql, catalog, with_catalog=dsn is not None)
    if fmt == "json":
        click.echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        print_report(report)
    if not decision.allowed:
        sys.exit(1)  # SystemExit, not click's Exit: `python -m veil` ignores main()'s return value


def check_identity_files(settings: Settings) -> None:
    """A ``file:`` JWKS must parse and an existing dev issuer key must load (serve would fail later)."""
    source = str(settings.source) if settings.source else None
    jwt_settings, dev = settings.identity.jwt, settings.identity.dev_issuer
    if jwt_settings is not None and jwt_settings.jwks.startswith("file:"):
        try:
            parse_jwks(file_fetch(jwt_settings.jwks))
        except (VeilError, ValueError) as exc:
            raise ConfigError(f"unusable JWKS: {exc}", key="identity.jwt.jwks", source=source,
                              line=settings.line_of("identity.jwt.jwks")) from None
    if dev is None:
        return
    try:
        keys = dev_issuer_jwks(dev)["keys"]
    except KeyError_ as exc:
        raise ConfigError(str(exc), key="identity.dev_issuer.key", source=source,
                          line=settings.line_of("identity.dev_issuer.key")) from None
    if not keys:
        click.echo(f"note: the dev issuer key {dev.key[5:]} does not exist yet "
                   "(`veil token issue` creates it)", err=True)


def identity_for(settings: Settings, name: str, groups: str | None, kind: str | None) -> Identity:
    for user in settings.identity.users:
        if user.name == name:
            return Identity(user.name, groups=user.groups, kind=user.kind, source="static")
    group_list = tuple(g.strip() for g in (groups or "").split(",") if g.strip())
    return Identity(name, groups=group_list, kind="agent" if kind == "agent" else "human", source="jwt")


def load_catalog(dsn: str) -> Catalog:
    import psycopg

    from veil.pipeline.authorize import load_catalog as from_rows

    with psycopg.connect(dsn, connect_timeout=10) as conn:
        return from_rows(lambda q: conn.execute(q).fetchall())


def expected_masking(settings: Settings, decision: Decision, sources: frozenset[str],
                     transform: str) -> dict[str, str]:
    """How an output column is expected to be masked, from tags and names (values decide at run time)."""
    mask = decision.mask_map()
    types: list[tuple[str, str]] = []
    for source in sorted(sources):
        tag = settings.columns.get(source)
        if tag is not None:
            types.append((tag, f"tag on {source}"))
            continue
        guesses = [g for g in name_hints(source.rsplit(".", 1)[-1]) if g.confidence >= NAME_HINT_CONFIDENCE]
        if guesses:
            types.append((guesses[0].type, f"name of {source}"))
    types = [t for t in types if t[0] != "none"]
    if not types:
        if sources and all(settings.columns.get(s) == "none" for s in sources):
            return {"method": "none", "why": "tagged clean"}
        default = mask.get("default", "none")
        return {"method": f"{default} if values are detected", "why": "detection at run time"}
    data_type, why = types[0]
    method = mask.get(data_type) or mask.get(category_of(data_type) or "") or mask.get("default", "none")
    if transform == "transformed" and method != "none":
        method, why = "redact", why + "; transformed, shape lost"
    return {"type": data_type, "method": method, "why": why}


def build_report(settings: Settings, who: Identity, statements: tuple[StatementInfo, ...], decision: Decision,
                 sql: str, catalog: Catalog, *, with_catalog: bool) -> dict[str, Any]:
    outputs = lineage_all(sql, catalog) if any(s.kind.value == "read" for s in statements) else []
    columns: list[dict[str, Any]] = []
    for per_statement in outputs:
        for out in per_statement:
            entry: dict[str, Any] = {"name": out.name, "sources": sorted(out.sources),
                                     "transform": out.transform}
            if decision.allowed and out.sources:
                entry["masking"] = expected_masking(settings, decision, out.sources, out.transform)
            columns.append(entry)
    return {
        "identity": {"name": who.subject, "groups": list(who.groups), "kind": who.kind},
        "decision": {**{k: v for k, v in asdict(decision).items() if k != "mask"},
                     "mask": decision.mask_map()},
        "statements": [{"kind": s.kind.value, "command": s.command, "tables_read": sorted(s.tables_read),
                        "tables_written": sorted(s.tables_written), "functions": sorted(s.functions)}
                       for s in statements],
        "columns": columns,
        "catalog": "loaded" if with_catalog else "none (pass --dsn to expand * and views)",
    }


def print_report(report: dict[str, Any]) -> None:
    d = report["decision"]
    who = report["identity"]
    verdict = click.style("ALLOWED", fg="green") if d["allowed"] else click.style("REFUSED", fg="red")
    groups = ", ".join(who["groups"]) or "-"
    click.echo(f"{verdict}  identity {who['name']} ({who['kind']}; groups: {groups})")
    rules = ", ".join(d["rule_ids"])
    click.echo(f"policy: {d['policy'] or '(none matched)'}  access: {d['access']}  rules: {rules}")
    for reason in d["reasons"]:
        click.echo(f"  - {reason}")
    limits = [f"{k}={d[k]}" for k in ("max_rows", "max_bytes", "statement_timeout_ms") if d[k] is not None]
    if limits:
        click.echo("limits: " + ", ".join(limits))
    for s in report["statements"]:
        click.echo(f"statement: {s['command'] or s['kind']} ({s['kind']})")
        for label in ("tables_read", "tables_written", "functions"):
            if s[label]:
                click.echo(f"  {label.replace('_', ' ')}: {', '.join(s[label])}")
    if report["columns"]:
        click.echo("output columns:")
        for c in report["columns"]:
            line = f"  {c['name']} <- {', '.join(c['sources']) or '(no source column)'} [{c['transform']}]"
            if "masking" in c:
                m = c["masking"]
                line += f"  => {m['method']}" + (f" as {m['type']}" if "type" in m else "") + f" ({m['why']})"
            click.echo(line)
    click.echo(f"catalog: {report['catalog']}")
