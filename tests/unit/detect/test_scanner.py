import threading

from veil.detect import Scanner, default_scanner
from veil.detect.builtin.email import EmailDetector
from veil.detect.builtin.phone import PhoneDetector
from veil.values import Finding


def test_default_scanner_is_built_once() -> None:
    assert default_scanner() is default_scanner()


def test_offsets_are_code_points(scanner: Scanner) -> None:
    text = "Grüße 🙂 an jürgen@example.de"
    (finding,) = scanner.scan(text)
    assert (finding.start, finding.end) == (11, 28)
    assert text[finding.start : finding.end] == "jürgen@example.de"


def test_ascii_offsets_after_multibyte_prefix(scanner: Scanner) -> None:
    text = "日本語のテキスト jane@example.com"
    (finding,) = scanner.scan(text)
    assert (finding.start, finding.end) == (9, 25)
    assert text[finding.start : finding.end] == "jane@example.com"


def test_findings_carry_detector_score_and_why(scanner: Scanner) -> None:
    (finding,) = scanner.scan("jane@example.com")
    assert finding == Finding("email", 0, 16, finding.score, "email", finding.why)
    assert 0.5 <= finding.score <= 1.0
    assert "jane" not in finding.why  # never the value


def test_order_is_deterministic(scanner: Scanner) -> None:
    text = "b@example.com a@example.org 10.0.0.1 +1 415 555 0132 4539 1488 0343 6467"
    first = scanner.scan(text)
    assert [f.start for f in first] == sorted(f.start for f in first)
    assert all(scanner.scan(text) == first for _ in range(5))


def test_overlaps_keep_the_best(scanner: Scanner) -> None:
    # the card number contains phone-shaped digit runs; only the card is reported
    assert [f.type for f in scanner.scan("4539 1488 0343 6467")] == ["credit_card"]


def test_has_candidates_is_a_superset_of_scan(scanner: Scanner) -> None:
    for text in ["hello", "", "jane@example.com", "4539 1488 0343 6467", "ok 42"]:
        if scanner.scan(text):
            assert scanner.has_candidates(text)
    assert not scanner.has_candidates("")
    assert not scanner.has_candidates("pending")


def test_custom_detector_set_and_threshold() -> None:
    only_email = Scanner([EmailDetector()])
    assert only_email.scan("+1 415 555 0132, a@example.com") == [
        Finding("email", 17, 30, 0.95, "email", "email address")
    ]
    strict = Scanner([EmailDetector(), PhoneDetector()], threshold=0.99)
    assert strict.scan("a@example.com") == []


def test_thread_safe_reuse(scanner: Scanner) -> None:
    text = "mail jane@example.com from 10.0.0.1"
    expected = scanner.scan(text)
    results: list[list[Finding]] = []

    def work() -> None:
        for _ in range(200):
            results.append(scanner.scan(text))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 800 and all(r == expected for r in results)
