"""Email pseudonyms: a valid address with a keyed name-like local part.

The local part never keeps a 4-character run of the original (a deterministic retry
picks another candidate).  Public webmail domains are kept - they say nothing about the
person and keep "which provider" statistics useful; any other domain gets a keyed label
derived from the domain alone, so everyone at one company still shares one domain.
"""

from __future__ import annotations

from veil.mask.base import MaskContext, shares_run
from veil.mask.formats import generic, lists

_ATTEMPTS = 16


def _tld(domain: str) -> tuple[str, str]:
    """(label part, kept suffix): ``mail.acme.co.uk`` -> (``mail.acme``, ``co.uk``)."""
    parts = domain.split(".")
    if len(parts) < 2:
        return domain, ""
    if len(parts) >= 3 and len(parts[-1]) == 2 and len(parts[-2]) <= 3:
        return ".".join(parts[:-2]), ".".join(parts[-2:])
    return ".".join(parts[:-1]), parts[-1]


def _local(ctx: MaskContext, address: str, original_local: str) -> str:
    first, last = lists.ascii_first_names(), lists.ascii_last_names()
    data = address.encode("utf-8", "surrogatepass")
    for attempt in range(_ATTEMPTS):
        x = int.from_bytes(ctx.draw("pseudonymize/email", data, attempt), "big")
        x, a = divmod(x, len(first))
        x, b = divmod(x, len(last))
        cand = f"{first[a]}.{last[b]}{x % 100:02d}".lower()
        if not shares_run(original_local, cand):
            return cand
    return "u" + generic.token(ctx, "pseudonymize/email", address, 12, avoid=original_local)


def _domain(ctx: MaskContext, domain: str) -> str:
    lower = domain.lower()
    if lower in ctx.webmail:
        return domain
    memo_key = ("email-domain", ctx.key_id, lower)
    found = ctx.memo.get(memo_key)
    if found is None:
        found = _new_domain(ctx, lower)
        ctx.remember(memo_key, found)
    return str(found)


def _new_domain(ctx: MaskContext, domain: str) -> str:
    label, suffix = _tld(domain)
    last = lists.ascii_last_names()
    for attempt in range(_ATTEMPTS):
        s = ctx.stream("pseudonymize/email-domain", domain, attempt)
        cand = f"{last[s.below(len(last))].lower()}-{s.below(1000):03d}"
        if not shares_run(label, cand):
            return f"{cand}.{suffix}" if suffix else cand
    return generic.token(ctx, "pseudonymize/email-domain", domain, 10, avoid=label) + \
        (f".{suffix}" if suffix else "")


def pseudonymize(ctx: MaskContext, value: str) -> str:
    stripped = value.strip()
    local, at, domain = stripped.rpartition("@")
    if not at or not local or not domain:
        return generic.pseudonymize(ctx, "email", value)
    masked = f"{_local(ctx, stripped.casefold(), local)}@{_domain(ctx, domain)}"
    return value.replace(stripped, masked, 1) if stripped != value else masked


def partial(value: str) -> str:
    """``j***@example.com``: the first character of the local part and the domain."""
    local, at, domain = value.rpartition("@")
    if not at or not local:
        return "*" * len(value)
    return f"{local[0]}***@{domain}"
