"""Credentials never leave the watcher: every text of a finding is masked before it is kept.

A finding's labels come from the service's live objects (dict keys, reprs), which in
production hold API keys, bearer tokens and passwords.
"""

from __future__ import annotations

import re
from dataclasses import replace

from wfleak.model import Finding

MASK = "***"

_SECRETS = (
    # key=value and key: value where the key names a secret
    re.compile(
        r"(?i)(\b[\w-]*(?:password|passwd|secret|token|api[_-]?key|apikey|auth|credential)"
        r"[\w-]*\b['\"]?\s*[:=]\s*['\"]?)([^\s'\",}&]+)"
    ),
    re.compile(r"(?i)(\bbearer\s+)([A-Za-z0-9._~+/=-]{8,})"),
    # well-known key shapes
    re.compile(
        r"()\b(sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16}|xox[baprs]-[A-Za-z0-9-]{10,})"
    ),
    # user:password@ in URLs
    re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]+:)([^\s@/]+)(?=@)"),
)


def mask(text: str) -> str:
    for pattern in _SECRETS:
        text = pattern.sub(lambda m: f"{m.group(1)}{MASK}", text)
    return text


def mask_finding(finding: Finding) -> Finding:
    return replace(
        finding,
        summary=mask(finding.summary),
        title=mask(finding.title),
        fix=mask(finding.fix),
        nodes=[replace(n, label=mask(n.label), type_name=mask(n.type_name)) for n in finding.nodes],
        edges=[replace(e, label=mask(e.label)) for e in finding.edges],
    )
