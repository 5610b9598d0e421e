"""The HTTP API: create_app(settings) builds it; nothing runs at import."""

from tsmon.api.app import create_app

__all__ = ["create_app"]
