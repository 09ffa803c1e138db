"""Metrics: own registry per instance, closed label vocabularies, the exposition format."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from veil.pipeline.hooks import Request, Session
from veil.pipeline.metrics import Metrics
from veil.values import Identity, MaskProvenance


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_instances_do_not_share_a_registry() -> None:
    a, b = Metrics(), Metrics()
    a.session_opened("mcp")
    assert samples(a)[("veil_connections_total", (("frontend", "mcp"),))] == 1.0
    assert ("veil_connections_total", (("frontend", "mcp"),)) not in samples(b)


def test_request_finished_counts_decision_rows_and_masked_values() -> None:
    m = Metrics()
    request = Request(Session(Identity("a", kind="agent"), frontend="http"), "SELECT 1")
    request.outcome.rows = 3
    request.outcome.masking = [MaskProvenance("email", "email", "pseudonymize", "k1", count=3),
                               MaskProvenance("id", None, "none", None, count=3)]
    m.request_finished(request)
    refused = Request(Session(Identity("a")), "DELETE FROM t")
    refused.outcome.status = "refused"
    m.request_finished(refused)
    s = samples(m)
    assert s[("veil_statements_total", (("decision", "allowed"), ("frontend", "http")))] == 1.0
    assert s[("veil_statements_total", (("decision", "refused"), ("frontend", "pg")))] == 1.0
    assert s[("veil_rows_total", (("frontend", "http"),))] == 3.0
    assert s[("veil_masked_values_total", (("method", "pseudonymize"), ("type", "email")))] == 3.0
    assert not any(name == "veil_masked_values_total" and ("method", "none") in labels for name, labels in s)


def test_masked_values_also_come_from_the_request_maskers() -> None:
    class Planned:
        def mask_row(self, values: list[bytes | None]) -> list[bytes | None]:
            return values

        def provenance(self) -> list[MaskProvenance]:
            return [MaskProvenance("card", "credit_card", "partial", "k1", count=4)]

    m = Metrics()
    request = Request(Session(Identity("a")), "SELECT card FROM t")
    request.maskers.append(Planned())
    m.request_finished(request)
    assert samples(m)[("veil_masked_values_total", (("method", "partial"), ("type", "credit_card")))] == 4.0


def test_latency_is_observed_even_when_the_phase_raises() -> None:
    m = Metrics()
    with m.timed("mask"):
        pass
    with pytest.raises(RuntimeError), m.timed("upstream"):
        raise RuntimeError("boom")
    s = samples(m)
    assert s[("veil_latency_seconds_count", (("phase", "mask"),))] == 1.0
    assert s[("veil_latency_seconds_count", (("phase", "upstream"),))] == 1.0
    assert s[("veil_latency_seconds_count", (("phase", "authorize"),))] == 0.0


def test_sessions_audit_and_lag() -> None:
    m = Metrics()
    m.session_opened("pg")
    m.session_opened("pg")
    m.session_closed("pg")
    m.auth_failed("pg")
    m.audit_recorded(True)
    m.audit_recorded(False)
    m.set_audit_lag(-1.0)
    s = samples(m)
    assert s[("veil_active_connections", (("frontend", "pg"),))] == 1.0
    assert s[("veil_auth_failures_total", (("frontend", "pg"),))] == 1.0
    assert s[("veil_audit_events_total", (("result", "failed"),))] == 1.0
    assert s[("veil_audit_lag_seconds", ())] == 0.0
    m.set_audit_lag(2.5)
    assert samples(m)[("veil_audit_lag_seconds", ())] == 2.5


def test_audit_lag_can_be_read_at_scrape_time() -> None:
    m = Metrics()
    lag = [0.5]
    m.track_audit_lag(lambda: lag[0])
    assert samples(m)[("veil_audit_lag_seconds", ())] == 0.5
    lag[0] = 3.0
    assert samples(m)[("veil_audit_lag_seconds", ())] == 3.0
