"""Console theme names: the config file's `theme` mapped to Textual themes.

`dark` and `light` are Textual's own; `ansi` uses the terminal's palette
(16 / 256-colour SSH sessions, terminals with a curated colour scheme). Any
other built-in Textual theme name is accepted as is. Owns names only; the app
applies the result.
"""

from __future__ import annotations

from textual.theme import BUILTIN_THEMES

DEFAULT_THEME = "dark"

ALIASES: dict[str, str] = {
    "dark": "textual-dark",
    "light": "textual-light",
    # Textual 8 calls its terminal-palette theme "ansi-dark" (there is no
    # "textual-ansi"): colours are emitted as ANSI indexes, not RGB
    "ansi": "ansi-dark",
}


def textual_theme(name: str) -> str | None:
    """The Textual theme for a config name, or None if there is none."""
    key = name.strip().lower()
    if key in ALIASES:
        return ALIASES[key]
    return key if key in BUILTIN_THEMES else None


def theme_choices() -> list[str]:
    """Names the config file accepts, ours first."""
    return [*ALIASES, *sorted(t for t in BUILTIN_THEMES if t not in ALIASES.values())]
