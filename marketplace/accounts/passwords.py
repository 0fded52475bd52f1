"""The password policy, applied wherever a password is chosen: registration, change and reset."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from flask_babel import gettext as _

MIN_PASSWORD_LENGTH = 8
COMMON_PASSWORDS_FILE = Path(__file__).parent / "data" / "common-passwords.txt"


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The 10,000 commonest passwords, lowercased (read once per process)."""
    with COMMON_PASSWORDS_FILE.open(encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def password_problem(password: str, email: str | None = None) -> str | None:
    """Why ``password`` may not be chosen (a translated message), or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return _("密码至少需要 %(n)d 位", n=MIN_PASSWORD_LENGTH)
    folded = password.strip().lower()
    if folded in common_passwords():
        return _("这个密码太常见，很容易被猜到，请换一个")
    if email:
        address = email.strip().lower()
        local_part = address.split("@", 1)[0]
        if folded in {address, local_part}:
            return _("密码不能与邮箱地址相同")
    return None
