"""The landed services (policy, authorizer, mask planner, audit) joined into a Pipeline, for tests.

Until the lead's ``VeilPipeline`` exists this is how the agent front ends are tested
against real decisions, real maskers and a real signed audit trail.  It composes
the services' own ``from_settings`` constructors and adds nothing of its own, so a
result here is the services' behaviour, not a test double's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from veil.config import Settings
from veil.pipeline.audit import AuditService
from veil.pipeline.authorize import Authorizer
from veil.pipeline.hooks import Request, RowMasker, Session
from veil.pipeline.masking import MaskPlanner
from veil.policy import PolicySet
from veil.sql import Catalog
from veil.values import ColumnInfo, Decision


class ComposedPipeline:
    def __init__(self, settings: Settings, catalog: Catalog | None = None) -> None:
        self.policies = PolicySet.from_settings(settings)
        self.authorizer = Authorizer(self.policies, catalog=catalog, column_tags=settings.columns)
        self.planner = MaskPlanner.from_settings(settings)
        self.audit = AuditService.from_settings(settings, mask_engine=self.planner.engine)

    def close(self) -> None:
        self.audit.writer.close()

    def _session_decision(self, session: Session) -> Decision:
        policy = self.policies.match(session.identity, client_addr=session.client_addr)
        if policy is None:
            return Decision(allowed=False, policy=None, mask=(("default", "redact"),))
        return Decision(allowed=True, policy=policy.name, access=policy.access,
                        mask=tuple(policy.mask.items()))

    def open_session(self, session: Session) -> None:
        self.audit.record_session(session, "connect")

    def close_session(self, session: Session) -> None:
        self.authorizer.forget_session(session)
        self.audit.record_session(session, "disconnect")

    def auth_failed(self, session: Session, why: str) -> None:
        return None

    def upstream_parameters(self, session: Session) -> dict[str, str]:
        read_only = self._session_decision(session).access != "read-write"
        return {"default_transaction_read_only": "on"} if read_only else {}

    def authorize(self, request: Request) -> Decision:
        return self.authorizer.authorize(request)

    def plan_mask(self, request: Request, columns: Sequence[ColumnInfo]) -> RowMasker | None:
        assert request.decision is not None
        return self.planner.plan(request.decision, columns,
                                 lineage=self.authorizer.lineage_for(request, columns))

    def mask_fields(self, session: Session, fields: Mapping[str, str]) -> dict[str, str]:
        return self.planner.mask_fields(self._session_decision(session), fields)

    def mask_notification(self, session: Session, channel: str, payload: str) -> str:
        return self.planner.mask_notification(self._session_decision(session), payload)

    def finish(self, request: Request) -> None:
        self.audit.record_request(request)
