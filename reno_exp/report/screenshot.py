"""``python -m reno_exp.report.screenshot <report.html> <png> [--at gallery] [--width W --height H]``.

A PNG of a report's screen in headless Chromium (installed on first use by scripts/chromium.py): the top
of the page, or the screen that starts at a section (``--at jobs|tables|curves|analysis|gallery``). The
README's picture is made this way; ``--colors N`` stores it with an N-colour palette, a fraction of the
bytes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

from reno_exp.report import browser, sources

SECTIONS = ("jobs", "tables", "curves", "analysis", "gallery")


def main(argv: list[str] | None = None) -> int:
    parser = sources.ArgumentParser(prog="python -m reno_exp.report.screenshot", description=__doc__.split("\n\n")[0])
    parser.add_argument("page", type=Path, help="a report.html")
    parser.add_argument("png", type=Path, help="the PNG to write")
    parser.add_argument("--at", choices=SECTIONS, help="the section the screen starts at (default: the top)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=800)
    parser.add_argument("--colors", type=int, default=None, help="store with a palette of this many colours")
    args = parser.parse_args(argv)

    def body() -> int:
        if not args.page.is_file():
            raise sources.UserError(f"{args.page} is not a file: give a report.html")
        for name, low in (("width", 200), ("height", 200), ("colors", 2)):
            value = getattr(args, name)
            if value is not None and not low <= value <= (256 if name == "colors" else 8000):
                raise sources.UserError(f"--{name} out of range: {value}")
        sources.writable(args.png, folder=False)
        browser.screenshot(args.page, args.png, args.width, args.height, args.at,
                           log=lambda m: print(m, file=sys.stderr))
        if args.colors:
            with Image.open(args.png) as im:
                im.convert("RGB").quantize(args.colors, method=Image.Quantize.MEDIANCUT).save(args.png, optimize=True)
        print(f"{args.png}: {args.png.stat().st_size / 1e3:.0f} kB")
        return 0

    return sources.guarded(body)


if __name__ == "__main__":
    sys.exit(main())
