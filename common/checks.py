"""Argument checks the papers' networks share."""

from __future__ import annotations

from collections.abc import Collection


def check_choice(name: str, value: object, allowed: Collection) -> None:
    """A ``ValueError`` naming ``name``, the allowed values and ``value`` if it is not one."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
