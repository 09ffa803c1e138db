from dataclasses import dataclass

import pytest

from veil.errors import MaskingError
from veil.mask.engine import MaskEngine
from veil.mask.keys import Keyring
from veil.pipeline.masking import MaskPlanner
from veil.values import ColumnInfo, Decision

MASKED = Decision(True, "agents", mask=(("default", "pseudonymize"), ("credit_card", "partial")))
ADMIN = Decision(True, "break-glass", mask=(("default", "none"),))
ADMIN_ALL = Decision(True, "break-glass", mask=(("default", "none"), ("secret", "none")))


@dataclass(frozen=True)
class Lineage:
    sources: frozenset[str]
    transform: str
    complete: bool = True


@pytest.fixture(scope="module")
def planner():
    return MaskPlanner(MaskEngine(Keyring.generate()),
                       column_tags={"public.patients.diagnosis": "health", "public.orders.note": "none"})


def col(name, oid=25, fmt=0, table=None, column=None):
    return ColumnInfo(name, oid, fmt, table=table, column=column)


def test_sources_of_column_types_in_priority_order(planner):
    cols = [col("id", 23), col("email"), col("note"),
            col("diagnosis", table="public.patients", column="diagnosis"),
            col("note", table="public.orders", column="note"), col("active", 16), col("created_at", 1184),
            col("amount", 1700), col("x"), col("card_number", 20)]
    lineage = [None, None, None, None, None, None, None, None,
               Lineage(frozenset({"public.customers.ssn"}), "cast"), None]
    masker = planner.plan(MASKED, cols, lineage)
    plans = {p.index: p for p in masker.plans}
    assert set(plans) == {1, 2, 3, 8, 9}  # id, tagged-clean note, bool, timestamp, numeric never decoded
    assert (plans[1].kind, plans[1].data_type, plans[1].source) == ("typed", "email", "name")
    assert (plans[2].kind, plans[2].source) == ("scan", "scan")
    assert (plans[3].data_type, plans[3].source) == ("health", "tag")
    assert (plans[8].data_type, plans[8].source) == ("us_ssn", "lineage")
    assert (plans[9].data_type, plans[9].method) == ("credit_card", "partial")


def test_a_value_deep_in_an_innocent_column_is_still_caught(planner):
    masker = planner.plan(MASKED, [col("comment")])
    rows = [[b"nothing to see %d" % i] for i in range(10_000)] + [[b"reach me at ana@acme.org"]]
    out = [masker.mask_row(r) for r in rows]
    assert out[:10_000] == rows[:10_000]
    assert b"ana@acme.org" not in out[-1][0] and out[-1][0].startswith(b"reach me at ")
    [prov] = masker.provenance()
    assert (prov.column, prov.method, prov.count, prov.key_id) == ("comment", "scan", 1, "k1")


def test_typed_columns_null_stays_null_and_rows_are_deterministic(planner):
    masker = planner.plan(MASKED, [col("email"), col("card_number", 20, fmt=1)])
    card = (4539148803436467).to_bytes(8, "big", signed=True)
    a = masker.mask_row([b"ana@acme.org", card])
    b = planner.plan(MASKED, [col("email"), col("card_number", 20, fmt=1)]).mask_row([b"ana@acme.org", card])
    assert a == b and a[0] != b"ana@acme.org" and len(a[1]) == 8
    assert int.from_bytes(a[1], "big") % 10000 == 6467  # partial keeps the last four
    assert masker.mask_row([None, None]) == [None, None]


def test_lineage_transformed_redacts_and_embedded_scans(planner):
    cols = [col("h"), col("j", 3802)]
    lineage = [Lineage(frozenset({"public.customers.ssn"}), "transformed"),
               Lineage(frozenset({"public.customers.ssn", "public.customers.id"}), "embedded")]
    masker = planner.plan(MASKED, cols, lineage)
    out = masker.mask_row([b"3132332d34352d36373839", b'{"ssn": "123-45-6789", "id": 7}'])
    assert out[0] == b"[REDACTED]"
    assert b"6789" not in out[1] and b'"id": 7' in out[1]


def test_bytea_with_sensitive_bytes_is_emptied(planner):
    masker = planner.plan(MASKED, [col("b", 17), col("b2", 17, fmt=1)])
    assert masker.mask_row([b"\\x3132332d34352d36373839", b"123-45-6789"]) == [b"\\x", b""]
    assert masker.mask_row([b"\\x0102", b"\x01\x02"]) == [b"\\x0102", b"\x01\x02"]


def test_nothing_to_mask_gives_none(planner):
    assert planner.plan(ADMIN_ALL, [col("email"), col("note")]) is None
    assert planner.plan(MASKED, [col("id", 23), col("active", 16)]) is None
    # default none still redacts secrets unless the policy names them: text must be scanned
    masker = planner.plan(ADMIN, [col("email"), col("note")])
    assert masker is not None and [p.name for p in masker.plans] == ["note"]
    out = masker.mask_row([b"ana@acme.org", b"key AKIAIOSFODNN7EXAMPLE and ana@acme.org"])
    assert out[0] == b"ana@acme.org" and b"AKIAIOSFODNN7EXAMPLE" not in out[1] and b"ana@acme.org" in out[1]


def test_plans_are_cached_but_counts_are_per_masker(planner):
    cols = [col("email")]
    one, two = planner.plan(MASKED, cols), planner.plan(MASKED, cols)
    assert one.plans is two.plans and one is not two
    one.mask_row([b"a@b.org"])
    assert one.provenance()[0].count == 1 and two.provenance()[0].count == 0


def test_fail_closed(planner):
    masker = planner.plan(MASKED, [col("email"), col("n", 23, table="public.t", column="ssn")])
    with pytest.raises(MaskingError):
        masker.mask_row([b"a@b.org"])  # wrong width
    with pytest.raises(MaskingError):
        masker.mask_row([b"a@b.org", b"not a number"])


def test_error_fields_and_notifications(planner):
    fields = {"S": "ERROR", "C": "22P02", "M": 'invalid input syntax for type integer: "123-45-6789"',
              "D": "Key (email)=(ana@acme.org) already exists."}
    out = planner.mask_fields(MASKED, fields)
    assert out["S"] == "ERROR" and out["C"] == "22P02"
    assert "123-45-6789" not in out["M"] and "ana@acme.org" not in out["D"]
    assert out["D"].startswith("Key (email)=(")
    assert "ana@acme.org" not in planner.mask_notification(MASKED, "user ana@acme.org signed up")
    assert planner.mask_fields(ADMIN_ALL, fields) == fields


def test_copy_rows_text_and_csv(planner):
    line = b"1\tana@acme.org\t\\N\tnote\\twith tab 123-45-6789\n"
    out = planner.mask_copy_row(MASKED, line)
    parts = out.rstrip(b"\n").split(b"\t")
    assert parts[0] == b"1" and parts[2] == b"\\N" and b"ana@acme.org" not in out and b"6789" not in out
    assert parts[3].startswith(b"note\\twith tab ")
    csv_line = b'1,ana@acme.org,,"he said ""hi"", 123-45-6789"\n'
    out = planner.mask_copy_row(MASKED, csv_line, csv=True)
    assert out.startswith(b"1,") and b",," in out and b"ana@acme.org" not in out and b"6789" not in out
    assert b'""hi""' in out
    clean = b"1,plain,,text\n"
    assert planner.mask_copy_row(MASKED, clean, csv=True) is clean


def test_inet_and_mac_columns_are_typed_by_their_oid(planner):
    masker = planner.plan(MASKED, [col("host", 869), col("hosts", 1041), col("dev", 829), col("n", 20)])
    plans = {p.name: p for p in masker.plans}
    assert set(plans) == {"host", "hosts", "dev"}
    assert plans["host"].data_type == "ip_address" and plans["host"].source == "values"
    out = masker.mask_row([b"10.1.2.3", b"{10.1.2.3,10.1.2.4}", b"08:00:2b:01:02:03", b"42"])
    assert out[0] != b"10.1.2.3" and b"10.1.2.3" not in out[1] and out[3] == b"42"


def test_from_settings_uses_the_configs_key_and_column_tags(tmp_path):
    from veil.config import parse_config
    from veil.mask.keys import Keyring

    Keyring.generate().save(tmp_path / "masking.key")
    settings = parse_config(
        "upstream: {postgres: 'postgresql://x@127.0.0.1:1/db'}\n"
        "keys: {masking: 'file:./masking.key'}\n"
        "columns: {public.t.c: us_ssn}\n", base=tmp_path)
    planner = MaskPlanner.from_settings(settings)
    masker = planner.plan(MASKED, [col("c", table="public.t", column="c")])
    assert masker.plans[0].data_type == "us_ssn" and masker.plans[0].source == "tag"
    assert masker.mask_row([b"123-45-6789"])[0].startswith(b"9")


def test_embedded_names_in_plain_text_are_masked_whole(planner):
    cols = [col("who"), col("doc", 3802)]
    lineage = [Lineage(frozenset({"public.customers.first_name", "public.customers.last_name"}), "embedded"),
               Lineage(frozenset({"public.customers.full_name"}), "embedded")]
    masker = planner.plan(MASKED, cols, lineage)
    plans = {p.name: p for p in masker.plans}
    who = plans["who"]
    assert (who.kind, who.data_type, who.source) == ("typed", "person_name", "lineage")
    assert plans["doc"].kind == "scan"  # JSON keeps its keys: walked, not replaced
    out = masker.mask_row([b"Ana Lopez", b'{"full_name": "Ana Lopez"}'])
    assert b"Lopez" not in out[0] and b"Lopez" not in out[1]


def test_array_agg_of_names_is_masked_element_by_element(planner):
    lineage = [Lineage(frozenset({"public.customers.full_name"}), "embedded")]
    masker = planner.plan(MASKED, [col("names", 1009)], lineage)
    out = masker.mask_row([b'{"Ana Lopez","Bob Stone",NULL}'])[0]
    assert b"Lopez" not in out and b"Stone" not in out and out.endswith(b",NULL}")


def test_copy_text_rows_with_a_custom_delimiter_and_escaped_delimiters(planner):
    line = b"1|a\\|b|ana@acme.org|\\N\n"
    out = planner.mask_copy_row(MASKED, line, delimiter="|")
    fields = out.rstrip(b"\n").split(b"|")
    assert out.startswith(b"1|a\\|b|") and b"ana@acme.org" not in out and out.endswith(b"|\\N\n")
    assert len(fields) == 5  # the escaped delimiter stays escaped
