"""Prometheus metrics for the one path, on a registry the ``Metrics`` object owns.

No process-global registry: every ``Metrics`` is independent, so two veils in one
test process (or a reload) never share or double-register counters.  Label values
are closed vocabularies (front end, decision, data type, phase) - never identities,
SQL or values - so cardinality stays bounded and nothing sensitive is exported.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from veil.pipeline.hooks import Request
from veil.values import MaskProvenance

# Latency buckets in seconds: authorize/mask are sub-millisecond, upstream reaches seconds.
_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
            1.0, 2.5, 5.0, 10.0, 30.0)
PHASES = ("authorize", "mask", "upstream")


class Metrics:
    """Counters, gauges and histograms for connections, statements, masking, audit and latency."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.connections = Counter("veil_connections", "Sessions opened, by front end",
                                   ["frontend"], registry=r)
        self.active_connections = Gauge("veil_active_connections", "Sessions open now, by front end",
                                        ["frontend"], registry=r)
        self.auth_failures = Counter("veil_auth_failures", "Failed authentications, by front end",
                                     ["frontend"], registry=r)
        self.statements = Counter("veil_statements", "Requests finished, by front end and decision",
                                  ["frontend", "decision"], registry=r)
        self.rows = Counter("veil_rows", "Rows returned to clients, by front end", ["frontend"], registry=r)
        self.masked_values = Counter("veil_masked_values", "Values masked, by data type and method",
                                     ["type", "method"], registry=r)
        self.audit_events = Counter("veil_audit_events", "Audit events written, by outcome",
                                    ["result"], registry=r)
        self.audit_lag = Gauge("veil_audit_lag_seconds",
                               "Age of the oldest audit event not yet durably stored", registry=r)
        self.latency = Histogram("veil_latency_seconds", "Time spent per phase of a request",
                                 ["phase"], buckets=_BUCKETS, registry=r)
        # labels() validates and locks on every call (~1.5 us); the per-request path runs
        # several, so label children are kept here (label vocabularies are closed: bounded)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        for phase in PHASES:  # export zero series up front so dashboards see every phase
            self._child(self.latency, phase)

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    # -- sessions ------------------------------------------------------------------------
    def session_opened(self, frontend: str) -> None:
        self._child(self.connections, frontend).inc()
        self._child(self.active_connections, frontend).inc()

    def session_closed(self, frontend: str) -> None:
        self._child(self.active_connections, frontend).dec()

    def auth_failed(self, frontend: str) -> None:
        self._child(self.auth_failures, frontend).inc()

    # -- requests ------------------------------------------------------------------------
    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        """Observe the duration of the ``with`` body under ``phase`` (even when it raises)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self._child(self.latency, phase).observe(time.perf_counter() - start)

    def request_finished(self, request: Request) -> None:
        """Count one finished request: its decision, rows and masked values."""
        decision = {"ok": "allowed", "refused": "refused", "error": "failed"}[request.outcome.status]
        frontend = request.session.frontend
        self._child(self.statements, frontend, decision).inc()
        if request.outcome.rows:
            self._child(self.rows, frontend).inc(request.outcome.rows)
        self.masked(request.provenance())

    def masked(self, provenance: list[MaskProvenance]) -> None:
        for p in provenance:
            if p.count and p.method != "none":
                self._child(self.masked_values, p.type or "unknown", p.method).inc(p.count)

    # -- audit ---------------------------------------------------------------------------
    def audit_recorded(self, ok: bool = True) -> None:
        self._child(self.audit_events, "ok" if ok else "failed").inc()

    def set_audit_lag(self, seconds: float) -> None:
        self.audit_lag.set(max(0.0, seconds))

    def track_audit_lag(self, lag: Callable[[], float]) -> None:
        """Read the lag from ``lag()`` at every scrape (e.g. the audit writer's oldest queued event)."""
        self.audit_lag.set_function(lambda: max(0.0, lag()))

    # -- exposition ----------------------------------------------------------------------
    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)
