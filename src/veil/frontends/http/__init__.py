"""HTTP front end: JSON query API, MCP over streamable HTTP, health, metrics, JWKS.

``create_app`` builds the Starlette app; ``serve_http`` runs it with uvicorn inside
the caller's event loop (beside the wire proxy in ``veil serve``); ``start_http``
does both from Settings and the composed pipeline.
"""

from veil.frontends.http.app import create_app
from veil.frontends.http.auth import HttpAuthenticator
from veil.frontends.http.listener import curl_example, http_app, start_http
from veil.frontends.http.server import HttpListener, serve_http
from veil.frontends.mcp.credentials import Verifier

__all__ = ["HttpAuthenticator", "HttpListener", "Verifier", "create_app", "curl_example", "http_app",
           "serve_http", "start_http"]
