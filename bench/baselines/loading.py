"""Load ``path/to/module.py:Attribute`` the way wfleak's target syntax names it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any


def load(target: str) -> Any:
    path, _, attribute = target.partition(":")
    name = Path(path).stem
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return getattr(module, attribute)
