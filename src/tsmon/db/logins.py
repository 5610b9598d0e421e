"""The login roles of tsmon's processes: tsmon_api and tsmon_worker, their passwords and URLs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tsmon.settings import Settings

log = logging.getLogger("tsmon.db")

API_ROLE = "tsmon_api"  # member of tsmon_ingest and tsmon_reader: writes samples, reads public views
WORKER_ROLE = "tsmon_worker"
READER_ROLE = "tsmon_reader"


def derived_password(secret: str, role: str) -> str:
    """A role's password derived from the embedded cluster's secret: stable, and unguessable without it."""
    digest = hmac.new(secret.encode(), f"tsmon login {role}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _embedded_secret(settings: Settings) -> str | None:
    if settings.database_url is not None:
        return None
    from tsmon.db.connect import embedded_cluster

    state = embedded_cluster(settings).state()
    return state.password if state is not None else None


def login_passwords(settings: Settings) -> dict[str, str]:
    """Passwords `tsmon migrate` gives the login roles: set ones, else derived for the embedded cluster."""
    secret = _embedded_secret(settings)
    chosen = {
        API_ROLE: settings.api_db_password,
        WORKER_ROLE: settings.worker_db_password,
        READER_ROLE: settings.reader_password,
    }
    passwords: dict[str, str] = {}
    for role, value in chosen.items():
        if value is not None:
            passwords[role] = value.get_secret_value()
        elif secret is not None and role != READER_ROLE:  # the reader logs in only when asked to
            passwords[role] = derived_password(secret, role)
    return passwords


def login_url(owner_url: str, role: str, password: str) -> str:
    """``owner_url`` with another user and password (same host, port, database and options)."""
    params = conninfo_to_dict(owner_url)
    params["user"], params["password"] = role, password
    return make_conninfo(**params)  # type: ignore[arg-type]


def process_url(settings: Settings, owner_url: str, role: str) -> tuple[str, bool]:
    """The URL a process connects with, and whether it logged in as ``role`` itself.

    Without a password for ``role`` (a managed database where TSMON_API_DB_PASSWORD or
    TSMON_WORKER_DB_PASSWORD is unset) the process connects as the URL's user and says so: the API
    then drops to tsmon_ingest with SET ROLE, which a RESET ROLE undoes.
    """
    password = login_passwords(settings).get(role)
    if password is None:
        log.warning(
            "no password for login role %s (TSMON_%s_DB_PASSWORD): connecting as the database URL's user",
            role,
            role.removeprefix("tsmon_").upper(),
        )
        return owner_url, False
    return login_url(owner_url, role, password), True
