"""Protocol-neutral services every front end calls: identify -> authorize -> execute -> mask -> audit.

Front ends (PostgreSQL wire, MCP, HTTP) own I/O; they hand each request to a
``Pipeline`` at fixed points and never make policy, masking or audit decisions
themselves.  ``app.py`` builds the concrete pipeline from the config.
"""

from veil.pipeline.hooks import Pipeline, Request, RowMasker, Session

__all__ = ["Pipeline", "Request", "RowMasker", "Session"]
