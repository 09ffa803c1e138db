"""Appends events to the Merkle log and writes checkpoints."""
