"""Codes and their words, shared by pages, calendars and messages: each said once."""

from __future__ import annotations


def dose_label(phase: str, number: int | None, loading_doses: int | None = None) -> str:
    """How a dose is named everywhere: "Loading 2 of 6", "Loading 4 (alternate days)", "Maintenance 3"."""
    if phase == "loading":
        return f"Loading {number} of {loading_doses}" if loading_doses else f"Loading {number} (alternate days)"
    return f"Maintenance {number}"
