"""What the relay understands of a session: requests in flight and their results.

The relay (``relay.py``) cuts both byte streams into messages and hands the few that
matter to an ``Exchange``; everything else is forwarded untouched.  The Exchange

* keeps the queue of requests the client sent and the upstream has not answered yet
  (``Slot``s, in client order: pipelining and the extended protocol make it a queue),
  so every response is matched to the request it answers;
* tracks prepared statements and portals by name with their RowDescription and the
  result formats from Bind, so a re-executed prepared statement is masked correctly;
* calls the pipeline: ``authorize`` before a Query/Parse/Bind/FunctionCall is
  forwarded, ``plan_mask`` per result shape, ``mask_row`` per DataRow, ``mask_fields``
  / ``mask_notification`` on texts, and ``finish`` exactly once per request;
* answers what veil answers itself (refusals, ``SET veil.reason``) *in order*: a
  local answer waits in the queue until the upstream answered everything before it.

It does no I/O: output is appended to ``to_client`` / ``to_upstream`` and the relay
writes it.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from veil.errors import PolicyDenied, RemoteProtocolError, TokenExpiredError, VeilError
from veil.frontends.pg.local import (
    LocalCommand,
    parse_local,
    show_description,
    show_row,
    smuggles_veil_setting,
)
from veil.frontends.pg.state import (
    DESCRIPTION_CACHE,
    POISON_PARSE,
    POISON_QUERY,
    ClientProtocolViolation,
    EndSession,
    FailingMasker,
    Portal,
    Slot,
    Statement,
    columns_of,
    function_call_sql,
    query_text,
    refusal_text,
    tag_rows,
)
from veil.pipeline.authorize import read_only_breach
from veil.pipeline.hooks import (
    Confirmation,
    CopyMasker,
    Pipeline,
    Request,
    RowMasker,
    Session,
    row_rewriter,
)
from veil.sql import strip_reason_comment
from veil.values import ColumnInfo, Decision
from veil.wire.pg import messages as m

log = logging.getLogger("veil.pg")


@dataclass
class Exchange:
    """Request/response state of one proxied session (see the module docstring)."""

    session: Session
    pipeline: Pipeline
    to_client: list[bytes] = field(default_factory=list)
    to_upstream: list[bytes] = field(default_factory=list)
    status: str = "I"
    slots: deque[Slot] = field(default_factory=deque)
    statements: dict[str, Statement] = field(default_factory=dict)
    portals: dict[str, Portal] = field(default_factory=dict)
    open_requests: dict[int, Request] = field(default_factory=dict)  # by id(): authorized, not finished
    masker: RowMasker | None = None  # masks the DataRows of the result being received
    copy_masker: CopyMasker | None = None  # masks the CopyData rows of a COPY TO STDOUT being received
    on_copy_mask_change: Callable[[bool], None] | None = None
    discarding: bool = False  # client side: dropping extended messages until Sync after a refusal
    suppressing: bool = False  # upstream side: dropping results until ReadyForQuery (failed masking)
    copy_in: bool = False
    upstream_parameters: Mapping[str, str] = field(default_factory=dict)  # what the session started with
    upstream_fatal: bool = False  # the upstream already told the client why it is going away
    fast_bytes: int = 0  # bytes of DataRow/CopyData forwarded untouched since the last boundary
    on_masker_change: Callable[[bool], None] | None = None
    # audit.confirm: the latest finished request's event is not stored yet; the relay holds
    # output to the client until it is (events are stored in order, so the latest is enough)
    confirming: Confirmation | None = None
    _rewrite: Callable[[bytes], bytes] | None = None  # how DataRows go through ``masker`` (_set_masker)
    _descriptions: dict[bytes, tuple[m.RowDescription, tuple[ColumnInfo, ...]]] = field(default_factory=dict)

    # =================================================================== client -> upstream

    def client_message(self, type_code: int, raw: bytes) -> None:
        """A whole message from the client (``raw`` includes the header)."""
        handler = _CLIENT.get(type_code)
        if handler is None:
            raise ClientProtocolViolation(f"unexpected message type {chr(type_code)!r} from the client")
        handler(self, raw)

    def _forward(self, raw: bytes, slot: Slot | None) -> None:
        self.to_upstream.append(raw)
        if slot is not None:
            self.slots.append(slot)
            if len(self.slots) == 1 and slot.kind == "E" and slot.portal is not None:
                self._set_masker(self._portal_masker(slot.portal))  # its rows are the next to arrive

    def _answer(self, data: bytes) -> None:
        """A local answer: sent now if nothing is in flight, else queued behind it."""
        if self.slots:
            self.slots.append(Slot("L", local=data))
        else:
            self.to_client.append(data)

    def _query(self, raw: bytes) -> None:
        if self.discarding:
            return
        sql = query_text(raw)
        local = parse_local(sql)
        if local is not None:
            self._answer(self._run_local(local, describe=True) + m.ReadyForQuery(self.status).encode())
            return
        request = self._authorize(sql, "simple")
        if request is None:
            self._refuse_simple()
            return
        self._forward(raw, Slot("Q", request=request))

    def _parse(self, raw: bytes) -> None:
        if self.discarding:
            return
        parse = m.Parse.decode(raw[5:])
        local = parse_local(parse.query)
        if local is not None:
            self.statements[parse.name] = Statement(parse.query, local=local)
            self._answer(m.ParseComplete().encode())
            return
        request = self._authorize(parse.query, "extended")
        if request is None:
            self._refuse_extended()
            return
        self.statements[parse.name] = Statement(parse.query, request=request)
        self._forward(raw, Slot("P", request=request))

    def _bind(self, raw: bytes) -> None:
        if self.discarding:
            return
        bind = m.Bind.decode(raw[5:])
        statement = self.statements.get(bind.statement)
        if statement is None:  # unknown to us: the upstream answers with its own error
            self._forward(raw, Slot("B"))
            return
        if statement.local is not None:
            self.portals[bind.portal] = Portal(statement, bind)
            self._answer(m.BindComplete().encode())
            return
        request, statement.request = statement.request, None
        if request is not None and id(request) not in self.open_requests:
            request = None  # its Parse was finished at an earlier Sync (prepare-only)
        if request is None:  # a re-execution: a new request, authorized again
            request = self._authorize(statement.sql, "extended")
            if request is None:
                self._refuse_extended()
                return
        portal = Portal(statement, bind, request=request)
        self.portals[bind.portal] = portal
        self._forward(raw, Slot("B", portal=portal))

    def _describe(self, raw: bytes) -> None:
        if self.discarding:
            return
        describe = m.Describe.decode(raw[5:])
        if describe.kind == "S":
            statement = self.statements.get(describe.name)
            if statement is not None and statement.local is not None:
                self._answer(m.ParameterDescription(()).encode() + self._local_description(statement.local))
                return
            self._forward(raw, Slot("D", statement=statement, describe="S"))
        else:
            portal = self.portals.get(describe.name)
            if portal is not None and portal.statement.local is not None:
                self._answer(self._local_description(portal.statement.local))
                return
            self._forward(raw, Slot("D", portal=portal, describe="P"))

    def _execute(self, raw: bytes) -> None:
        if self.discarding:
            return
        name = m.Execute.decode(raw[5:]).portal
        portal = self.portals.get(name)
        if portal is not None and portal.statement.local is not None:
            self._answer(self._run_local(portal.statement.local, describe=False))
            return
        self._forward(raw, Slot("E", portal=portal, request=portal.request if portal else None))

    def _close(self, raw: bytes) -> None:
        if self.discarding:
            return
        close = m.Close.decode(raw[5:])
        if close.kind == "S":
            statement = self.statements.pop(close.name, None)
            local = statement is not None and statement.local is not None
        else:
            portal = self.portals.pop(close.name, None)
            local = portal is not None and portal.statement.local is not None
        if local:
            self._answer(m.CloseComplete().encode())
            return
        self._forward(raw, Slot("C"))

    def _sync(self, raw: bytes) -> None:
        self.discarding = False
        if self.copy_in:  # the server ignores Sync during COPY FROM STDIN
            self._forward(raw, None)
            return
        self._forward(raw, Slot("S"))

    def _function_call(self, raw: bytes) -> None:
        if self.discarding:
            return
        call = m.FunctionCall.decode(raw[5:])
        request = self._authorize(function_call_sql(call), "function-call")
        if request is None:
            self._refuse_simple()
            return
        self._forward(raw, Slot("F", request=request))

    def _copy_end(self, raw: bytes) -> None:
        self.copy_in = False
        self._forward(raw, None)

    def _passthrough(self, raw: bytes) -> None:
        self._forward(raw, None)

    # ------------------------------------------------------------------ authorization

    _last_refusal: bytes = b""

    def _authorize(self, sql: str, protocol: str) -> Request | None:
        """A Request authorized by the pipeline, or None (refusal bytes in ``_last_refusal``)."""
        expires = self.session.identity.expires_at
        if expires is not None and time.time() >= expires:
            raise EndSession(TokenExpiredError.sqlstate,
                             "veil: the access token of this session expired; log in again")
        reason = None
        if sql[:64].lstrip().startswith("/*"):
            reason, sql = strip_reason_comment(sql)
        request = Request(self.session, sql, protocol=protocol, reason=reason)
        try:
            if smuggles_veil_setting(sql):
                decision = Decision(allowed=False, policy=None, sqlstate="0A000", reasons=(
                    "veil.* settings must be set in a statement of their own",))
            else:
                decision = self.pipeline.authorize(request)
            request.decision = decision
            if decision.allowed:
                self.open_requests[id(request)] = request
                return request
            message = refusal_text(decision)
            sqlstate = decision.sqlstate or "42501"
        except PolicyDenied as exc:
            message, sqlstate = f"veil: refused by policy {exc.policy or '(none)'}: {exc}", exc.sqlstate
        except VeilError as exc:
            message, sqlstate = f"veil: request refused: {exc}", getattr(exc, "sqlstate", "XX000")
        except Exception:
            log.exception("veil: authorize failed")
            message, sqlstate = "veil: request refused: internal error", "XX000"
        request.outcome.status = "refused"
        request.outcome.sqlstate = sqlstate
        self._finish(request)
        self._last_refusal = m.ErrorResponse.make("ERROR", sqlstate, message).encode()
        return None

    def _refuse_simple(self) -> None:
        """Refuse a Query/FunctionCall the way PostgreSQL fails one.

        The upstream gets a statement that cannot succeed instead, so an open transaction
        is aborted exactly as a failed statement would abort it (a later COMMIT rolls
        back); its error is replaced by the refusal and its ReadyForQuery passes on.
        """
        self._forward(POISON_QUERY, Slot("Q", refusal=self._last_refusal))

    def _refuse_extended(self) -> None:
        """Refuse a Parse/Bind: as above, and then discard (like the server) until Sync."""
        self._forward(POISON_PARSE, Slot("P", refusal=self._last_refusal))
        self.discarding = True

    def _finish(self, request: Request) -> None:
        try:
            confirmation = self.pipeline.finish(request)
        except Exception as exc:  # audit failures are the pipeline's to report; the relay goes on
            log.error("veil: finishing a request failed: %s", type(exc).__name__)
            return
        if confirmation is not None:
            self.confirming = confirmation

    # ------------------------------------------------------------------ local answers

    def _local_description(self, local: LocalCommand) -> bytes:
        return show_description().encode() if local.action == "show" else m.NoData().encode()

    def _run_local(self, local: LocalCommand, *, describe: bool) -> bytes:
        if local.action == "show":
            head = show_description().encode() if describe else b""
            return head + show_row(self.session.reason).encode() + m.CommandComplete("SHOW").encode()
        self.session.reason = local.value if local.action == "set" else None
        return m.CommandComplete(local.tag).encode()

    # =================================================================== upstream -> client

    def upstream_message(self, type_code: int, raw: bytes) -> None:
        """A whole message from the upstream (``raw`` includes the header)."""
        if self.suppressing and type_code not in (90, 78, 65, 83):  # Z N A S
            return
        handler = _UPSTREAM.get(type_code)
        if handler is None:
            self.to_client.append(raw)
        else:
            handler(self, raw)

    @property
    def head(self) -> Slot | None:
        return self.slots[0] if self.slots else None

    def _pop(self) -> None:
        """The head slot is answered; emit local answers that were waiting behind it."""
        if self.slots:
            self.slots.popleft()
        while self.slots and self.slots[0].kind == "L":
            self.to_client.append(self.slots.popleft().local)
        self._set_masker(None)
        head = self.head
        if head is not None and head.kind == "E" and head.portal is not None:
            self._set_masker(self._portal_masker(head.portal))

    def _set_copy_masker(self, masker: CopyMasker | None) -> None:
        changed = (masker is None) != (self.copy_masker is None)
        self.copy_masker = masker  # first: the callback reads the new state
        if changed and self.on_copy_mask_change is not None:
            self.on_copy_mask_change(masker is not None)

    def _copy_out(self, raw: bytes) -> None:
        """CopyOutResponse: ask the pipeline how to mask the rows that follow (fail closed if it cannot)."""
        request = self._current_request()
        if request is None:
            self.to_client.append(raw)
            return
        try:
            masker = self.pipeline.plan_copy(request, m.CopyOutResponse.decode(raw[5:]).format)
        except Exception as exc:
            self._mask_failed(request, exc)
            return
        self.to_client.append(raw)
        self._set_copy_masker(masker)

    def _copy_data(self, raw: bytes) -> None:
        """Upstream CopyData; only called while a CopyMasker is active (forwarded untouched otherwise)."""
        masker = self.copy_masker
        if masker is None:
            self.to_client.append(raw)
            return
        self._send_masked(lambda data: m.CopyData(masker.mask_copy(data[5:])).encode(), raw,
                          self._current_request())

    def _copy_done(self, raw: bytes) -> None:
        self._set_copy_masker(None)
        self.to_client.append(raw)

    def _set_masker(self, masker: RowMasker | None) -> None:
        changed = (masker is None) != (self.masker is None)
        self.masker = masker  # first: the callback reads the new state
        self._rewrite = row_rewriter(masker) if masker is not None else None  # once per result
        if changed and self.on_masker_change is not None:
            self.on_masker_change(masker is not None)

    def _account(self, request: Request | None) -> None:
        if request is not None:
            request.outcome.bytes += self.fast_bytes
        self.fast_bytes = 0

    def _current_request(self) -> Request | None:
        head = self.head
        return head.request if head is not None else None

    def _ready(self, raw: bytes) -> None:
        if len(raw) != 6 or raw[5] not in b"ITE":
            raise RemoteProtocolError("malformed ReadyForQuery message")
        self.status = chr(raw[5])
        if self.suppressing:
            self.suppressing = False
            if self.on_masker_change is not None:
                self.on_masker_change(self.masker is not None)
        self._set_copy_masker(None)
        head = self.head
        self._account(head.request if head else None)
        self.to_client.append(raw)  # before any local answer queued behind this request
        if head is not None and head.kind in ("Q", "S", "F"):
            if head.request is not None:
                self._close_request(head.request)
            self._pop()
        if self.open_requests:
            # Parse/Bind never executed in the segment that just ended; requests of later,
            # pipelined segments are still referenced by their slots and stay open
            pending = {id(r) for slot in self.slots
                       for r in (slot.request, slot.portal and slot.portal.request) if r is not None}
            for request in list(self.open_requests.values()):
                if id(request) not in pending and not self._portal_suspended(request):
                    self._close_request(request)

    def _portal_suspended(self, request: Request) -> bool:
        return self.status != "I" and any(p.request is request for p in self.portals.values())

    def _close_request(self, request: Request) -> None:
        if self.open_requests.pop(id(request), None) is not None:
            self._finish(request)

    def _error(self, raw: bytes) -> None:
        error = m.ErrorResponse.decode(raw[5:])
        if error.severity in ("FATAL", "PANIC"):
            self.upstream_fatal = True
        head = self.head
        request = head.request if head else None
        if request is not None:
            request.outcome.status = "error"
            request.outcome.sqlstate = error.sqlstate
        self.copy_in = False
        refusal = head.refusal if head is not None else b""
        self.to_client.append(refusal or self._masked_fields(error))
        if head is not None and head.kind in ("P", "B", "D", "E", "C"):
            # extended protocol: the server skips everything up to the next Sync
            while self.slots and self.slots[0].kind not in ("S", "Q", "F"):
                slot = self.slots.popleft()
                if slot.request is not None:
                    slot.request.outcome.status = "error"
                    slot.request.outcome.sqlstate = error.sqlstate
            self._pop_locals()
        self._set_masker(None)

    def _pop_locals(self) -> None:
        while self.slots and self.slots[0].kind == "L":
            self.to_client.append(self.slots.popleft().local)

    def _parameter_status(self, raw: bytes) -> None:
        status = m.ParameterStatus.decode(raw[5:])
        reason = read_only_breach(self.upstream_parameters, status.name, status.value)
        if reason is not None:
            log.warning("veil: ending a read-only session that was switched to read-write")
            raise EndSession("25006", reason)
        self.to_client.append(raw)

    def _notice(self, raw: bytes) -> None:
        self.to_client.append(self._masked_fields(m.NoticeResponse.decode(raw[5:])))

    def _masked_fields(self, msg: m.ErrorResponse | m.NoticeResponse) -> bytes:
        fields = dict(msg.fields)
        try:
            masked = self.pipeline.mask_fields(self.session, fields)
        except Exception:
            log.exception("veil: masking error fields failed")
            masked = {k: v for k, v in fields.items() if k in ("S", "V", "C")}
            masked["M"] = "veil: an error occurred (its text could not be masked)"
        if masked == fields:
            return msg.encode()
        return type(msg)(tuple(masked.items())).encode()

    def _notification(self, raw: bytes) -> None:
        note = m.NotificationResponse.decode(raw[5:])
        try:
            payload = self.pipeline.mask_notification(self.session, note.channel, note.payload)
        except Exception:
            log.exception("veil: masking a notification failed")
            payload = ""
        self.to_client.append(raw if payload == note.payload else
                              m.NotificationResponse(note.process_id, note.channel, payload).encode())

    def _command_complete(self, raw: bytes) -> None:
        head = self.head
        request = head.request if head else None
        if request is not None:
            request.outcome.rows += tag_rows(raw)
        self._account(request)
        self.to_client.append(raw)
        if head is not None and head.kind == "E":
            if request is not None:
                self._close_request(request)
            self._pop()
        else:
            self._set_masker(None)

    def _execute_done(self, raw: bytes) -> None:  # EmptyQueryResponse / PortalSuspended
        head = self.head
        self._account(head.request if head else None)
        self.to_client.append(raw)
        if head is not None and head.kind == "E":
            if raw[0] == 73 and head.request is not None:  # I: nothing ran
                self._close_request(head.request)
            self._pop()

    def _simple_ack(self, raw: bytes) -> None:  # ParseComplete BindComplete CloseComplete
        self.to_client.append(raw)
        if self.head is not None and self.head.kind in ("P", "B", "C"):
            self._pop()

    def _row_description(self, raw: bytes) -> None:
        self.to_client.append(raw)
        head = self.head
        if head is None:
            return
        description, columns = self._description(raw)
        if head.kind == "D":
            if head.describe == "S" and head.statement is not None:
                head.statement.description = description
            elif head.portal is not None:
                head.portal.description = description
                head.portal.planned = False
            self._pop()
        elif head.kind == "Q" and head.request is not None:
            self._set_masker(self._plan(head.request, list(columns)))

    def _description(self, raw: bytes) -> tuple[m.RowDescription, tuple[ColumnInfo, ...]]:
        """Decoded RowDescription and its columns, cached by its bytes: sessions repeat a few shapes."""
        cache = self._descriptions
        found = cache.get(raw)
        if found is None:
            description = m.RowDescription.decode(raw[5:])
            found = (description, tuple(columns_of(description, None)))
            if len(cache) >= DESCRIPTION_CACHE:
                del cache[next(iter(cache))]
            cache[raw] = found
        return found

    def _no_data(self, raw: bytes) -> None:
        self.to_client.append(raw)
        if self.head is not None and self.head.kind == "D":
            self._pop()

    def _copy_in(self, raw: bytes) -> None:
        self.to_client.append(raw)
        self.copy_in = True
        # the server ignores Syncs that arrive during COPY FROM STDIN (libpq sends one early)
        while len(self.slots) > 1 and self.slots[1].kind == "S":
            del self.slots[1]

    def _data_row(self, raw: bytes) -> None:
        """Only called while a RowMasker is active (the relay forwards rows untouched otherwise)."""
        rewrite = self._rewrite  # set with the masker (_set_masker), once per result
        if rewrite is None:
            self.to_client.append(raw)
            return
        slots = self.slots
        self._send_masked(rewrite, raw, slots[0].request if slots else None)

    def _send_masked(self, build: Callable[[bytes], bytes], raw: bytes, request: Request | None) -> None:
        """Send what ``build`` makes of a message, or fail closed if masking it raises."""
        try:
            out = build(raw)
        except Exception as exc:
            self._mask_failed(request, exc)
            return
        if request is not None:
            request.outcome.bytes += len(out)
        self.to_client.append(out)

    def _mask_failed(self, request: Request | None, exc: Exception) -> None:
        """Fail closed: an error instead of the rest of the rows, the statement ends."""
        if isinstance(exc, PolicyDenied):  # a deliberate refusal (e.g. binary COPY): say why
            sqlstate = exc.sqlstate
            message = f"veil: refused by policy {exc.policy or '(none)'}: {exc}"
        else:
            log.error("veil: masking failed (%s); result withheld", type(exc).__name__)
            sqlstate, message = "XX000", "veil: the result could not be masked and was withheld"
        if request is not None:
            request.outcome.status = "error"
            request.outcome.sqlstate = sqlstate
        self.to_client.append(m.ErrorResponse.make("ERROR", sqlstate, message).encode())
        self.suppressing = True  # before the masker changes: the relay then routes every row here
        self._set_masker(None)
        self._set_copy_masker(None)
        if self.on_masker_change is not None:
            self.on_masker_change(False)
        head = self.head
        if head is not None and head.kind != "Q":
            # drop the slots up to the Sync: their answers are suppressed with the rest
            while self.slots and self.slots[0].kind not in ("S", "Q", "F"):
                self.slots.popleft()
            self._pop_locals()

    # ------------------------------------------------------------------ masking plans

    def _plan(self, request: Request, columns: list[ColumnInfo]) -> RowMasker | None:
        try:
            masker = self.pipeline.plan_mask(request, columns)
        except Exception as exc:
            # no plan means no masking: refuse the rows instead of leaking them
            return FailingMasker(exc)
        if masker is not None:
            request.maskers.append(masker)
        return masker

    def _portal_masker(self, portal: Portal) -> RowMasker | None:
        if portal.planned:
            return portal.masker
        portal.planned = True
        request = portal.request
        if request is None:
            return None
        if portal.description is not None:
            columns = columns_of(portal.description, None)
        elif portal.statement.description is not None:
            columns = columns_of(portal.statement.description, portal.bind)
        else:
            return None
        portal.masker = self._plan(request, columns) if columns else None
        return portal.masker

    # ------------------------------------------------------------------ end of session

    def abandon(self, sqlstate: str) -> None:
        """The session ended: every open request is finished as failed, exactly once."""
        for slot in self.slots:
            if slot.request is not None and slot.request.outcome.status == "ok":
                slot.request.outcome.status = "error"
                slot.request.outcome.sqlstate = sqlstate
        for request in list(self.open_requests.values()):
            self._close_request(request)
        self.slots.clear()

    @property
    def busy(self) -> bool:
        return bool(self.slots) or self.copy_in


_CLIENT: dict[int, Callable[[Exchange, bytes], None]] = {
    ord("Q"): Exchange._query,
    ord("P"): Exchange._parse,
    ord("B"): Exchange._bind,
    ord("D"): Exchange._describe,
    ord("E"): Exchange._execute,
    ord("C"): Exchange._close,
    ord("S"): Exchange._sync,
    ord("F"): Exchange._function_call,
    ord("H"): Exchange._passthrough,
    ord("d"): Exchange._passthrough,
    ord("c"): Exchange._copy_end,
    ord("f"): Exchange._copy_end,
    ord("X"): Exchange._passthrough,
}

_UPSTREAM: dict[int, Callable[[Exchange, bytes], None]] = {
    ord("Z"): Exchange._ready,
    ord("E"): Exchange._error,
    ord("N"): Exchange._notice,
    ord("S"): Exchange._parameter_status,
    ord("A"): Exchange._notification,
    ord("C"): Exchange._command_complete,
    ord("I"): Exchange._execute_done,
    ord("s"): Exchange._execute_done,
    ord("1"): Exchange._simple_ack,
    ord("2"): Exchange._simple_ack,
    ord("3"): Exchange._simple_ack,
    ord("T"): Exchange._row_description,
    ord("n"): Exchange._no_data,
    ord("G"): Exchange._copy_in,
    ord("D"): Exchange._data_row,
    ord("H"): Exchange._copy_out,
    ord("d"): Exchange._copy_data,
    ord("c"): Exchange._copy_done,
}
