"""Neutralising text that comes from the user's program, once per kind of output.

Exception messages, reprs, type and attribute names and dict keys are the user's (or an
attacker's, through a request that ends up in an exception). Each output has its own way to
be subverted: escape sequences that clear a terminal or retitle its window, a log line that
GitHub Actions runs as a workflow command, a character that makes JUnit XML unparseable, a
newline that ends a Mermaid label or closes a Markdown fence, HTML that a summary renders.
Every renderer passes such text through the function for its output.
"""

from __future__ import annotations

import html
import re

TERMINAL_LIMIT = 2000
"""Characters of one message a terminal or CI log shows; the rest is counted, not printed."""

_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)
_CONTROL_OR_NEWLINE = re.compile(_CONTROL.pattern[:-1] + "\n]")
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_COMMAND_START = re.compile(r"^(\s*)::", re.MULTILINE)


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\n":
        return "\\n"
    if char == "\r":
        return "\\r"
    if char == "\t":
        return "\\t"
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def bounded(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def terminal(text: str, limit: int = TERMINAL_LIMIT) -> str:
    """One bounded line: control characters (escape sequences, carriage returns, bidi
    overrides) and newlines shown as escapes, never interpreted; and, since a terminal may be
    a CI log, never the start of a GitHub Actions workflow command."""
    return github_log(bounded(_CONTROL_OR_NEWLINE.sub(_escaped, text), limit))


def terminal_block(text: str, limit: int = TERMINAL_LIMIT) -> str:
    """Like :func:`terminal`, but keeping the line breaks of a text wfleak wrote."""
    return bounded(_CONTROL.sub(_escaped, text), limit)


def github_log(text: str) -> str:
    """Text for a GitHub Actions log: no line of it can start a workflow command."""
    return _COMMAND_START.sub(lambda m: m.group(1) + ":\u200b:", _CONTROL.sub(_escaped, text))


def xml(text: str) -> str:
    """Only characters XML 1.0 allows (escape sequences shown as ``\\x1b``), so the file
    always parses; ElementTree escapes the markup characters."""
    return _XML_INVALID.sub(_escaped, text)


def mermaid(text: str) -> str:
    """A quoted Mermaid label: one line, its own entity codes for what it would parse."""
    text = terminal(text, limit=300).replace("#", "#35;")
    for char, code in (('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("|", "#124;")):
        text = text.replace(char, code)
    for char in "[]{}()`":
        text = text.replace(char, f"#{ord(char)};")
    return text


def dot(text: str) -> str:
    """A quoted Graphviz string: one line, quotes and backslashes escaped."""
    return terminal(text, limit=300).replace("\\", "\\\\").replace('"', '\\"')


def _markdown_plain(text: str) -> str:
    return html.escape(text, quote=False).replace("|", "\\|")


def markdown(text: str) -> str:
    """Markdown text on one line: HTML escaped outside code spans (so ``<event loop>`` is
    shown, not dropped by GitHub's sanitizer), a code span's text left as it is."""
    text = terminal(text)
    parts = text.split("`")
    if len(parts) % 2 == 0:
        # An unbalanced backtick: no code spans at all.
        return _markdown_plain(text).replace("`", "\\`")
    return "`".join(
        part.replace("|", "\\|") if index % 2 else _markdown_plain(part)
        for index, part in enumerate(parts)
    )


def code_span(text: str) -> str:
    """``text`` as one Markdown code span, whatever backticks it holds."""
    text = terminal(text, limit=300).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or longest else ""
    return f"{fence}{pad}{text}{pad}{fence}"
