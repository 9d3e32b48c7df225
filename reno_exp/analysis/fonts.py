"""Prompts in any script in the figures: the widest-coverage fonts installed, else a visible stand-in.

matplotlib falls back from one family to the next glyph by glyph, so prompt text is drawn with every
installed family of ``WIDE`` (DejaVu Sans, matplotlib's own, first). A character that none of them has
is drawn as ``MISSING`` (a white square, which DejaVu has) instead of an empty box, and one warning
names the characters and the fonts that would show them.
"""

from __future__ import annotations

import functools
import logging

log = logging.getLogger(__name__)

# widest coverage first after matplotlib's own font; Noto is split by script, the rest are pan-Unicode
WIDE = (
    "DejaVu Sans", "Noto Sans", "Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK KR", "Noto Sans CJK TC",
    "Noto Sans Arabic", "Noto Sans Hebrew", "Noto Sans Devanagari", "Noto Sans Bengali", "Noto Sans Thai",
    "Noto Sans Symbols", "Noto Sans Symbols2", "Noto Emoji", "Droid Sans Fallback", "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei", "Arial Unicode MS", "Unifont",
)
MISSING = "\u25a1"  # WHITE SQUARE
HINT = "install fonts with wider coverage (Debian: fonts-noto-core fonts-noto-cjk) to show them"


@functools.cache
def families() -> tuple[str, ...]:
    """The installed families of ``WIDE``, in that order (at least matplotlib's DejaVu Sans)."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return tuple(f for f in WIDE if f in installed) or ("DejaVu Sans",)


@functools.cache
def coverage() -> frozenset[int]:
    """Code points that at least one of ``families()`` has a glyph for."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    points: set[int] = set()
    for family in families():
        path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
        points |= set(FT2Font(path).get_charmap())
    return frozenset(points)


_warned: set[str] = set()


def text(s: str) -> str:
    """``s`` with every character no installed font can draw replaced by ``MISSING`` (warned once)."""
    have = coverage()
    missing = sorted({c for c in s if not c.isspace() and ord(c) not in have})
    if not missing:
        return s
    new = [c for c in missing if c not in _warned]
    if new:
        _warned.update(new)
        log.warning("no installed font has %d character(s) of a prompt (%s): drawn as %s; %s",
                    len(new), "".join(new[:12]) + ("..." if len(new) > 12 else ""), MISSING, HINT)
    return "".join(MISSING if c in missing else c for c in s)


def style() -> dict:
    """Keyword arguments for prompt text (``ax.set_title(..., **style())``)."""
    return {"fontfamily": list(families())}
