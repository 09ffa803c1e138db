"""veil: an open data-access proxy.

Every request takes one path: identify -> authorize -> execute -> mask -> audit.
See ARCHITECTURE.md in the design notes for the layout.
"""

__version__ = "0.1.0"
