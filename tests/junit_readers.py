"""JUnit XML read the way CI systems read it: validated against the junit-10.xsd schema that
Jenkins' xUnit plugin publishes (tests/fixtures/schemas, MIT), then parsed by junitparser."""

from __future__ import annotations

from pathlib import Path

import junitparser
import xmlschema

SCHEMA_FILE = Path(__file__).resolve().parent / "fixtures" / "schemas" / "junit-10.xsd"
_schema: xmlschema.XMLSchema | None = None


def junit_schema() -> xmlschema.XMLSchema:
    global _schema
    if _schema is None:
        _schema = xmlschema.XMLSchema(str(SCHEMA_FILE))
    return _schema


def read_junit(path: Path) -> junitparser.JUnitXml:
    """The file's suites, after checking it against the schema (raises on any violation)."""
    junit_schema().validate(str(path))
    return junitparser.JUnitXml.fromfile(str(path))
