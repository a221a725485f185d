"""Masking strings that look like credentials, in every report and every output.

A leak's retention path can run through a dict keyed by an API key, and an exception message
can quote a bearer token; neither belongs in a CI log or a saved report. Masked are: values
with the prefixes of common key and token formats, long high-entropy tokens, and values that
follow a key named like a credential (``api_key=…``, ``"token": "…"``, ``Authorization: …``).
``--show-secrets`` (``show_secrets=True``) turns masking off.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter
from enum import Enum
from typing import Any, TypeVar

MASK = "***"

_PREFIXED = re.compile(
    r"\b(?:"
    r"sk-(?:proj-|ant-(?:api\d+-)?)?[A-Za-z0-9_\-]{16,}"  # OpenAI, Anthropic
    r"|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"  # GitHub
    r"|xox[abposr]-[A-Za-z0-9\-]{10,}"  # Slack
    r"|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}"  # AWS access keys
    r"|AIza[0-9A-Za-z_\-]{30,}"  # Google
    r"|hf_[A-Za-z0-9]{20,}"  # Hugging Face
    r"|glpat-[A-Za-z0-9_\-]{20,}"  # GitLab
    r"|(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
    r"|eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}"  # JWT
    r")"
)
_NAMED = re.compile(
    r"(?i)(?P<name>[A-Za-z0-9_\-]*(?:api[_\-]?key|apikey|secret|token|passw(?:or)?d|passwd"
    r"|authorization|auth[_\-]?key|access[_\-]?key|private[_\-]?key|credentials?)"
    r"[A-Za-z0-9_\-]*)(?P<sep>['\"]?\s*[:=]\s*['\"]?(?:(?:Bearer|Basic|Token)\s+)?)"
    r"(?P<value>[^\s'\",;&)}\]]{4,})"
)
_TOKEN = re.compile(r"[A-Za-z0-9_\-+=]{32,}")
_KEY_NAME = re.compile(
    r"(?i)(api[_\-]?key|apikey|secret|token|passw(or)?d|authorization|credential"
    r"|private[_\-]?key|access[_\-]?key)"
)

T = TypeVar("T")


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _looks_random(token: str) -> bool:
    """A long token of mixed letters and digits with high entropy: a key, not a word, a
    path or a hex digest of the kind reports show (fingerprints are 16 hex digits)."""
    if re.fullmatch(r"[0-9a-f]+", token) and len(token) <= 64:
        return False
    classes = sum(bool(re.search(pattern, token)) for pattern in (r"[a-z]", r"[A-Z]", r"[0-9]"))
    return classes >= 3 and _entropy(token) >= 4.0


def mask_text(text: str) -> str:
    """``text`` with everything that looks like a credential replaced by ``***``."""
    if len(text) < 8:
        return text
    text = _PREFIXED.sub(MASK, text)
    text = _NAMED.sub(lambda m: m["name"] + m["sep"] + MASK, text)
    return _TOKEN.sub(lambda m: MASK if _looks_random(m[0]) else m[0], text)


def is_credential_name(name: str) -> bool:
    return bool(_KEY_NAME.search(name))


def _mask_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, list):
        return [_mask_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_mask_value(v) for v in value)
    if isinstance(value, dict):
        return {
            _mask_value(k): MASK if isinstance(k, str) and is_credential_name(k) else _mask_value(v)
            for k, v in value.items()
        }
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _mask_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    return value


def mask_report(report: T) -> T:
    """A copy of a report (or any result model) with every string masked."""
    masked: T = _mask_value(report)
    return masked
