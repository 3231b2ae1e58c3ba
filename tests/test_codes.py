from __future__ import annotations

import pytest

from meetings.codes import is_valid_code, new_code, normalize_code


def test_new_codes_have_the_meet_shape_and_do_not_repeat() -> None:
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(is_valid_code(code) for code in codes)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("abc-defg-hij", "abc-defg-hij"),
        ("ABCDEFGHIJ", "abc-defg-hij"),
        (" abc defg hij ", "abc-defg-hij"),
        ("https://meet.example.org/m/abc-defg-hij/", "abc-defg-hij"),
        ("abc-defg-hi", None),
        ("abc-defg-hij1", None),
        ("abc_defg_hij", None),
        ("ábc-defg-hij", None),
        ("", None),
    ],
)
def test_typed_codes_are_normalized(typed: str, expected: str | None) -> None:
    assert normalize_code(typed) == expected
