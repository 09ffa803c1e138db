"""Composition root: the only place objects are wired together (filled in as parts land)."""
