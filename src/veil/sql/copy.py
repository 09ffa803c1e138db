"""COPY options that decide how a COPY TO STDOUT stream is laid out.

CopyOutResponse says only "text or binary"; whether the text is CSV, and with which
delimiter, NULL marker, quote and escape, is in the statement.  The masking of COPY
rows needs exactly that, so it is read here from PostgreSQL's own parse tree.
"""

from __future__ import annotations

from dataclasses import dataclass

import pglast
from pglast import ast


@dataclass(frozen=True, slots=True)
class CopyFormat:
    """The layout of one COPY data stream (``format`` is text, csv or binary)."""

    format: str = "text"
    delimiter: str | None = None
    null: str | None = None
    quote: str = '"'
    escape: str | None = None
    header: bool = False

    @property
    def csv(self) -> bool:
        return self.format == "csv"


def copy_format(sql: str) -> CopyFormat | None:
    """The layout of the (last) COPY statement in ``sql``; None when there is none or it cannot be parsed."""
    try:
        statements = pglast.parse_sql(sql)
    except pglast.parser.ParseError:
        return None
    found: CopyFormat | None = None
    for raw in statements:
        stmt = raw.stmt
        if not isinstance(stmt, ast.CopyStmt):
            continue
        options: dict[str, str] = {}
        header = False
        for option in stmt.options or ():
            if not isinstance(option, ast.DefElem) or not option.defname:
                continue
            if isinstance(option.arg, ast.String):
                options[option.defname] = str(option.arg.sval)
            if option.defname == "header":  # HEADER, HEADER true, HEADER match
                header = _header_on(option.arg)
        fmt = options.get("format", "text").lower()
        found = CopyFormat(format=fmt, delimiter=options.get("delimiter"), null=options.get("null"),
                           quote=options.get("quote", '"'), escape=options.get("escape"),
                           header=header and fmt == "csv")
    return found


def _header_on(arg: object) -> bool:
    if arg is None:
        return True
    if isinstance(arg, ast.Boolean):
        return bool(arg.boolval)
    if isinstance(arg, ast.String):
        return str(arg.sval).lower() not in ("false", "off", "0")
    if isinstance(arg, ast.Integer):
        return bool(arg.ival)
    return True
