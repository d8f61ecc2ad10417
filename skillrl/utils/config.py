"""Validation helpers for the typed config dataclasses of every layer.

Each config dataclass checks its own values in ``__post_init__`` with :func:`require` (or raises
:class:`ConfigError` directly), naming the field, the value and what is allowed. The entry point
that builds nested configs (``skillrl.trainer.config.load_config``) prefixes the key with the
path of the section, so a user reads ``env.skills_only_memory.top_k``, not ``top_k``.

>>> str(ConfigError("top_k", -3, "an integer >= 0"))
'invalid value for top_k: -3 (allowed: an integer >= 0)'
>>> str(ConfigError("top_k", -3, "an integer >= 0").under("env.skills_only_memory"))
'invalid value for env.skills_only_memory.top_k: -3 (allowed: an integer >= 0)'
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class ConfigError(ValueError):
    """A setting has a value that is not allowed.

    Attributes:
        key: dotted path of the setting (relative to the config that raised, until
            :meth:`under` prefixes it).
        value: the offending value.
        allowed: what would be accepted, in words.
    """

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        self.key = key
        self.value = value
        self.allowed = allowed
        super().__init__(key, value, allowed)

    def under(self, prefix: str) -> "ConfigError":
        """The same error with ``prefix.`` in front of the key ('' leaves it unchanged)."""
        return ConfigError(f"{prefix}.{self.key}" if prefix else self.key, self.value, self.allowed)

    def __str__(self) -> str:
        return f"invalid value for {self.key}: {self.value!r} (allowed: {self.allowed})"


def require(ok: bool, key: str, value: Any, allowed: str) -> None:
    """Raise :class:`ConfigError` unless ``ok``."""
    if not ok:
        raise ConfigError(key, value, allowed)


def check_int(key: str, value: Any, *, minimum: int | None = None, optional: bool = False) -> None:
    """``value`` is an int (not a bool) and ``>= minimum``; ``None`` passes when ``optional``.

    >>> check_int("n", 0, minimum=1)
    Traceback (most recent call last):
    ...
    skillrl.utils.config.ConfigError: invalid value for n: 0 (allowed: an integer >= 1)
    """
    if value is None and optional:
        return
    allowed = "an integer" + (f" >= {minimum}" if minimum is not None else "") + (" or null" if optional else "")
    ok = isinstance(value, int) and not isinstance(value, bool) and (minimum is None or value >= minimum)
    require(ok, key, value, allowed)


def check_number(key: str, value: Any, *, minimum: float | None = None, maximum: float | None = None,
                 exclusive_minimum: bool = False, optional: bool = False) -> None:
    """``value`` is a real number in the given range; ``None`` passes when ``optional``."""
    if value is None and optional:
        return
    bounds = []
    if minimum is not None:
        bounds.append(f"{'>' if exclusive_minimum else '>='} {minimum:g}")
    if maximum is not None:
        bounds.append(f"<= {maximum:g}")
    allowed = "a number" + (" " + " and ".join(bounds) if bounds else "") + (" or null" if optional else "")
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value  # NaN fails
    if ok and minimum is not None:
        ok = value > minimum if exclusive_minimum else value >= minimum
    if ok and maximum is not None:
        ok = value <= maximum
    require(ok, key, value, allowed)


def check_choice(key: str, value: Any, choices: Iterable[str]) -> None:
    """``value`` is one of ``choices``.

    >>> check_choice("mode", "bogus", ["template", "embedding"])
    Traceback (most recent call last):
    ...
    skillrl.utils.config.ConfigError: invalid value for mode: 'bogus' (allowed: one of embedding, template)
    """
    names = sorted(choices)
    require(value in names, key, value, "one of " + ", ".join(names))
