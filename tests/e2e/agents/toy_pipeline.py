"""A small, real Pipeline for testing the agent front ends before the composed one exists.

It makes genuine decisions (veil.sql classifies the statement; agents are
read-only; a reason can be required), masks every column named ``email`` with a
deterministic keyed pseudonym, and records every finished request - so the tests
can check the front ends' guarantees: authorize before execute, finish exactly
once with the outcome filled, masking applied to every row, refusals explained.
When ``VEIL_TOY_AUDIT`` names a file, finished requests are appended there as JSON
lines (the stdio test's view into a subprocess).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from veil.pipeline.hooks import Request, RowMasker, Session
from veil.sql import analyze
from veil.values import ColumnInfo, Decision, MaskProvenance, StatementKind

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def pseudonym(value: bytes) -> bytes:
    return b"user-" + hashlib.sha256(b"toy-key" + value).hexdigest()[:10].encode() + b"@example.com"


class EmailMasker:
    def __init__(self, columns: Sequence[ColumnInfo]) -> None:
        self.positions = [i for i, c in enumerate(columns) if c.name == "email"]
        self.count = 0

    def mask_row(self, values: list[bytes | None]) -> list[bytes | None]:
        out = list(values)
        for i in self.positions:
            if out[i] is not None:
                out[i] = pseudonym(out[i])  # type: ignore[arg-type]
                self.count += 1
        return out

    def provenance(self) -> list[MaskProvenance]:
        return [MaskProvenance(column="email", type="email", method="pseudonymize", key_id="toy",
                               count=self.count, source="name")] if self.positions else []


@dataclass
class ToyPipeline:
    require_reason: bool = False
    max_rows: int | None = None
    confirm_timeout: float = 10.0  # Pipeline protocol: results never wait here (finish returns None)
    finished: list[Request] = field(default_factory=list)
    sessions: list[tuple[str, Session]] = field(default_factory=list)
    auth_failures: list[tuple[Session, str]] = field(default_factory=list)
    audit_file: Path | None = field(default_factory=lambda: Path(os.environ["VEIL_TOY_AUDIT"])
                                    if os.environ.get("VEIL_TOY_AUDIT") else None)

    def open_session(self, session: Session) -> None:
        self.sessions.append(("open", session))

    def close_session(self, session: Session) -> None:
        self.sessions.append(("close", session))

    def auth_failed(self, session: Session, why: str) -> None:
        self.auth_failures.append((session, why))

    def upstream_parameters(self, session: Session) -> dict[str, str]:
        return {"default_transaction_read_only": "on"} if session.identity.kind == "agent" else {}

    def authorize(self, request: Request) -> Decision:
        statements = analyze(request.sql)
        request.statement = statements[0]
        agent = request.session.identity.kind == "agent"
        if agent and any(s.kind is not StatementKind.READ for s in statements):
            return Decision(allowed=False, policy="toy-agents", reasons=(
                f"{statements[0].command or 'statement'} is not a read and the policy is read-only",),
                rule_ids=("read-only",))
        if self.require_reason and not request.effective_reason:
            return Decision(allowed=False, policy="toy-agents", reasons=("a reason is required",),
                            rule_ids=("require-reason",))
        return Decision(allowed=True, policy="toy-agents", access="read-only" if agent else "read-write",
                        mask=(("email", "pseudonymize"),), max_rows=self.max_rows)

    def plan_mask(self, request: Request, columns: Sequence[ColumnInfo]) -> RowMasker | None:
        return EmailMasker(columns) if any(c.name == "email" for c in columns) else None

    def mask_fields(self, session: Session, fields: Mapping[str, str]) -> dict[str, str]:
        return {k: EMAIL.sub(lambda m: pseudonym(m.group().encode()).decode(), v) for k, v in fields.items()}

    def plan_copy(self, request: Request, fmt: int) -> None:
        return None  # COPY masking is the real pipeline's (tests/e2e/test_masking_leaks.py)

    def mask_notification(self, session: Session, channel: str, payload: str) -> str:
        return payload

    def finish(self, request: Request) -> None:
        self.finished.append(request)
        if self.audit_file is not None:
            with self.audit_file.open("a") as f:
                f.write(json.dumps(event(request)) + "\n")


def event(request: Request) -> dict[str, object]:
    """What the stdio test inspects of a finished request (never a value)."""
    return {"subject": request.session.identity.subject, "kind": request.session.identity.kind,
            "frontend": request.session.frontend, "tool": request.tool, "status": request.outcome.status,
            "rows": request.outcome.rows, "reason": request.effective_reason,
            "masked": sum(p.count for m in request.maskers for p in m.provenance())}
