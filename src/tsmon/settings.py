"""The one Settings object: every TSMON_* environment variable, with its default."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration read from the environment (prefix ``TSMON_``) and an optional ``.env`` file."""

    model_config = SettingsConfigDict(env_prefix="TSMON_", env_file=".env", extra="ignore")

    database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL of a TimescaleDB database; unset means the embedded local cluster.",
    )
    home: Path = Field(
        default=Path(".tsmon"), description="Where the embedded cluster, logs and pid files live."
    )
    pg_bindir: Path | None = Field(
        default=None,
        description="PostgreSQL server binaries for the embedded cluster; default: newest found.",
    )
    db_os_user: str = Field(
        default="postgres",
        description="Unprivileged OS user that runs the embedded server when tsmon itself runs as root.",
    )
    pool_min_size: int = Field(default=1, ge=0, description="Connections the API keeps open.")
    pool_max_size: int = Field(default=10, ge=1, description="Most connections the API opens.")
    pool_timeout_seconds: float = Field(
        default=2.0, gt=0, description="Wait for a free connection this long, then answer 503 + Retry-After."
    )
    ingest_role: str = Field(
        default="tsmon_api",
        description="Role the API's connections SET ROLE to when it cannot log in as tsmon_api (no "
        "TSMON_API_DB_PASSWORD); empty: do not switch.",
    )
    api_host: str = Field(default="127.0.0.1", description="Address `tsmon serve` binds.")
    api_insecure_no_token: bool = Field(
        default=False, description="Allow a non-loopback bind without TSMON_API_TOKEN (not recommended)."
    )
    api_port: int = Field(default=8428, ge=1, le=65535, description="Port `tsmon serve` binds.")
    api_keepalive_seconds: int = Field(
        default=330,
        ge=1,
        description="Idle keep-alive connections are kept this long: longer than senders keep theirs "
        "(Prometheus remote write 5 min), so the sender always closes first and never writes into a "
        "connection the server just closed.",
    )
    api_token: SecretStr | None = Field(
        default=None,
        description="Token the write endpoints require (Token/Bearer, Basic password or ?p=); "
        "required when the API binds a non-loopback address.",
    )
    reader_password: SecretStr | None = Field(
        default=None, description="If set, `tsmon migrate` lets role tsmon_reader (Grafana) log in with it."
    )
    api_db_password: SecretStr | None = Field(
        default=None,
        description="Password of login role tsmon_api (ingest rights only), set by `tsmon migrate`; the API "
        "logs in with it. Embedded database: derived from the cluster's own secret when unset.",
    )
    worker_db_password: SecretStr | None = Field(
        default=None,
        description="Password of login role tsmon_worker (worker rights only), set by `tsmon migrate`; the "
        "worker logs in with it. Embedded database: derived from the cluster's own secret when unset.",
    )
    ingest_batch_rows: int = Field(default=50_000, ge=1, description="Rows per COPY batch in `tsmon ingest`.")
    series_cache_size: int = Field(
        default=200_000, ge=1, description="Series ids kept in memory per process."
    )
    limit_labels_per_series: int = Field(default=30, ge=1, description="Most labels a series may have.")
    limit_label_name_bytes: int = Field(default=1024, ge=1, description="Longest label name.")
    limit_label_value_bytes: int = Field(default=2048, ge=1, description="Longest label value.")
    limit_metric_name_bytes: int = Field(default=1024, ge=1, description="Longest metric name.")
    limit_series_bytes: int = Field(
        default=2400, ge=64, le=2600, description="Metric plus labels of one series (index entry limit)."
    )
    limit_series_per_metric: int = Field(default=100_000, ge=1, description="Cardinality guard per metric.")
    limit_series_total: int = Field(default=2_000_000, ge=1, description="Cardinality guard in all.")
    limit_future_seconds: float = Field(
        default=600.0, ge=0, description="Newest accepted sample, ahead of now."
    )
    limit_body_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024, description="Largest request body, measured after decompression."
    )
    limit_inflight_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1024,
        description="Bytes of request bodies (raw and decompressed) held at once by all requests of one "
        "API process; beyond it a write is answered 503 + Retry-After. At least TSMON_LIMIT_BODY_BYTES.",
    )
    raw_retention_days: float = Field(
        default=30.0, gt=0, description="Raw samples kept this long; older samples are refused at ingest."
    )
    scrape_config: Path | None = Field(
        default=None,
        description="Prometheus configuration file whose scrape_configs the worker scrapes (besides itself).",
    )
    self_scrape_url: str | None = Field(
        default=None,
        description="The API's /metrics the worker scrapes as job tsmon_self; unset: http://<api host>:"
        "<api port>/metrics; empty: no self-scrape.",
    )
    windows_engine: Literal["auto", "continuous_aggregates", "tsmon"] = Field(
        default="auto",
        description="Who maintains the 1m/1h/1d windows: continuous aggregates (full edition), tsmon's own "
        "refresh job, or auto (continuous aggregates when the edition has them). Applied by `tsmon migrate`.",
    )
    retention_1m_days: float | None = Field(
        default=90.0, gt=0, description="1-minute windows kept (empty: forever)."
    )
    retention_1h_days: float | None = Field(
        default=730.0, gt=0, description="1-hour windows kept (empty: forever)."
    )
    retention_1d_days: float | None = Field(
        default=None, gt=0, description="1-day windows kept (unset: forever)."
    )
    compress_after_days: float = Field(
        default=7.0, gt=0, description="Raw chunks older than this are compressed (full edition only)."
    )
    demo: bool = Field(
        default=False,
        description="Feed the synthetic demo workload (injected anomalies, `make run` sets it): "
        "`tsmon up` backfills it and applies its detection configs, the worker feeds it live.",
    )

    @field_validator(
        "api_token", "reader_password", "api_db_password", "worker_db_password", "database_url", mode="before"
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # TSMON_API_TOKEN= (or spaces) must not count as a token: it would pass the public-bind
        # guard and then match an empty credential.
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, SecretStr) and not value.get_secret_value().strip():
            return None
        return value
