"""The YAML contract (INTERFACE.md) -> validated settings. Owned by the identity/policy work."""
