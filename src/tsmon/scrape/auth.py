"""A job's HTTP authentication as Prometheus configures it: basic_auth, authorization, bearer_token."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tsmon.scrape.fields import ScrapeConfigError, mapping, string, warn_keys

AUTH_KEYS = ("basic_auth", "authorization", "bearer_token", "bearer_token_file")


@dataclass(frozen=True)
class Secret:
    """A value given inline or as a file, read at every scrape (as Prometheus does: rotated secrets work)."""

    value: str = ""
    file: Path | None = None

    def read(self) -> str:
        if self.file is None:
            return self.value
        try:
            return self.file.read_text().strip()
        except OSError as exc:
            raise ScrapeConfigError(f"cannot read {self.file}: {exc.strerror}") from exc


@dataclass(frozen=True)
class HttpAuth:
    """The Authorization header of every request of a job."""

    scheme: str  # Basic, Bearer or the configured authorization type
    username: Secret | None = None  # Basic only
    credentials: Secret = Secret()

    def header(self) -> str:
        if self.username is not None:
            pair = f"{self.username.read()}:{self.credentials.read()}".encode()
            return f"Basic {base64.b64encode(pair).decode()}"
        return f"{self.scheme} {self.credentials.read()}"


def _secret(raw: dict[str, Any], key: str, where: str, base: Path) -> Secret:
    inline, file = string(raw, key, where), string(raw, f"{key}_file", where)
    if inline and file:
        raise ScrapeConfigError(f"{where}: at most one of {key} and {key}_file may be set")
    return Secret(inline, base / file if file else None)


def parse_auth(job: dict[str, Any], where: str, base: Path) -> HttpAuth | None:
    """The job's authentication, or None; Prometheus allows at most one of its ways."""
    present = [key for key in ("basic_auth", "authorization") if job.get(key) is not None]
    if job.get("bearer_token") or job.get("bearer_token_file"):
        present.append("bearer_token")
    if len(present) > 1:
        raise ScrapeConfigError(f"{where}: at most one of {', '.join(present)} may be configured")
    if not present:
        return None
    if present[0] == "basic_auth":
        raw = mapping(job["basic_auth"], f"{where} basic_auth")
        inner = f"{where} basic_auth"
        warn_keys(raw, ("username", "username_file", "password", "password_file"), (), inner)
        return HttpAuth("Basic", _secret(raw, "username", inner, base), _secret(raw, "password", inner, base))
    if present[0] == "authorization":
        raw = mapping(job["authorization"], f"{where} authorization")
        inner = f"{where} authorization"
        warn_keys(raw, ("type", "credentials", "credentials_file"), (), inner)
        kind = string(raw, "type", inner, "Bearer") or "Bearer"
        if kind.lower() == "basic":
            raise ScrapeConfigError(f'{inner}: type cannot be "Basic"; use basic_auth instead')
        return HttpAuth(kind, credentials=_secret(raw, "credentials", inner, base))
    return HttpAuth("Bearer", credentials=_secret(job, "bearer_token", where, base))
