"""The compliance report, from the trail alone: a JSON document and a self-contained HTML page.

Sections follow what an auditor asks for: who reached which sensitive data types
(SOC 2 CC6.1/CC7.2, HIPAA 164.312(b), GDPR Art. 30), access with a stated reason
(break-glass), refused attempts, agents vs humans, policy versions in force, and
whether the trail itself verified over the period.  Charts are inline SVG, so the
page opens anywhere without a network.  Only what events hold is shown: subjects,
tables, types, counts, masked reasons; never a data value.
"""

from __future__ import annotations

import html
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

UNMASKED = frozenset({"none"})


def build_report(bodies: Iterable[dict[str, Any]], verification: Sequence[dict[str, Any]], *,
                 since: str | None = None, until: str | None = None, generated: str = "") -> dict[str, Any]:
    per_hour: dict[str, Counter[str]] = defaultdict(Counter)
    types_by_identity: dict[str, Counter[str]] = defaultdict(Counter)
    masked: Counter[str] = Counter()
    unmasked: Counter[str] = Counter()
    refusals: list[dict[str, Any]] = []
    refused_by_hour: Counter[str] = Counter()
    reasons: list[dict[str, Any]] = []
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    policies: dict[str, dict[str, Any]] = {}
    events_by_type: Counter[str] = Counter()
    first = last = None
    for body in bodies:
        when = str(body.get("time", ""))
        first = when if first is None else min(first, when)
        last = when if last is None else max(last, when)
        etype = str(body.get("type"))
        events_by_type[etype] += 1
        ident = body.get("identity") or {}
        who = str(ident.get("subject", "?"))
        kind = str(ident.get("kind", "unknown"))
        if etype == "auth_failure":
            refusals.append({"time": when, "identity": who, "what": "authentication failed", "rules": []})
            refused_by_hour[when[:13]] += 1
        if etype == "policy_change":
            details = body.get("details") or {}
            policies.setdefault(str(details.get("digest", "?")), {"first": when, "last": when, "requests": 0})
        if etype != "request":
            continue
        statement = body.get("statement") or {}
        decision = body.get("decision") or {}
        outcome = body.get("outcome") or {}
        per_hour[when[:13]][str(statement.get("kind", "unknown"))] += 1
        k = kinds[kind]
        k["requests"] += 1
        k["rows"] += int(outcome.get("rows") or 0)
        for m in body.get("masking") or []:
            dtype = m.get("type")
            if not dtype:
                continue
            types_by_identity[who][str(dtype)] += int(m.get("count") or 0) or 1
            (unmasked if m.get("method") in UNMASKED else masked)[str(dtype)] += int(m.get("count") or 0)
            k["sensitive_columns"] += 1
        if outcome.get("status") == "refused" or decision.get("allowed") is False:
            k["refused"] += 1
            refused_by_hour[when[:13]] += 1
            what = statement.get("sql") or statement.get("kind")
            refusals.append({"time": when, "identity": who, "what": what,
                             "policy": decision.get("policy"), "rules": decision.get("rule_ids", []),
                             "reasons": decision.get("reasons", [])})
        reason = body.get("reason")
        if reason:
            reasons.append({"time": when, "identity": who, "kind": kind, "policy": decision.get("policy"),
                            "tables": statement.get("tables_read", []), "reason": reason.get("masked"),
                            "reason_hmac": reason.get("hmac"),
                            "unmasked_types": sorted({str(m.get("type")) for m in body.get("masking") or []
                                                      if m.get("type") and m.get("method") in UNMASKED})})
        digest = str(decision.get("policy_hash") or "")
        if digest:
            p = policies.setdefault(digest, {"first": when, "last": when, "requests": 0})
            p["first"], p["last"] = min(p["first"], when), max(p["last"], when)
            p["requests"] += 1
    return {
        "period": {"since": since, "until": until, "first_event": first, "last_event": last},
        "generated": generated,
        "verification": {"ok": all(v.get("ok") for v in verification), "logs": list(verification)},
        "events": dict(sorted(events_by_type.items())),
        "statements_over_time": {h: dict(c) for h, c in sorted(per_hour.items())},
        "sensitive_access": {who: dict(c.most_common()) for who, c in sorted(types_by_identity.items())},
        "masked_vs_unmasked": {"masked": dict(masked.most_common()),
                               "unmasked": dict(unmasked.most_common())},
        "reasoned_access": reasons,
        "refused": {"count": len(refusals), "by_hour": dict(sorted(refused_by_hour.items())),
                    "attempts": refusals[-500:]},
        "agents_vs_humans": {kind: dict(c) for kind, c in sorted(kinds.items())},
        "policy_versions": [{"digest": d, **v}
                            for d, v in sorted(policies.items(), key=lambda kv: kv[1]["first"])],
    }


# -- HTML --------------------------------------------------------------------------------------
COLORS = ("#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6", "#dd4477", "#66aa00")


def _e(value: object) -> str:
    return "-" if value is None else html.escape(str(value), quote=True)


def bar_chart(title: str, rows: dict[str, dict[str, int]], *, width: int = 640) -> str:
    """Horizontal stacked bars: one row per key, one colour per series; inline SVG, no script."""
    series = sorted({s for r in rows.values() for s in r})
    if not rows:
        return f"<figure><figcaption>{_e(title)}</figcaption><p>No data in this period.</p></figure>"
    top = max(sum(r.values()) for r in rows.values()) or 1
    label_w, bar_h = 170, 18
    height = bar_h * len(rows) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{_e(title)}">']
    for i, (label, values) in enumerate(rows.items()):
        y = i * bar_h
        parts.append(f'<text x="0" y="{y + 13}" font-size="11">{_e(label[:28])}</text>')
        x = float(label_w)
        for s in series:
            w = (width - label_w - 60) * values.get(s, 0) / top
            if w > 0:
                color = COLORS[series.index(s) % len(COLORS)]
                parts.append(f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{bar_h - 4}" '
                             f'fill="{color}"><title>{_e(s)}: {values[s]}</title></rect>')
                x += w
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 13}" font-size="11">{sum(values.values())}</text>')
    legend_y = bar_h * len(rows) + 20
    for j, s in enumerate(series):
        parts.append(f'<rect x="{label_w + j * 110}" y="{legend_y - 9}" width="10" height="10" '
                     f'fill="{COLORS[j % len(COLORS)]}"/><text x="{label_w + j * 110 + 14}" y="{legend_y}" '
                     f'font-size="11">{_e(s)}</text>')
    parts.append("</svg>")
    return f"<figure><figcaption>{_e(title)}</figcaption>{''.join(parts)}</figure>"


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body or '<tr><td>none</td></tr>'}</tbody></table>"


def _verification_rows(logs: Sequence[dict[str, Any]]) -> list[tuple[object, ...]]:
    """One row per node log; intact one-shot logs (audited reads, commands) folded into one row."""
    forks = [lg for lg in logs if "~" in lg["origin"] and lg["ok"]]
    rows: list[tuple[object, ...]] = [
        (lg["origin"], lg["events"], lg["checkpoints"], lg["problem"] or "intact")
        for lg in logs if lg not in forks]
    if forks:
        rows.append((f"{len(forks)} one-shot logs (audited reads and commands)",
                     sum(f["events"] for f in forks), sum(f["checkpoints"] for f in forks), "intact"))
    return rows


def render_html(report: dict[str, Any]) -> str:
    v = report["verification"]
    period = report["period"]
    status = "VERIFIED" if v["ok"] else "FAILED"
    mv = report["masked_vs_unmasked"]
    types = sorted(set(mv["masked"]) | set(mv["unmasked"]))
    sections = [
        f"<h1>veil audit report</h1><p>Period: {_e(period['since'] or period['first_event'])} to "
        f"{_e(period['until'] or period['last_event'])}. Generated {_e(report['generated'])}.</p>",
        f"<h2>Trail verification</h2><p class=\"{status.lower()}\">{status}</p>" + _table(
            ("log", "events", "checkpoints", "result"), _verification_rows(v["logs"])),
        "<h2>Who accessed which sensitive data types</h2><p>SOC 2 CC6.1 / CC7.2, HIPAA 164.312(b), "
        "GDPR Art. 30.</p>" + bar_chart("Sensitive values reached per identity", report["sensitive_access"]),
        bar_chart("Masked vs unmasked values by type",
                  {t: {"masked": mv["masked"].get(t, 0), "unmasked": mv["unmasked"].get(t, 0)}
                   for t in types}),
        bar_chart("Statements over time (per hour, by kind)", report["statements_over_time"]),
        "<h2>Access with a stated reason (break-glass)</h2>" + _table(
            ("time", "identity", "policy", "tables", "unmasked types", "reason (masked)"),
            ((r["time"], r["identity"], r["policy"], ", ".join(r["tables"]), ", ".join(r["unmasked_types"]),
              r["reason"] if r["reason"] is not None else "(withheld)") for r in report["reasoned_access"])),
        "<h2>Refused attempts</h2>"
        + bar_chart("Refusals per hour", {h: {"refused": n} for h, n in report["refused"]["by_hour"].items()})
        + _table(("time", "identity", "statement", "policy", "rules"),
                 ((r["time"], r["identity"], r.get("what"), r.get("policy"), ", ".join(r.get("rules", [])))
                  for r in report["refused"]["attempts"][-100:])),
        "<h2>Agents vs humans</h2>" + _table(
            ("kind", "requests", "rows", "refused", "sensitive columns"),
            ((k, c.get("requests", 0), c.get("rows", 0), c.get("refused", 0), c.get("sensitive_columns", 0))
             for k, c in report["agents_vs_humans"].items())),
        "<h2>Policy versions in force</h2>" + _table(
            ("policy digest", "first seen", "last seen", "requests"),
            ((p["digest"][:16], p["first"], p["last"], p["requests"]) for p in report["policy_versions"])),
    ]
    style = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse;"
             "margin:1em 0}td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px;text-align:left}"
             ".verified{color:#109618;font-weight:bold}.failed{color:#dc3912;font-weight:bold}"
             "figure{margin:1em 0}figcaption{font-weight:bold}")
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>veil audit report</title>"
            f"<style>{style}</style></head><body>{''.join(sections)}</body></html>\n")
