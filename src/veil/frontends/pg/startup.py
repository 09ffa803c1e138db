"""What a client's StartupMessage asks for, sorted into what veil keeps and forwards.

``veil.*`` settings never reach the database (INTERFACE.md); they arrive as startup
parameters or inside ``options`` (``PGOPTIONS='-c veil.reason=TICKET-42'``), so both
places are cleaned.  Protocol options (``_pq_.*``) are not supported and are listed
back in NegotiateProtocolVersion together with the highest minor version (3.0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from veil.wire.pg import messages as m

_NOT_FORWARDED = {"user", "database", "replication"}


@dataclass(frozen=True)
class StartupRequest:
    user: str
    database: str | None
    forwarded: dict[str, str] = field(default_factory=dict)
    veil: dict[str, str] = field(default_factory=dict)
    protocol_options: tuple[str, ...] = ()
    minor_version: int = 0
    replication: str | None = None

    @property
    def needs_negotiation(self) -> bool:
        return self.minor_version > 0 or bool(self.protocol_options)

    def negotiation(self) -> m.NegotiateProtocolVersion:
        return m.NegotiateProtocolVersion(m.PROTOCOL_3_0, self.protocol_options)


def split_options(options: str) -> list[str]:
    """PostgreSQL's ``options`` splitting: whitespace separates, backslash escapes."""
    args: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in options:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch.isspace():
            if current:
                args.append("".join(current))
                current = []
        else:
            current.append(ch)
    if current:
        args.append("".join(current))
    return args


def _join_options(args: list[str]) -> str:
    return " ".join(a.replace("\\", "\\\\").replace(" ", "\\ ") for a in args)


def _strip_veil_options(options: str, veil: dict[str, str]) -> str:
    return _strip_options(options, lambda name: name.startswith("veil."), veil)


def _strip_options(options: str, drop: Callable[[str], bool], taken: dict[str, str]) -> str:
    """``options`` minus the ``-c name=value`` / ``--name=value`` switches ``drop`` picks (into ``taken``)."""
    args = split_options(options)
    kept: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        setting = None
        if arg == "-c" and i + 1 < len(args):
            setting, step = args[i + 1], 2
        elif (arg.startswith("-c") and len(arg) > 2) or arg.startswith("--"):
            setting, step = arg[2:], 1
        name, _, value = (setting or "").partition("=")
        if setting is not None and _ and drop(name.lower().replace("-", "_")):
            taken[name.lower()] = value
            i += step
            continue
        kept.append(arg)
        i += 1
    return _join_options(kept)


def read_startup(msg: m.StartupMessage) -> StartupRequest:
    params = msg.params
    veil: dict[str, str] = {}
    forwarded: dict[str, str] = {}
    protocol_options: list[str] = []
    for name, value in msg.parameters:
        lower = name.lower()
        if lower.startswith("_pq_."):
            protocol_options.append(name)
        elif lower.startswith("veil."):
            veil[lower] = value
        elif lower == "options":
            cleaned = _strip_veil_options(value, veil)
            if cleaned:
                forwarded[name] = cleaned
        elif lower not in _NOT_FORWARDED:
            forwarded[name] = value
    return StartupRequest(
        user=params.get("user", ""),
        database=params.get("database") or None,
        forwarded=forwarded,
        veil=veil,
        protocol_options=tuple(protocol_options),
        minor_version=msg.protocol & 0xFFFF,
        replication=params.get("replication"),
    )


def without_settings(forwarded: dict[str, str], enforced: dict[str, str]) -> dict[str, str]:
    """The client's parameters minus every setting the pipeline enforces.

    A client must not override what veil sets for the session (e.g. read-only): the
    same names are dropped as startup parameters and as ``-c``/``--`` switches in
    ``options``, whichever PostgreSQL would apply last.
    """
    names = {k.lower() for k in enforced}
    if not names:
        return forwarded
    out = {k: v for k, v in forwarded.items() if k.lower() not in names}
    if "options" in out:
        dropped: dict[str, str] = {}
        cleaned = _strip_options(out["options"], lambda name: name in names, dropped)
        if cleaned:
            out["options"] = cleaned
        else:
            del out["options"]
    return out
