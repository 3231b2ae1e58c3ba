from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from conference.env import Env


def test_booleans_accept_the_usual_spellings() -> None:
    env = Env({"A": "yes", "B": "0", "C": "On"})
    assert (env.boolean("A", False), env.boolean("B", True), env.boolean("C", False), env.boolean("D", True)) == (
        True,
        False,
        True,
        True,
    )


@pytest.mark.parametrize(
    ("source", "read", "message"),
    [
        ({"X": "maybe"}, lambda env: env.boolean("X", False), "X='maybe' is not a boolean"),
        ({"X": "ten"}, lambda env: env.integer("X", 1), "X='ten' is not an integer"),
        ({"X": "0"}, lambda env: env.integer("X", 1, minimum=1), "X=0 is below the minimum 1"),
        ({"X": "mysql://db"}, lambda env: env.url("X", "", schemes=("postgres",)), "must be a URL starting with"),
        ({"X": "blue"}, lambda env: env.choice("X", "red", ("red", "green")), "X='blue' must be one of: red, green"),
        ({"X": "lots/min"}, lambda env: env.rate("X", "1/min"), "is not a rate"),
        ({"X_FILE": "/nonexistent/secret"}, lambda env: env.string("X"), "X_FILE='/nonexistent/secret' cannot be read"),
    ],
)
def test_bad_values_fail_with_the_variable_named(source: dict[str, str], read: object, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message.replace("(", r"\(")):
        read(Env(source))  # type: ignore[operator]


def test_secrets_can_come_from_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    assert Env({"KEY": "from-env", "KEY_FILE": str(secret)}).string("KEY") == "from-a-file"


def test_lists_are_comma_separated() -> None:
    assert Env({"HOSTS": "a.example, b.example,,"}).strings("HOSTS") == ["a.example", "b.example"]
