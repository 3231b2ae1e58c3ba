"""Meet-style join codes: ``abc-defg-hij``, ten lowercase letters from a CSPRNG (26^10 ≈ 1.4e14)."""

from __future__ import annotations

import re
import secrets
import string

ALPHABET = string.ascii_lowercase
GROUPS = (3, 4, 3)
CODE_RE = re.compile(r"^[a-z]{3}-[a-z]{4}-[a-z]{3}$")
CODE_PATTERN = r"[a-z]{3}-[a-z]{4}-[a-z]{3}"


def new_code() -> str:
    return "-".join("".join(secrets.choice(ALPHABET) for _ in range(size)) for size in GROUPS)


def normalize_code(raw: str) -> str | None:
    """Accepts what people type or paste (any case, spaces, missing dashes, a full link)."""
    text = raw.strip().rstrip("/").rsplit("/", 1)[-1].lower()
    letters = "".join(ch for ch in text if ch.isalpha())
    if len(letters) != sum(GROUPS) or any(ch not in ALPHABET for ch in letters):
        return None
    if any(ch not in ALPHABET and ch not in "- " for ch in text):
        return None
    return f"{letters[:3]}-{letters[3:7]}-{letters[7:]}"


def is_valid_code(code: str) -> bool:
    return CODE_RE.match(code) is not None
