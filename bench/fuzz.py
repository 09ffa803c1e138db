"""Coverage-guided fuzzing (atheris / libFuzzer) of everything that parses hostile input.

Why: veil sits in front of production data and parses bytes from clients it has not
authenticated yet, bytes from the upstream, SQL text from anyone who logged in, and
every result value (detectors).  A crash or a super-linear input there is a denial of
service, or worse a fail-open.  Hypothesis tests (``tests/property/test_fuzz_*.py``)
check the properties quickly in CI; this script runs the long coverage-guided campaign.

Targets (``--target``; default: all, each in its own subprocess because
``atheris.Fuzz`` never returns):

* ``wire_frontend``  - bytes a *client* sends, decoded by veil's BACKEND role
  (startup packets incl. SSLRequest/GSSENCRequest/CancelRequest, then regular
  messages), plus every frontend decoder directly.
* ``wire_backend``   - bytes a *server* sends, decoded by the FRONTEND role after a
  StartupMessage, plus every backend decoder directly.
* ``sql``            - ``veil.sql.analyze_uncached`` / ``normalize`` / ``fingerprint`` /
  ``strip_reason_comment`` / ``read_only_violations``.
* ``detect``         - ``veil.detect.default_scanner().scan`` (with and without a column
  name) and ``has_candidates``.
* ``mask_pg``        - ``MaskEngine.mask_pg`` over random bytes for every supported type
  OID (scalars and arrays, plus an unknown OID) in text and binary format, with every
  masking method and a few data types (None = scan the value).  Only
  ``veil.errors.MaskingError`` may escape; a text-format result must be valid UTF-8.
* ``copy``           - ``veil.mask.copyrows.mask_copy_line`` in text and CSV layouts: the
  identity mask gives the line back byte for byte, and a mask that rewrites every value
  gives a line that splits back into exactly the rewritten values (escaping round trip).
  Only ``MaskingError`` may escape.
* ``audit``          - the auditor's parsers: ``parse_note``/``split_notes`` on random text,
  ``verify_log`` on a real signed trail with mutated checkpoint notes and mutated stored
  events (leaf hashes recomputed, as an attacker with write access to the store would).
  ``verify_log`` must never raise, and a mutated note that still verifies must carry
  exactly the signed text of the original.

Contract checked per input: only ``veil.errors.ProtocolError`` subclasses may escape
the codec; nothing may escape sql/detect; and one input may not take longer than
``--budget-ms`` plus a per-byte allowance (a linear bound: the inputs are capped at
``-max_len``, so a quadratic path shows up as a budget breach).  A breach raises,
libFuzzer writes the input as ``crash-*`` into ``--artifacts`` and this script
reports it; such inputs become regression tests in ``tests/property/``.

Usage::

    .venv/bin/python -m bench.fuzz                       # all targets, 1,000,000 runs each
    .venv/bin/python -m bench.fuzz --runs 200000 --target sql
    make fuzz

Seeds live in ``bench/fuzz_corpus/<target>/``; libFuzzer's growing corpus goes to a
scratch directory (``--workdir``) so the repo keeps only the curated seeds.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TARGETS = ("wire_frontend", "wire_backend", "sql", "detect", "mask_pg", "copy", "audit")
#: targets whose figures go to their own part of RESULTS.md (added after the first campaign)
MASK_AUDIT_TARGETS = ("mask_pg", "copy", "audit")
#: inputs longer than this are cut by libFuzzer (wire values and COPY rows are short; notes too)
TARGET_MAX_LEN = {"mask_pg": 256, "copy": 1024, "audit": 2048}
CORPUS = Path(__file__).parent / "fuzz_corpus"
MAX_LEN = 4096


class BudgetExceeded(Exception):
    """One input took longer than the linear time budget (reported as a crash)."""


def _budget(base_ms: float, per_kb_ms: float) -> Callable[[Callable[[bytes], None], bytes], None]:
    """Run one input under the linear time budget, measured in CPU time of this process.

    CPU time, and the best of three tries before calling it a breach: on a shared
    2-core machine wall-clock time says more about the neighbours than about the input
    (the first campaign lost runs to exactly that).
    """

    def run(fn: Callable[[bytes], None], data: bytes) -> None:
        limit = (base_ms + per_kb_ms * len(data) / 1024) / 1000
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            fn(data)
            best = min(best, time.process_time() - started)
            if best <= limit:
                return
        raise BudgetExceeded(f"{best * 1000:.1f} ms CPU for {len(data)} bytes (limit {limit * 1000:.1f} ms)")

    return run


def _wire_target(role_name: str) -> Callable[[bytes], None]:
    """Decode fuzz bytes in ``role_name``'s *peer* direction: stateful and per decoder."""
    from veil.errors import ProtocolError
    from veil.wire.pg import messages as m
    from veil.wire.pg.connection import Connection, Sentinel
    from veil.wire.pg.phases import Role

    we_are_backend = role_name == "frontend"  # fuzzing what a frontend sends: we decode as BACKEND
    decoders = m.FRONTEND if we_are_backend else m.BACKEND
    type_codes = [*sorted(decoders), b"R", b"p"]

    def drain(conn: Connection) -> None:
        for _ in range(10_000):
            if isinstance(conn.next_event(), Sentinel):
                return

    def one(data: bytes) -> None:
        if not data:
            return
        mode, rest = data[0] % 4, data[1:]
        try:
            if mode == 0:  # a whole conversation from the first byte, then EOF
                conn = Connection(Role.BACKEND if we_are_backend else Role.FRONTEND)
                if not we_are_backend:
                    conn.send(m.StartupMessage((("user", "fuzz"), ("database", "fuzz"))))
                conn.receive_data(rest)
                drain(conn)
                conn.receive_data(b"")
                drain(conn)
            elif mode == 1:  # one decoder, chosen by the second byte
                if not rest:
                    return
                code = type_codes[rest[0] % len(type_codes)]
                if code == b"p" and we_are_backend:
                    for cls in (m.PasswordMessage, m.SASLInitialResponse, m.SASLResponse):
                        try:
                            cls.decode(rest[1:])
                        except ProtocolError:
                            pass
                elif we_are_backend:
                    m.decode_frontend(code, rest[1:])
                else:
                    m.decode_backend(code, rest[1:])
            elif mode == 2:  # startup packets (both roles must survive them)
                m.decode_startup(rest)
            else:  # the same stream delivered in uneven chunks
                conn = Connection(Role.BACKEND if we_are_backend else Role.FRONTEND)
                if not we_are_backend:
                    conn.send(m.StartupMessage((("user", "fuzz"),)))
                step = 1 + (rest[0] % 7 if rest else 0)
                for i in range(0, len(rest), step):
                    conn.receive_data(rest[i : i + step])
                    drain(conn)
        except ProtocolError:
            pass

    return one


def _sql_target() -> Callable[[bytes], None]:
    from veil.sql import analyze_uncached, fingerprint, normalize, read_only_violations, strip_reason_comment

    def one(data: bytes) -> None:
        text = data.decode("utf-8", "replace")
        _, body = strip_reason_comment(text)
        for info in analyze_uncached(body):
            read_only_violations(info)
        normalize(text)
        fingerprint(text)

    return one


def _detect_target() -> Callable[[bytes], None]:
    from veil.detect import default_scanner

    scanner = default_scanner()

    def one(data: bytes) -> None:
        text = data.decode("utf-8", "replace")
        scanner.has_candidates(text)
        findings = scanner.scan(text)
        scanner.scan(text, column="email")
        for f in findings:
            if not 0 <= f.start <= f.end <= len(text):
                raise AssertionError(f"finding span {f.start}..{f.end} outside text of {len(text)}")

    return one


_KNOWN: set[str] = set()


def _known(finding: str) -> None:
    """A finding already reported and not fixable here: say so once, keep fuzzing past it."""
    if finding not in _KNOWN:
        _KNOWN.add(finding)
        print(f"KNOWN FINDING: {finding}", file=sys.stderr, flush=True)


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _mask_pg_target() -> Callable[[bytes], None]:
    from veil.errors import MaskingError
    from veil.mask.engine import MaskEngine
    from veil.mask.keys import Keyring
    from veil.mask.pgtypes import ARRAY_OF, HANDLERS
    from veil.mask.registry import MASKERS

    engine = MaskEngine(Keyring.generate(), cache_size=0)
    oids = sorted(HANDLERS) + sorted(ARRAY_OF) + [600]  # 600 (point): no handler, the unknown path
    methods = sorted(MASKERS)
    data_types = (None, "email", "credit_card", "us_ssn", "phone", "ip_address", "person_name",
                  "date_of_birth")

    def one(data: bytes) -> None:
        if len(data) < 3:
            return
        oid, fmt = oids[data[0] % len(oids)], data[1] & 1
        # data type None (scan the value: ~10x the cost of a typed mask) for 1 input in 16
        kind = data[2] % 16
        method = methods[(data[1] >> 1) % len(methods)]
        data_type = data_types[0 if kind == 0 else 1 + kind % 7]
        mask_map = {"default": method} if data[2] & 0x80 else {"default": method, "email": "partial"}
        try:
            out = engine.mask_pg(data_type, method, oid, fmt, data[3:], mask_map=mask_map)
        except MaskingError:
            return
        if out is not None and not isinstance(out, bytes):
            raise AssertionError(f"mask_pg returned {type(out).__name__}")
        if out is not None and fmt == 0 and _utf8(data[3:]):
            out.decode("utf-8")  # valid text in, valid text out (invalid input may pass through as is)

    return one


_COPY_LAYOUTS = (  # (csv, delimiter, null, quote, escape)
    (False, None, None, '"', None), (False, "|", None, '"', None), (False, ",", "NULL", '"', None),
    (True, None, None, '"', None), (True, ";", "\\N", '"', None), (True, None, None, "'", "\\"),
    (True, "|", "", '"', '"'),
)


def _copy_target() -> Callable[[bytes], None]:
    from veil.errors import MaskingError
    from veil.mask.copyrows import mask_copy_fields, mask_copy_line

    def rewrite(value: str) -> str:
        return "<" + value[::-1] + "|,;\t\\\"'>"  # every delimiter, quote and escape character

    def one(data: bytes) -> None:
        if not data:
            return
        csv, delimiter, null, quote, escape = _COPY_LAYOUTS[data[0] % len(_COPY_LAYOUTS)]
        line = data[1:]
        opts = {"csv": csv, "delimiter": delimiter, "null": null, "quote": quote, "escape": escape}
        try:
            same = mask_copy_line(line, lambda v: v, **opts)  # type: ignore[arg-type]
            if same != line:
                raise AssertionError("the identity mask changed the COPY line")
            seen: list[list[str | None]] = []
            mask_copy_fields(line, lambda vs: seen.append(list(vs)) or vs, **opts)  # type: ignore[arg-type]
            masked = mask_copy_line(line, rewrite, **opts)  # type: ignore[arg-type]
            again: list[list[str | None]] = []
            mask_copy_fields(masked, lambda vs: again.append(list(vs)) or vs, **opts)  # type: ignore[arg-type]
        except MaskingError:
            return
        expected = [None if v is None else rewrite(v) for v in seen[0]]
        if again[0] != expected:
            raise AssertionError(f"COPY escaping does not round-trip: {expected!r} -> {again[0]!r}")

    return one


def _audit_target() -> Callable[[bytes], None]:
    import hashlib
    import json

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from veil.audit.checkpoint import Checkpoint, Signer, parse_note, split_notes
    from veil.audit.record import StoredEvent, origin_for
    from veil.audit.tree import CompactTree, leaf_hash
    from veil.audit.verify import verify_log
    from veil.errors import AuditIntegrityError

    signer = Signer(Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"veil-fuzz").digest()))
    origin = origin_for("fuzz")
    events: list[StoredEvent] = []
    tree = CompactTree()
    for seq in range(1, 5):
        body = {"seq": seq, "id": f"ev{seq}", "node": "fuzz", "time": f"2026-11-29T10:00:0{seq}.000000Z",
                "type": "request"}
        data = json.dumps(body, sort_keys=True).encode()
        events.append(StoredEvent(origin, seq, f"ev{seq}", seq, "request", data, leaf_hash(data)))
        tree.append(leaf_hash(data))
    note = signer.sign(Checkpoint(origin, len(events), tree.root()))
    signed_text = parse_note(note).text

    def mutate(base: bytes, edits: bytes) -> bytes:
        out = bytearray(base)
        for i in range(0, len(edits) - 2, 3):
            op, pos, val = edits[i] % 3, (edits[i + 1] * 7) % (len(out) + 1), edits[i + 2]
            if op == 0 and pos < len(out):
                out[pos] = val
            elif op == 1:
                out[pos:pos] = bytes([val])
            elif pos < len(out):
                del out[pos]
        return bytes(out)

    def one(data: bytes) -> None:
        if not data:
            return
        mode, rest = data[0] % 4, data[1:]
        text = rest.decode("utf-8", "replace")
        if mode == 0:  # random text as a note and as an anchor file
            try:
                parse_note(text)
            except AuditIntegrityError:
                pass
            list(split_notes(text))
            verify_log(origin, events, [text], [signer.verifier])
        elif mode == 1:  # a mutated signed note against the real trail
            mutated = mutate(note.encode(), rest).decode("utf-8", "replace")
            result = verify_log(origin, events, [mutated], [signer.verifier], trusted=[mutated])
            if result.ok and parse_note(mutated).text != signed_text:
                raise AssertionError("a note with changed signed text still verified")
        elif mode == 2:  # a stored event's bytes replaced (leaf recomputed: only checkpoints catch it)
            which = rest[0] % len(events) if rest else 0
            forged = rest[1:]
            changed = list(events)
            e = events[which]
            changed[which] = StoredEvent(e.origin, e.seq, e.event_id, e.time_us, e.type, forged,
                                         leaf_hash(forged))
            result = verify_log(origin, changed, [note], [signer.verifier])
            if result.ok and forged != e.data:
                raise AssertionError("a changed event verified against its checkpoint")
        else:  # notes split from random anchor text, every one verified
            verify_log(origin, events, list(split_notes(note + "\n" + text)), [signer.verifier])

    return one


def _build(target: str) -> Callable[[bytes], None]:
    if target == "wire_frontend":
        return _wire_target("frontend")
    if target == "wire_backend":
        return _wire_target("backend")
    if target == "sql":
        return _sql_target()
    if target == "detect":
        return _detect_target()
    if target == "mask_pg":
        return _mask_pg_target()
    if target == "copy":
        return _copy_target()
    if target == "audit":
        return _audit_target()
    raise SystemExit(f"unknown target {target!r}")


def run_one_target(
    target: str,
    runs: int,
    budget_ms: float,
    per_kb_ms: float,
    workdir: Path,
    artifacts: Path,
    replay: list[Path],
    max_seconds: int = 0,
) -> None:
    """Fuzz ``target`` in this process (``atheris.Fuzz`` exits the interpreter at the end).

    With ``replay`` files, libFuzzer runs just those inputs once (crash triage).
    """
    import atheris

    with atheris.instrument_imports(include=["veil"]):
        fn = _build(target)
    check = _budget(budget_ms, per_kb_ms)
    fn(b"\x00warm-up")  # first call compiles regexes and parser state: not the input's fault

    def test_one_input(data: bytes) -> None:
        try:
            check(fn, data)
        except (SystemExit, KeyboardInterrupt) as exc:  # libFuzzer would only say "target exited"
            raise AssertionError(f"{type(exc).__name__} escaped the target") from exc

    seeds = CORPUS / target
    workdir.mkdir(parents=True, exist_ok=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    inputs = [str(p) for p in replay] or [str(workdir), *([str(seeds)] if seeds.is_dir() else [])]
    argv = [
        sys.argv[0],
        f"-runs={runs}",
        f"-max_len={TARGET_MAX_LEN.get(target, MAX_LEN)}",
        *([f"-max_total_time={max_seconds}"] if max_seconds else []),
        f"-artifact_prefix={artifacts}/",
        "-print_final_stats=1",
        *inputs,
    ]
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


_STAT = re.compile(r"stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb):\s*(\d+)")


@dataclass
class Campaign:
    """One target's totals over all its (possibly resumed) child runs."""

    target: str
    executed: int = 0
    seconds: float = 0.0
    peak_rss_mb: int = 0
    interruptions: int = 0
    crashes: list[Path] = field(default_factory=list)
    known: set[str] = field(default_factory=set)

    def row(self) -> str:
        rate = self.executed / self.seconds if self.seconds else 0.0
        result = "ok" if not self.crashes else f"{len(self.crashes)} crashing input(s)"
        return (
            f"| {self.target} | {self.executed:,} | {rate:,.0f} | {self.peak_rss_mb} | {self.seconds:.0f} "
            f"| {self.interruptions} | {result} |"
        )


def _child(
    target: str,
    runs: int,
    opts: argparse.Namespace,
    workroot: Path,
    artifacts: Path,
    replay: Sequence[Path] = (),
) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable,
        "-m",
        "bench.fuzz",
        "--target",
        target,
        "--runs",
        str(runs),
        "--budget-ms",
        str(opts.budget_ms),
        "--per-kb-ms",
        str(opts.per_kb_ms),
        "--child",
        "--workdir",
        str(workroot / "corpus" / target),
        "--artifacts",
        str(artifacts),
        "--max-seconds",
        str(max(0, int(opts.deadline - time.monotonic())) if opts.max_seconds else 0),
        *map(str, replay),
    ]
    # atheris prints an input's Python traceback on stdout: merge it into the one log
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)


def fuzz_target(target: str, opts: argparse.Namespace, workroot: Path) -> Campaign:
    """Fuzz until ``opts.runs`` inputs ran; a failure whose input does not reproduce is an interruption.

    A failing run is triaged by replaying its saved input alone: if that fails too it
    is a finding (the run stops, the input is reported); if it passes, the failure
    depended on the run's state or timing, the run resumes from the scratch corpus
    (coverage kept) and the event is counted, with its log kept in ``workroot``.
    """
    campaign = Campaign(target)
    artifacts = workroot / "artifacts" / target
    opts.deadline = time.monotonic() + opts.max_seconds
    while campaign.executed < opts.runs and campaign.interruptions <= opts.max_resumes:
        if opts.max_seconds and time.monotonic() >= opts.deadline - 5:
            break
        started = time.monotonic()
        proc = _child(target, opts.runs - campaign.executed, opts, workroot, artifacts)
        campaign.seconds += time.monotonic() - started
        stats = {k: int(v) for k, v in _STAT.findall(proc.stdout)}
        campaign.executed += stats.get("number_of_executed_units", 0)
        campaign.peak_rss_mb = max(campaign.peak_rss_mb, stats.get("peak_rss_mb", 0))
        campaign.known |= set(re.findall(r"KNOWN FINDING: (.*)", proc.stdout))
        if proc.returncode == 0:
            break
        new = sorted(
            p for p in artifacts.glob("*-*") if p.is_file() and p.name.split("-")[0] in _ARTIFACT_KINDS
        )
        replay_dir = workroot / "replay" / target
        real = [p for p in new if _child(target, 1, opts, workroot, replay_dir, [p]).returncode != 0]
        if real or not new:
            campaign.crashes += real or [artifacts / f"rc-{proc.returncode}"]
            out = proc.stdout
            tail = out[out.find("=== Uncaught") :] if "=== Uncaught" in out else out[-3000:]
            print(f"--- {target}: rc={proc.returncode}, crashing inputs {real}\n{tail}", file=sys.stderr)
            break
        campaign.interruptions += 1
        (workroot / f"interrupted-{target}-{campaign.interruptions}.log").write_text(proc.stdout[-20000:])
        for p in new:
            p.rename(p.with_name("interrupted-" + p.name))
    print(campaign.row(), flush=True)
    return campaign


def keep_corpus(target: str, scratch: Path) -> int:
    """Copy the scratch corpus into ``bench/fuzz_corpus/<target>``; how many files were new.

    libFuzzer keeps only inputs that added coverage (and replaces them by smaller ones
    when it can), so its corpus is already the interesting set.  (``-merge=1`` would
    minimize further but re-executes ``argv[0]``, which is not runnable for a Python
    module.)  File names are content hashes, so copying twice adds nothing.
    """
    seeds = CORPUS / target
    seeds.mkdir(parents=True, exist_ok=True)
    added = 0
    for path in scratch.glob("*") if scratch.is_dir() else ():
        if path.is_file() and not (seeds / path.name).exists():
            (seeds / path.name).write_bytes(path.read_bytes())
            added += 1
    return added


def write_results(args: argparse.Namespace, campaigns: list[Campaign], table: str) -> None:
    """The ``### Fuzzing`` part of the Hardening section in RESULTS.md (masking/audit: their own part)."""
    from bench import machine
    from bench.load import write_hardening

    codec = [c for c in campaigns if c.target not in MASK_AUDIT_TARGETS]
    mask_audit = [c for c in campaigns if c.target in MASK_AUDIT_TARGETS]
    if mask_audit:
        write_hardening("Masking and audit fuzzing", _mask_audit_body(args, mask_audit, machine()))
    if not codec:
        return
    table = HEADER + "\n" + "\n".join(c.row() for c in codec)
    targets = " ".join(f"--target {c.target}" for c in codec)
    interrupted = sum(c.interruptions for c in codec)
    note = (
        f'\n{interrupted} run(s) were stopped from outside this process (libFuzzer: "fuzz target exited"; '
        "the saved input replays clean) and resumed from the corpus; counts are totals.\n"
        if interrupted
        else ""
    )
    body = f"""### Fuzzing (atheris, coverage-guided)

`.venv/bin/python -m bench.fuzz --runs {args.runs} {targets}` ({machine()}; shared, noisy)

{table}
{note}
Contract per input: only `veil.errors.ProtocolError` subclasses escape the codec, nothing escapes
`veil.sql`/`veil.detect`, and no input exceeds {args.budget_ms:g} ms + {args.per_kb_ms:g} ms per KiB
(inputs up to {MAX_LEN} bytes). The kept corpus (`bench/fuzz_corpus/`) replays in
`tests/property/test_fuzz_{{wire,sql}}.py`.
"""
    write_hardening("Fuzzing", body)


def _mask_audit_body(args: argparse.Namespace, campaigns: list[Campaign], where: str) -> str:
    table = HEADER + "\n" + "\n".join(c.row() for c in campaigns)
    targets = " ".join(f"--target {c.target}" for c in campaigns)
    known = sorted({k for c in campaigns for k in c.known})
    known_text = "".join(f"\n- known finding (kept fuzzing past it): {k}" for k in known)
    return f"""### Masking and audit fuzzing (atheris, coverage-guided)

`.venv/bin/python -m bench.fuzz --runs {args.runs} {targets} --merge` ({where}; shared, noisy)

{table}

Targets: `mask_pg` (`MaskEngine.mask_pg`, every supported type OID and array OID plus an unknown one,
text and binary format, every method, eight data types incl. None = scan; inputs up to
{TARGET_MAX_LEN["mask_pg"]} bytes), `copy` (`mask_copy_line`/`mask_copy_fields`, seven text/CSV layouts;
identity gives the line back byte for byte, a rewriting mask round-trips through the escaping),
`audit` (`parse_note`/`split_notes` on random text, `verify_log` on a signed 4-event trail with
mutated notes and forged events, leaf hashes recomputed). Contract: only `MaskingError` escapes
masking; `verify_log` never raises and never accepts changed signed text or a changed event; same time
budget as above. Corpus in `bench/fuzz_corpus/{{mask_pg,copy,audit}}`, replayed by
`tests/adversity/test_fuzz_mask_audit.py`.{known_text}
"""


_ARTIFACT_KINDS = frozenset({"crash", "timeout", "oom", "leak", "slow"})

HEADER = (
    "| target | inputs | inputs/s | peak RSS MB | wall s | interruptions | result |\n"
    "|---|---|---|---|---|---|---|"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--target", action="append", choices=TARGETS, help="repeatable; default: all")
    parser.add_argument("--runs", type=int, default=1_000_000, help="inputs per target")
    parser.add_argument("--budget-ms", type=float, default=250.0, help="time budget per input (base)")
    parser.add_argument("--per-kb-ms", type=float, default=250.0, help="extra budget per KiB of input")
    parser.add_argument("--max-seconds", type=int, default=0,
                        help="stop each target after this long even below --runs (libFuzzer -max_total_time)")
    parser.add_argument("--max-resumes", type=int, default=10, help="resumes after outside interruptions")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch corpus root")
    parser.add_argument("--artifacts", type=Path, default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="afterwards, copy the scratch corpus into bench/fuzz_corpus/<target>",
    )
    parser.add_argument("replay", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_one_target(
            args.target[0],
            args.runs,
            args.budget_ms,
            args.per_kb_ms,
            args.workdir,
            args.artifacts,
            args.replay,
            args.max_seconds,
        )
        return 0
    workroot = args.workdir or Path(tempfile.mkdtemp(prefix="veil-fuzz-"))
    print(f"fuzz scratch directory: {workroot}", flush=True)
    campaigns = [fuzz_target(t, args, workroot) for t in (args.target or TARGETS)]
    for c in campaigns if args.merge else ():
        keep_corpus(c.target, workroot / "corpus" / c.target)
    table = HEADER + "\n" + "\n".join(c.row() for c in campaigns)
    print("\n" + table)
    if not args.no_write:
        write_results(args, campaigns, table)
    return 1 if any(c.crashes for c in campaigns) else 0


if __name__ == "__main__":
    sys.exit(main())
