"""Masking: deterministic keyed pseudonyms and the other methods, type-preserving on the wire (pure).

Public API (contracts.md): ``Keyring`` (key file, HKDF subkeys, rotation) and
``MaskEngine`` (``mask_text``, ``mask_value``, ``mask_spans``, ``mask_pg``,
``resolve_method``, ``unmask_text``, ``key_id``); ``METHODS`` names the maskers.
"""

from veil.mask.base import DEFAULT_WEBMAIL
from veil.mask.engine import MaskEngine
from veil.mask.keys import Keyring
from veil.mask.registry import MASKERS, METHODS

__all__ = ["DEFAULT_WEBMAIL", "MASKERS", "METHODS", "Keyring", "MaskEngine"]
