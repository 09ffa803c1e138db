"""COPY TO STDOUT rows in text and CSV format: split into fields, mask, join back.

Only fields that change are rewritten, so NULL markers, quoting and escapes of
untouched fields stay byte-identical.  A changed CSV field is always quoted (a quoted
value is never read as NULL); a changed text-format field is re-escaped.
"""

from __future__ import annotations

from collections.abc import Callable

from veil.errors import MaskingError

_TEXT_UNESCAPE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def _unescape_text(field: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(field):
        ch = field[i]
        if ch != "\\" or i + 1 >= len(field):
            out.append(ch)
            i += 1
            continue
        nxt = field[i + 1]
        if nxt in _TEXT_UNESCAPE:
            out.append(_TEXT_UNESCAPE[nxt])
            i += 2
        elif nxt == "x" and i + 2 < len(field) and field[i + 2] in "0123456789abcdefABCDEF":
            j = i + 2
            while j < len(field) and j < i + 4 and field[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(chr(int(field[i + 2 : j], 16)))
            i = j
        elif nxt in "01234567":
            j = i + 1
            while j < len(field) and j < i + 4 and field[j] in "01234567":
                j += 1
            out.append(chr(int(field[i + 1 : j], 8)))
            i = j
        else:
            out.append(nxt)
            i += 2
    return "".join(out)


def _escape_text(value: str, delimiter: str) -> str:
    out = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    out = out.replace("\b", "\\b").replace("\f", "\\f").replace("\v", "\\v")
    if delimiter not in "\t\\":
        out = out.replace(delimiter, "\\" + delimiter)
    return out


def _split_text(line: str, delimiter: str) -> list[str]:
    """Text-format fields: a delimiter after a backslash is data (``\\|`` with ``DELIMITER '|'``)."""
    if "\\" not in line:
        return line.split(delimiter)
    fields: list[str] = []
    start = i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\":
            i += 2
            continue
        if ch == delimiter:
            fields.append(line[start:i])
            start = i + 1
        i += 1
    fields.append(line[start:])
    return fields


def _split_csv(line: str, delimiter: str, quote: str, escape: str) -> list[tuple[str, bool, str]]:
    """Fields as (raw text, was quoted, value)."""
    fields: list[tuple[str, bool, str]] = []
    i, n = 0, len(line)
    while True:
        start = i
        value: list[str] = []
        quoted = False
        while i < n and line[i] != delimiter:
            if line[i] == quote:
                quoted = True
                i += 1
                while i < n:
                    if line[i] == escape and i + 1 < n and line[i + 1] == quote:
                        value.append(quote)
                        i += 2
                    elif line[i] == escape and escape != quote and i + 1 < n and line[i + 1] == escape:
                        value.append(escape)
                        i += 2
                    elif line[i] == quote:
                        i += 1
                        break
                    else:
                        value.append(line[i])
                        i += 1
            else:
                value.append(line[i])
                i += 1
        fields.append((line[start:i], quoted, "".join(value)))
        if i >= n:
            return fields
        i += 1


def mask_copy_line(line: bytes, mask: Callable[[str], str], *, csv: bool = False,
                   delimiter: str | None = None, null: str | None = None,
                   quote: str = '"', escape: str | None = None) -> bytes:
    """The masked COPY data row ``line`` (one CopyData payload, trailing newline kept), field by field."""
    return mask_copy_fields(line, lambda values: [None if v is None else mask(v) for v in values], csv=csv,
                            delimiter=delimiter, null=null, quote=quote, escape=escape)


def mask_copy_fields(line: bytes, mask_row: Callable[[list[str | None]], list[str | None]], *,
                     csv: bool = False, delimiter: str | None = None, null: str | None = None,
                     quote: str = '"', escape: str | None = None) -> bytes:
    """The masked COPY data row ``line``, masking the whole row at once (column-aware callers).

    ``mask_row`` gets the unescaped values (None for the NULL marker) and returns the same
    number of values; only fields whose value changed are rewritten.
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:  # a typed error, so every caller fails the statement closed the same way
        raise MaskingError("a COPY row is not valid UTF-8 and cannot be masked") from None
    body = text.rstrip("\r\n")
    ending = text[len(body):]
    delim = delimiter or ("," if csv else "\t")
    null_marker = null if null is not None else ("" if csv else "\\N")
    esc = escape or quote
    raws: list[str] = []
    values: list[str | None] = []
    if csv:
        for raw, quoted, value in _split_csv(body, delim, quote, esc):
            raws.append(raw)
            values.append(None if not quoted and raw == null_marker else value)
    else:
        for raw in _split_text(body, delim):
            raws.append(raw)
            values.append(None if raw == null_marker else _unescape_text(raw))
    masked = mask_row(values)
    if len(masked) != len(values):
        raise ValueError("mask_row changed the number of COPY fields")
    changed = False
    out: list[str] = []
    for field_raw, original, new in zip(raws, values, masked, strict=True):
        if new == original:
            out.append(field_raw)
            continue
        changed = True
        if new is None:
            out.append(null_marker)
        elif csv:
            q = new.replace(esc, esc + esc) if esc != quote else new
            out.append(quote + q.replace(quote, esc + quote) + quote)
        else:
            out.append(_escape_text(new, delim))
    if not changed:
        return line
    return (delim.join(out) + ending).encode("utf-8")
