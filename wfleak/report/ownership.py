"""How every output names a finding's owner: who must act on it."""

from __future__ import annotations

from wfleak.model import Finding, Origin


def owner_text(finding: Finding) -> str:
    """``framework (llama-index-workflows 2.26.1)``, ``library (aiohttp 3.14.5)``,
    ``app (samples/leaky_global.py:15)``, ``unknown (why)``."""
    if finding.origin is Origin.APP:
        site = finding.fix_site
        return f"app ({site.filename}:{site.lineno})" if site is not None else "app (your code)"
    if finding.origin in (Origin.FRAMEWORK, Origin.LIBRARY):
        package = finding.origin_package
        return f"{finding.origin.value} ({package})" if package else finding.origin.value
    reason = finding.origin_reason
    return f"unknown ({reason})" if reason else "unknown"
