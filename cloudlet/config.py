"""Server configuration: what ``cloudlet serve`` was asked for, resolved once."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 4566


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "cloudlet"


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    data_dir: Path | None = None
    """None with ``ephemeral`` False means the default data dir."""
    ephemeral: bool = False
    auth: str = "open"
    root_access_key: str = "test"
    root_secret_key: str = "test"
    log_level: str = "warning"
    max_body_bytes: int = 64 * 1024 * 1024
    request_timeout: float = 20.0
    """Seconds a request's head or body may stop arriving before the connection is
    dropped (S3 answers ``RequestTimeout`` after about 20)."""
    smtp_host: str | None = None
    """Where SNS sends email subscriptions' mail; None keeps it (``/_cloudlet/sns/emails``)."""
    smtp_port: int = 25

    def __post_init__(self) -> None:
        if self.auth not in ("open", "strict"):
            raise ValueError(f"auth must be open or strict, not {self.auth!r}")
        if not is_loopback(self.host):
            # Anyone on the network could reach us: always verify signatures.
            self.auth = "strict"
        if not self.ephemeral and self.data_dir is None:
            self.data_dir = default_data_dir()

    @property
    def state_dir(self) -> Path | None:
        """Where services keep state; None when ephemeral."""
        return None if self.ephemeral else self.data_dir
