"""One instance of every protocol-3.0 message, by direction, for the codec tests."""

from __future__ import annotations

from veil.wire.pg import messages as m

STARTUP: list[m.StartupPacket] = [
    m.StartupMessage((("user", "alice"), ("database", "app"), ("application_name", "psql"))),
    m.StartupMessage((("user", "bob"),), protocol=(3 << 16) | 2),
    m.SSLRequest(),
    m.GSSENCRequest(),
    m.CancelRequest(1234, -99),
]

FRONTEND: list[m.Message] = [
    m.PasswordMessage("s3cret"),
    m.Query("SELECT 1; SELECT 'é'"),
    m.Parse("s1", "SELECT $1::int", (23,)),
    m.Parse("", "SELECT 1"),
    m.Bind("p1", "s1", (1,), (b"\x00\x00\x00\x01", None, b""), (1, 0)),
    m.Bind("", ""),
    m.Describe("S", "s1"),
    m.Describe("P", ""),
    m.Execute("p1", 100),
    m.Close("S", "s1"),
    m.Close("P", "p1"),
    m.Sync(),
    m.Flush(),
    m.Terminate(),
    m.CopyData(b"1\tx\n"),
    m.CopyDone(),
    m.CopyFail("client gave up"),
    m.FunctionCall(2801, (0, 1), (b"abc", None), 1),
]

SASL_FRONTEND: list[m.Message] = [
    m.SASLInitialResponse("SCRAM-SHA-256", b"n,,n=,r=abc"),
    m.SASLInitialResponse("SCRAM-SHA-256", None),
    m.SASLResponse(b"c=biws,r=abc,p=xyz"),
]

BACKEND: list[m.Message] = [
    m.AuthenticationOk(),
    m.AuthenticationKerberosV5(),
    m.AuthenticationCleartextPassword(),
    m.AuthenticationMD5Password(b"\x01\x02\x03\x04"),
    m.AuthenticationGSS(),
    m.AuthenticationGSSContinue(b"gss"),
    m.AuthenticationSSPI(),
    m.AuthenticationSASL(("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256")),
    m.AuthenticationSASLContinue(b"r=abc,s=c2FsdA==,i=4096"),
    m.AuthenticationSASLFinal(b"v=sig"),
    m.BackendKeyData(42, -7),
    m.ParseComplete(),
    m.BindComplete(),
    m.CloseComplete(),
    m.NoData(),
    m.EmptyQueryResponse(),
    m.PortalSuspended(),
    m.CommandComplete("INSERT 0 5"),
    m.CopyInResponse(0, (0, 0)),
    m.CopyOutResponse(1, (1,)),
    m.CopyBothResponse(0, ()),
    m.CopyData(b"\x00binary"),
    m.CopyDone(),
    m.DataRow((b"1", None, b"", b"\xff\xfe")),
    m.DataRow(()),
    m.ErrorResponse.make("ERROR", "42501", "refused", detail="d", hint="h"),
    m.NoticeResponse((("S", "NOTICE"), ("C", "00000"), ("M", "hi"))),
    m.FunctionCallResponse(b"\x00\x01"),
    m.FunctionCallResponse(None),
    m.NegotiateProtocolVersion(m.PROTOCOL_3_0, ("_pq_.x",)),
    m.NotificationResponse(7, "ch", "payload"),
    m.ParameterDescription((23, 25, 4294967295)),
    m.ParameterStatus("client_encoding", "UTF8"),
    m.ReadyForQuery("I"),
    m.ReadyForQuery("T"),
    m.ReadyForQuery("E"),
    m.RowDescription((m.FieldDescription("id", 16384, 1, 23, 4, -1, 0),
                      m.FieldDescription("name", 0, 0, 25, -1, -1, 1))),
]

# exact bytes from the PostgreSQL documentation's message formats
KNOWN_BYTES: list[tuple[m.Message, bytes]] = [
    (m.ReadyForQuery("I"), b"Z\x00\x00\x00\x05I"),
    (m.Sync(), b"S\x00\x00\x00\x04"),
    (m.Query("SELECT 1"), b"Q\x00\x00\x00\x0dSELECT 1\x00"),
    (m.AuthenticationOk(), b"R\x00\x00\x00\x08\x00\x00\x00\x00"),
    (m.SSLRequest(), b"\x00\x00\x00\x08\x04\xd2\x16\x2f"),
    (m.GSSENCRequest(), b"\x00\x00\x00\x08\x04\xd2\x16\x30"),
    (m.CancelRequest(1, 2), b"\x00\x00\x00\x10\x04\xd2\x16\x2e\x00\x00\x00\x01\x00\x00\x00\x02"),
    (m.BackendKeyData(1, 2), b"K\x00\x00\x00\x0c\x00\x00\x00\x01\x00\x00\x00\x02"),
    (m.DataRow((b"a", None)), b"D\x00\x00\x00\x0f\x00\x02\x00\x00\x00\x01a\xff\xff\xff\xff"),
]
