"""Identity and policy costs per login and per statement.

``python -m bench.identity_policy [--seconds 0.5]``

Per statement: ``PolicySet.evaluate`` on pre-analysed statements (the SQL analysis
is measured in ``bench.sql_classify``).  Per reload: ``parse_config`` and
``PolicySet.from_settings``.  Per login: the cleartext/SCRAM verifier derivation
(PBKDF2, 4096 iterations - deliberately slow, and the same for unknown users) and
token verification for each allowed algorithm.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from bench import machine, write_section
from veil.config import parse_config
from veil.identity import IdentityProvider
from veil.policy import PolicySet
from veil.sql import analyze
from veil.values import Identity

POLICIES = """
policies:
""" + "".join(f"""  - name: team-{i}
    when: {{groups: [team-{i}]}}
    access: read-only
    mask: {{default: pseudonymize}}
    tables: {{allow: ["app_{i}.*"]}}
""" for i in range(20)) + """  - name: ai-agents
    when: {kind: agent}
    access: read-only
    require_reason: true
    mask: {default: pseudonymize, credit_card: partial, secret: redact}
    tables: {allow: ["public.*"], deny: ["public.api_credentials"]}
    deny_functions: [pg_sleep]
"""


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn`` over about ``seconds``."""
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(20):
            fn()
        n += 20
    return n / elapsed


def us(per_second: float) -> str:
    return f"{1e6 / per_second:,.1f} µs"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=0.5)
    args = parser.parse_args(argv)
    rows: list[tuple[str, str]] = []

    tmp = Path(tempfile.mkdtemp())
    keys: dict[str, Any] = {"RS256": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "ES256": ec.generate_private_key(ec.SECP256R1()),
            "EdDSA": ed25519.Ed25519PrivateKey.generate()}
    jwks = [dict(json.loads(jwt.get_algorithm_by_name(a).to_jwk(k.public_key())), kid=a)
            for a, k in keys.items()]
    (tmp / "jwks.json").write_text(json.dumps({"keys": jwks}))
    text = f"""upstream: {{postgres: "postgresql://u@h/db"}}
identity:
  users: [{{name: svc, password: pw}}]
  jwt: {{issuer: "https://idp/", audience: veil, jwks: "file:{tmp / 'jwks.json'}"}}
""" + POLICIES

    settings = parse_config(text)
    rows.append(("parse_config (21 policies)", us(rate(lambda: parse_config(text), args.seconds))))
    rows.append(("PolicySet.from_settings",
                 us(rate(lambda: PolicySet.from_settings(settings), args.seconds))))

    policies = PolicySet.from_settings(settings)
    agent = Identity("bot", kind="agent")
    last_team = Identity("ann", groups=("team-19",))
    select = analyze("SELECT c.name, o.total FROM customers c JOIN orders o ON o.customer_id = c.id LIMIT 10")
    rows.append(("evaluate: agent, join (22nd policy)", us(rate(
        lambda: policies.evaluate(agent, select, client_addr="10.0.0.1", reason="T-1"), args.seconds))))
    rows.append(("evaluate: 20th policy, refused table", us(rate(
        lambda: policies.evaluate(last_team, select, client_addr="10.0.0.1", reason=None), args.seconds))))

    provider = IdentityProvider(settings.identity)
    rows.append(("verify_password static (PBKDF2 4096)", us(rate(
        lambda: provider.verify_password("svc", "pw"), args.seconds))))

    def unknown() -> None:
        try:
            provider.verify_password("ghost", "pw")
        except Exception:
            pass

    rows.append(("verify_password unknown user", us(rate(unknown, args.seconds))))
    now = int(time.time())
    for alg, key in keys.items():
        claims = {"iss": "https://idp/", "aud": "veil", "sub": "ann", "iat": now, "exp": now + 3600}
        token = jwt.encode(claims, key, algorithm=alg, headers={"kid": alg})

        def verify(t: str = token) -> object:
            return provider.verify_token("ann", t, tls=True, client_addr="10.0.0.1")

        rows.append((f"verify_token {alg}", us(rate(verify, args.seconds))))

    width = max(len(r[0]) for r in rows)
    lines = [f"{name.ljust(width)}  {value}" for name, value in rows]
    print("\n".join(lines))
    body = (f"Measured with `.venv/bin/python -m bench.identity_policy --seconds {args.seconds}` on "
            f"{machine()}. Noisy: the machine is shared with other work.\n\n"
            "| operation | time per call |\n|---|---|\n"
            + "\n".join(f"| {name} | {value} |" for name, value in rows)
            + "\n\nPolicy evaluation is per statement; password and token checks are per login. The PBKDF2 "
              "cost is deliberate (PostgreSQL's SCRAM default) and identical for unknown users.")
    write_section("Identity and policy", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
