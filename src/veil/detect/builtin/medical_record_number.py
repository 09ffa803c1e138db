"""Medical record numbers: hospital-specific formats, so only after "MRN"/"medical record" or
under such a column name."""

from __future__ import annotations

from typing import ClassVar

from veil.detect.base import Detector, Pattern


class MedicalRecordNumberDetector(Detector):
    name = "medical_record_number"
    type = "medical_record_number"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            r"(?i:\b(?:mrn|medical record(?: number| no\.?| #)?|patient (?:id|number|no\.?)"
            r"|chart (?:no\.?|number))"
            r"[:#\s]{1,3})([A-Za-z]{0,4}-?[0-9]{4,12})\b",
            0.85,
            "number after a medical record word",
        ),
    )
    shapes = frozenset({"mrn"})

    def shape(self, value: str, tag: str) -> float | None:
        compact = value.replace("-", "")
        ok = 4 <= len(compact) <= 16 and compact.isalnum() and sum(c.isdigit() for c in compact) >= 4
        return 0.95 if ok else None
