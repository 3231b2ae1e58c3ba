"""The docs stay true: every environment variable the settings read is in the README's table."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_from_the_environment_is_documented() -> None:
    settings_source = (ROOT / "conference" / "settings.py").read_text()
    names = set(re.findall(r'env\.[a-z]+\(\s*"([A-Z_]+)"', settings_source))
    assert len(names) > 20
    readme = (ROOT / "README.md").read_text()
    assert sorted(name for name in names if f"| `{name}` |" not in readme) == []


def test_the_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    assert "make test" in (ROOT / "README.md").read_text()
