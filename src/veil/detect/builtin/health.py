"""Health information: diagnoses, conditions, medications and ICD-10 codes in free text, and any
non-empty cell of a column named for them (``diagnosis``, ``medication``, ``icd10``...).

The term list is deliberately specific (named conditions, not "pain" or "test") so
support tickets and product text do not light up.
"""

from __future__ import annotations

from typing import ClassVar

from veil.detect.base import Detector, Pattern

CONDITIONS: tuple[str, ...] = (
    "diabetes",
    "diabetic",
    "hypertension",
    "asthma",
    "copd",
    "hiv",
    "aids",
    "hepatitis [abc]",
    "cancer",
    "carcinoma",
    "leukemia",
    "leukaemia",
    "lymphoma",
    "melanoma",
    "tumou?r",
    "chemotherapy",
    "radiotherapy",
    "depression",
    "depressive disorder",
    "bipolar disorder",
    "schizophrenia",
    "anxiety disorder",
    "ptsd",
    "adhd",
    "autism",
    "dementia",
    "alzheimer'?s",
    "parkinson'?s",
    "epilepsy",
    "multiple sclerosis",
    "stroke",
    "myocardial infarction",
    "heart attack",
    "heart failure",
    "arrhythmia",
    "atrial fibrillation",
    "angina",
    "tuberculosis",
    "pneumonia",
    "covid-19",
    "influenza",
    "sepsis",
    "chlamydia",
    "gonorrh?oea",
    "syphilis",
    "herpes",
    "hpv",
    "pregnan(?:t|cy)",
    "miscarriage",
    "abortion",
    "infertility",
    "anorexia",
    "bulimia",
    "obesity",
    "osteoporosis",
    "arthritis",
    "rheumatoid",
    "lupus",
    "crohn'?s disease",
    "ulcerative colitis",
    "celiac disease",
    "cirrhosis",
    "kidney disease",
    "renal failure",
    "dialysis",
    "transplant",
    "hiv positive",
    "substance abuse",
    "alcoholism",
    "opioid use disorder",
    "overdose",
    "suicidal",
    "self-harm",
    "psychosis",
    "migraine",
    "hypothyroidism",
    "hyperthyroidism",
    "coronary artery disease",
    "osteoarthritis",
    "gout",
    "an(?:a)?emia",
    "glaucoma",
    "psoriasis",
    "eczema",
    "hiv infection",
    "sickle cell",
    "cystic fibrosis",
    "insulin",
    "metformin",
    "lisinopril",
    "atorvastatin",
    "levothyroxine",
    "amlodipine",
    "sertraline",
    "fluoxetine",
    "prozac",
    "lithium carbonate",
    "methadone",
    "buprenorphine",
    "oxycodone",
    "warfarin",
    "antiretroviral",
    "allergic to penicillin",
    "penicillin allergy",
)


class HealthDetector(Detector):
    name = "health"
    type = "health"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern(r"(?i)\b(?:" + "|".join(CONDITIONS) + r")\b", 0.7, "clinical term"),
        Pattern(
            r"(?i:\bicd(?:-?10)?(?: code)?[:\s]{1,3})([A-TV-Z][0-9][0-9AB](?:\.[0-9A-Z]{1,4})?)\b",
            0.85,
            "ICD-10 code",
        ),
    )
    context = (
        "patient",
        "diagnos",
        "prescribed",
        "medical",
        "clinic",
        "doctor",
        "treatment",
        "history of",
        "symptom",
    )
    shapes = frozenset({"health"})

    def shape(self, value: str, tag: str) -> float | None:
        return 0.9 if any(c.isalpha() for c in value) else None
