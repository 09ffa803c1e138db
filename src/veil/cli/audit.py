"""``veil audit verify|tail|search|export|prove``: check and read the trail.

Every read is itself recorded (an ``audit_read`` event under a per-invocation
origin, so concurrent readers never contend for one sequence) when the signing
key is at hand; an auditor holding only ``audit.pub`` can verify a copy offline.
"""

from __future__ import annotations

import getpass
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from veil.audit.checkpoint import Verifier, read_notes
from veil.audit.query import EventFilter, build_proof, check_proof, decoded, parse_when
from veil.audit.sinks import Sink, open_sink
from veil.audit.verify import VerifyResult, verify_log
from veil.config import Settings, load_config
from veil.errors import AuditError, AuditIntegrityError, ConfigError, VeilError
from veil.values import Identity

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Trail:
    """Where the trail is and which keys count, from ``-c`` and/or ``--store``/``--key``."""

    settings: Settings | None
    store: str | None
    key: Path | None
    _sink: Sink | None = field(default=None, repr=False)

    def sink(self) -> Sink:
        if self._sink is None:
            if self.store:
                base = self.settings.source.parent if self.settings and self.settings.source else None
                sink = open_sink(self.store, base_dir=base, readonly=True)
            elif self.settings is not None:
                from veil.audit.setup import open_store

                sink = open_store(self.settings, readonly=True)
            else:
                raise click.UsageError("say where the trail is: -c veil.yaml or --store URL")
            sink.open()
            self._sink = sink
        return self._sink

    def verifiers(self) -> list[Verifier]:
        from veil.audit.setup import load_verifiers

        if self.key is None and (self.settings is None or not self.settings.keys.audit_signing):
            return self.keys_named_in_trail()
        return load_verifiers(self.settings, self.key)

    def keys_named_in_trail(self) -> list[Verifier]:
        """No key given: trust the key lines of the trail's own checkpoints (first use), and say so."""
        from veil.audit.checkpoint import parse_note

        sink = self.sink()
        vkeys = sorted({k for o in sink.origins() for n in sink.notes(o)
                        if (k := parse_note(n).checkpoint.extension("key"))})
        if not vkeys:
            raise ConfigError("no audit public key: pass --key audit.pub or -c veil.yaml",
                              key="keys.audit_signing")
        return trust_on_first_use(vkeys)

    def anchor_notes(self) -> list[str]:
        if self.settings is None:
            return []
        from veil.audit.setup import anchor_path

        path = anchor_path(self.settings)
        return read_notes([path]) if path is not None and path.exists() else []

    def record_read(self, command: str, *, required: bool, **details: object) -> None:
        """Write an ``audit_read`` event; refuse the read when it cannot be written and ``required``."""
        if self.settings is None or not self.settings.keys.audit_signing:
            click.echo("note: this read is not recorded in the trail (no signing key configured)", err=True)
            return
        from veil.audit.setup import derive_key, load_signer, open_writer
        from veil.pipeline.audit import AuditService

        try:
            writer = open_writer(self.settings, command=f"audit-{command}")
            service = AuditService(writer, reason_key=derive_key(load_signer(self.settings), "reason"))
            fields = {"command": command, **{k: v for k, v in details.items() if v is not None}}
            service.record_event("audit_read", identity=Identity(f"os:{getpass.getuser()}"), details=fields)
            service.close()
        except VeilError as exc:
            if required:
                raise AuditError(f"refusing to read: the read could not be recorded ({exc})") from exc
            click.echo(f"warning: this read could not be recorded: {exc}", err=True)

    def close(self) -> None:
        if self._sink is not None:
            self._sink.close()


def trust_on_first_use(vkeys: list[str]) -> list[Verifier]:
    click.echo(f"warning: no --key given; trusting the key(s) the trail itself names: {', '.join(vkeys)}. "
               "Pin audit.pub with --key for tamper evidence against a forger.", err=True)
    return [Verifier.from_vkey(k) for k in vkeys]


def trail_options(fn: F) -> F:
    fn = click.option("--key", type=click.Path(dir_okay=False, path_type=Path),
                      help="Trusted public key (audit.pub PEM, or a note verifier key).")(fn)
    fn = click.option("--store", help="Store URL, overriding audit.store (sqlite:///..., postgresql://...).")(fn)
    fn = click.option("-c", "--config", type=click.Path(dir_okay=False, path_type=Path), envvar="VEIL_CONFIG",
                      help="veil.yaml (also from VEIL_CONFIG).")(fn)
    return fn


def open_trail(config: Path | None, store: str | None, key: Path | None) -> Trail:
    settings = load_config(config) if config is not None else None
    return Trail(settings, store, key)


def filter_from(identity: str | None, table: str | None, data_type: str | None, event: str | None,
                since: str | None, until: str | None) -> EventFilter:
    try:
        return EventFilter(identity, table, data_type, event, parse_when(since) if since else None,
                           parse_when(until) if until else None)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def iter_events(trail: Trail, flt: EventFilter) -> Iterator[tuple[str, bytes, dict[str, Any]]]:
    sink = trail.sink()
    for origin in sink.origins():
        for stored, body in decoded(sink.events(origin)):
            if flt.matches(body):
                yield origin, stored.data, body


def summary_line(body: dict[str, Any]) -> str:
    ident = (body.get("identity") or {}).get("subject", "-")
    st = body.get("statement") or {}
    out = body.get("outcome") or {}
    what = st.get("sql") or ",".join(f"{k}={v}" for k, v in (body.get("details") or {}).items())
    status = out.get("status", "")
    where = f"{body.get('node')}#{body.get('seq')}"
    return f"{body.get('time')} {where} {body.get('type')} {ident} {status} {what}"


@click.group()
def audit() -> None:
    """Verify, read and prove the audit trail.

    \b
    Examples:
      veil audit verify -c veil.yaml
      veil audit search -c veil.yaml --identity agent --since 24h
      veil audit prove -c veil.yaml 3f2c...   > proof.json
    """


@audit.command()
@trail_options
@click.option("--trusted-checkpoint", "trusted", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="A checkpoint note (or anchor file/directory) kept elsewhere that the trail must match.")
@click.option("--live", is_flag=True, help="Tolerate events after the last checkpoint (node still writing).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def verify(config: Path | None, store: str | None, key: Path | None,
           trusted: tuple[Path, ...], live: bool, fmt: str) -> None:
    """Recompute every root, check every checkpoint signature, gaps and time order.

    Exit 0 only if every log in the store is intact; exit 1 naming the first bad event.
    Example: veil audit verify -c veil.yaml --trusted-checkpoint /mnt/witness
    """
    trail = open_trail(config, store, key)
    verifiers = trail.verifiers()
    trail.record_read("verify", required=False)
    trusted_notes = read_notes(list(trusted)) + trail.anchor_notes()
    try:
        results = verify_store(trail.sink(), verifiers, trusted_notes, allow_open_tail=live)
        if any(r.problem is not None and r.problem.unsigned_tail for r in results):
            time.sleep(2.5)  # a running writer signs its newest events within a checkpoint interval
            results = verify_store(trail.sink(), verifiers, trusted_notes, allow_open_tail=live)
    finally:
        trail.close()
    if fmt == "json":
        click.echo(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        forks = [r for r in results if "~" in r.origin and r.ok and not r.warnings]
        if forks:  # one-shot logs of CLI reads and commands: one line, not hundreds
            click.echo(f"{len(forks)} one-shot logs (audited reads and commands, <node>~<id>): all intact, "
                       f"{sum(r.events for r in forks)} events")
        for r in results:
            if r in forks:
                continue
            if r.ok:
                click.echo(f"{r.origin}: intact, {r.events} events, {r.checkpoints} checkpoints"
                           + (f", root {r.root.hex()}" if r.root else ""))
            else:
                click.echo(f"{r.origin}: FAILED at {r.problem}")
            for w in r.warnings:
                click.echo(f"{r.origin}: warning: {w}")
    if not results:
        click.echo("the trail is empty", err=True)
    bad = next((r for r in results if r.problem is not None), None)
    if bad is not None and bad.problem is not None:  # VeilError -> exit 1 however the CLI was started
        raise AuditIntegrityError(f"{bad.origin}: {bad.problem}", seq=bad.problem.seq,
                                  event_id=bad.problem.event_id)


def verify_store(sink: Sink, verifiers: list[Verifier], trusted: list[str], *,
                 allow_open_tail: bool = False) -> list[VerifyResult]:
    """Verify every log in a store; a trusted note for a log the store lacks is a failure too."""
    origins = sink.origins()
    results = [verify_log(o, sink.events(o), sink.notes(o), verifiers, trusted=trusted,
                          allow_open_tail=allow_open_tail) for o in origins]
    from veil.audit.checkpoint import parse_note

    for origin in sorted({parse_note(t).checkpoint.origin for t in trusted} - set(origins)):
        results.append(verify_log(origin, [], [], verifiers, trusted=trusted))
    return results


@audit.command()
@trail_options
@click.option("-n", "--lines", default=20, show_default=True, help="How many of the latest events.")
@click.option("--format", "fmt", type=click.Choice(["text", "jsonl"]), default="text")
def tail(config: Path | None, store: str | None, key: Path | None, lines: int, fmt: str) -> None:
    """The latest events.  Example: veil audit tail -c veil.yaml -n 50"""
    trail = open_trail(config, store, key)
    trail.record_read("tail", required=True, lines=lines)
    try:
        latest = sorted(iter_events(trail, EventFilter()), key=lambda x: str(x[2].get("time")))[-lines:]
    finally:
        trail.close()
    for _, data, body in latest:
        click.echo(data.decode() if fmt == "jsonl" else summary_line(body))


@audit.command()
@trail_options
@click.option("--identity", help="Subject or actor in the delegation chain.")
@click.option("--table", help="Table read or written (schema.table or table).")
@click.option("--type", "data_type", help="Sensitive data type reached (email, credit_card, ...).")
@click.option("--event", help="Event type (request, connect, auth_failure, audit_read, ...).")
@click.option("--since", help="ISO 8601 time or relative (24h, 7d).")
@click.option("--until", help="ISO 8601 time or relative (exclusive).")
@click.option("--format", "fmt", type=click.Choice(["text", "jsonl"]), default="text")
def search(config: Path | None, store: str | None, key: Path | None, identity: str | None, table: str | None,
           data_type: str | None, event: str | None, since: str | None, until: str | None, fmt: str) -> None:
    """Events matching every criterion given.

    Example: veil audit search -c veil.yaml --type email --since 7d
    """
    flt = filter_from(identity, table, data_type, event, since, until)
    trail = open_trail(config, store, key)
    trail.record_read("search", required=True, identity=identity, table=table, type=data_type, event=event,
                      since=flt.since, until=flt.until)
    try:
        for _, data, body in iter_events(trail, flt):
            click.echo(data.decode() if fmt == "jsonl" else summary_line(body))
    finally:
        trail.close()


@audit.command()
@trail_options
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
@click.option("--since", help="ISO 8601 time or relative (24h, 7d).")
@click.option("--until", help="ISO 8601 time or relative (exclusive).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File (else stdout).")
def export(config: Path | None, store: str | None, key: Path | None, fmt: str, since: str | None,
           until: str | None, output: Path | None) -> None:
    """Every event as its canonical JSON, one per line (the exact bytes the tree commits to).

    Example: veil audit export -c veil.yaml --format jsonl -o trail.jsonl
    """
    flt = filter_from(None, None, None, None, since, until)
    trail = open_trail(config, store, key)
    trail.record_read("export", required=True, since=flt.since, until=flt.until)
    out = output.open("w", encoding="utf-8") if output else sys.stdout
    try:
        for _, data, _ in iter_events(trail, flt):
            out.write(data.decode() + "\n")
    finally:
        trail.close()
        if output:
            out.close()


@audit.command()
@trail_options
@click.argument("event_id", required=False)
@click.option("--check", "check_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Check a proof file offline instead of making one.")
def prove(config: Path | None, store: str | None, key: Path | None, event_id: str | None,
          check_file: Path | None) -> None:
    """An inclusion proof of one event against the latest checkpoint covering it (JSON).

    \b
    Examples:
      veil audit prove -c veil.yaml 3f2c9a...  > proof.json
      veil audit prove --key audit.pub --check proof.json
    """
    from veil.audit.query import InclusionProof

    trail = open_trail(config, store, key)
    if check_file is not None:
        proof = InclusionProof.from_dict(json.loads(check_file.read_text()))
        if key is None and (trail.settings is None or not trail.settings.keys.audit_signing):
            from veil.audit.checkpoint import parse_note

            named = parse_note(proof.checkpoint).checkpoint.extension("key")
            verifiers = trust_on_first_use([named] if named else [])
        else:
            verifiers = trail.verifiers()
        check_proof(proof, verifiers)  # AuditIntegrityError -> exit 1
        click.echo(f"event {proof.event_id} (seq {proof.seq}) is in {proof.origin} "
                   f"at tree size {proof.tree_size}: proof valid")
        return
    if not event_id:
        raise click.UsageError("give an EVENT_ID, or --check FILE")
    verifiers = trail.verifiers()
    trail.record_read("prove", required=True, event_id=event_id)
    try:
        sink = trail.sink()
        for origin in sink.origins():
            events = list(sink.events(origin))
            if any(e.event_id == event_id for e in events):
                try:
                    proof = build_proof(origin, events, sink.notes(origin), event_id)
                except LookupError as exc:
                    raise AuditError(str(exc)) from None
                check_proof(proof, verifiers)
                click.echo(json.dumps(proof.as_dict(), indent=2))
                return
    finally:
        trail.close()
    raise ConfigError(f"no event {event_id} in the trail")
