"""Detection of sensitive data in values, column names and JSON keys (pure: no I/O).

Public API (contracts.md): ``TYPES``, ``CATEGORIES``, ``Scanner``, ``default_scanner``,
``classify_column``, ``name_hints`` plus the result types ``TypeGuess`` and
``ColumnClassification``.
"""

from __future__ import annotations

from veil.detect.classifier import ColumnClassification, classify_column
from veil.detect.hints import TypeGuess, analyze_name, name_hints
from veil.detect.registry import builtin_detectors, default_scanner
from veil.detect.scanner import Scanner
from veil.detect.types import CATEGORIES, TYPES, category_of

__all__ = [
    "CATEGORIES",
    "TYPES",
    "ColumnClassification",
    "Scanner",
    "TypeGuess",
    "analyze_name",
    "builtin_detectors",
    "category_of",
    "classify_column",
    "default_scanner",
    "name_hints",
]
