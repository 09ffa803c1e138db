"""Where and how to reach the upstream database, parsed once from the ``upstream.postgres`` DSN."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

from psycopg.conninfo import conninfo_to_dict

from veil.errors import ConfigError

SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


@dataclass(frozen=True)
class UpstreamTarget:
    """The upstream's address, login and TLS requirements (libpq's meaning of ``sslmode``)."""

    host: str
    port: int
    user: str
    password: str | None = field(default=None, repr=False)
    dbname: str = "postgres"
    sslmode: str = "prefer"
    sslrootcert: str | None = None
    connect_timeout: float = 10.0
    options: tuple[tuple[str, str], ...] = ()  # extra startup parameters from the DSN

    @classmethod
    def from_dsn(cls, dsn: str, *, connect_timeout: float = 10.0) -> UpstreamTarget:
        try:
            params = {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
        except Exception as exc:  # psycopg raises ProgrammingError with the DSN in it
            raise ConfigError("not a valid PostgreSQL DSN", key="upstream.postgres") from exc
        host = params.get("host") or "127.0.0.1"
        if host.startswith("/"):
            raise ConfigError("unix sockets are not supported; give a host", key="upstream.postgres")
        sslmode = params.get("sslmode", "prefer")
        if sslmode not in SSLMODES:
            raise ConfigError(f"unknown sslmode {sslmode!r}", key="upstream.postgres")
        timeout = float(params["connect_timeout"]) if params.get("connect_timeout") else connect_timeout
        extra = []
        if params.get("application_name"):
            extra.append(("application_name", params["application_name"]))
        if params.get("options"):
            extra.append(("options", params["options"]))
        user = params.get("user")
        if not user:
            raise ConfigError("the DSN names no user", key="upstream.postgres")
        return cls(host=host.split(",")[0], port=int((params.get("port") or "5432").split(",")[0]),
                   user=user, password=params.get("password"), dbname=params.get("dbname") or user,
                   sslmode=sslmode, sslrootcert=params.get("sslrootcert"), connect_timeout=timeout,
                   options=tuple(extra))

    def ssl_context(self) -> ssl.SSLContext | None:
        """The client TLS context for this sslmode; None when TLS is never attempted."""
        if self.sslmode == "disable":
            return None
        if self.sslmode in ("verify-ca", "verify-full"):
            ctx = ssl.create_default_context(cafile=self.sslrootcert)
            ctx.check_hostname = self.sslmode == "verify-full"
            return ctx
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # libpq's prefer/require: encryption without verification
        return ctx

    @property
    def tls_required(self) -> bool:
        return self.sslmode in ("require", "verify-ca", "verify-full")
