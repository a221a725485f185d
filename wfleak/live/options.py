"""The options of ``wfleak.watch()``, checked once."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from enum import StrEnum

from wfleak.errors import UsageError


class ExplainMode(StrEnum):
    """How retained runs are explained."""

    AUTO = "auto"
    """Fork where that is safe (Linux), else the bounded walk in a thread."""
    FORK = "fork"
    THREAD = "thread"
    OFF = "off"
    """Count and export only."""


DEFAULT_GRACE = 30.0
DEFAULT_EXPLAIN_RATE = 300.0


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int


@dataclass(frozen=True)
class WatchOptions:
    grace: float = DEFAULT_GRACE
    """Seconds after a run ends before its objects must be gone (past a normal run's timers)."""
    collect_every: float | None = None
    """Force a full collection at this cadence while runs wait for one; None waits for the
    process's own."""
    explain: ExplainMode = ExplainMode.AUTO
    explain_rate: float = DEFAULT_EXPLAIN_RATE
    """At most one explanation per this many seconds, after the first of each workflow."""
    endpoint: Endpoint | None = None
    token: str | None = None


def _seconds(name: str, value: object, allow_zero: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UsageError(f"watch(): {name} must be a number of seconds, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise UsageError(f"watch(): {name} must be {'0 or more' if allow_zero else 'above 0'}")
    return float(value)


def parse_endpoint(value: object) -> Endpoint:
    """``"127.0.0.1:9465"``, ``"localhost:0"`` or a port number (on 127.0.0.1)."""
    if isinstance(value, int) and not isinstance(value, bool):
        host, port_text = "127.0.0.1", str(value)
    elif isinstance(value, str) and ":" in value:
        host, _, port_text = value.rpartition(":")
        host = host.strip("[]")
    else:
        raise UsageError(f"watch(): endpoint must be 'host:port' or a port number, got {value!r}")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise UsageError(f"watch(): endpoint port must be 0 to 65535, got {port_text!r}")
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise UsageError(
                f"watch(): the endpoint serves findings from the heap, so it listens on a "
                f"loopback address only (127.0.0.1, ::1 or localhost), not {host!r}"
            )
    return Endpoint(host, int(port_text))


def make_options(
    *,
    grace: object = DEFAULT_GRACE,
    collect_every: object = None,
    explain: object = ExplainMode.AUTO,
    explain_rate: object = DEFAULT_EXPLAIN_RATE,
    endpoint: object = None,
    token: object = None,
) -> WatchOptions:
    try:
        mode = ExplainMode(str(explain)) if isinstance(explain, str) else ExplainMode("")
    except ValueError:
        choices = ", ".join(repr(m.value) for m in ExplainMode)
        raise UsageError(f"watch(): explain must be one of {choices}, got {explain!r}") from None
    parsed_endpoint = None if endpoint is None else parse_endpoint(endpoint)
    if token is not None and (not isinstance(token, str) or len(token) < 16):
        raise UsageError("watch(): token must be a string of at least 16 characters")
    if parsed_endpoint is not None and token is None:
        raise UsageError(
            "watch(): an endpoint needs a token (clients send 'Authorization: Bearer <token>')"
        )
    return WatchOptions(
        grace=_seconds("grace", grace, allow_zero=True),
        collect_every=None
        if collect_every is None
        else _seconds("collect_every", collect_every, allow_zero=False),
        explain=mode,
        explain_rate=_seconds("explain_rate", explain_rate, allow_zero=True),
        endpoint=parsed_endpoint,
        token=token if isinstance(token, str) else None,
    )
