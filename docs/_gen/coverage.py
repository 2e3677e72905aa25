"""Which pieces of README.md have no home in the manual (docs/**/*.md)?

The README is meant to be a front page whose every fact also lives in one docs page. This splits
it into paragraphs, table rows, list items and code blocks, and reports those not found in the
docs after normalisation (runs of whitespace become one space; spaces around a table's
``|`` are dropped, so re-aligned tables still match; links compare by
their text, as the README links ``docs/...`` where a page links ``../...``). Headings are not
counted. ``--dups`` also lists pieces found more than once (a fact with two homes).

    .venv/bin/python docs/_gen/coverage.py [README.md] [--docs docs] [--quiet] [--dups]

Exit status 1 when something is missing.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^\s*(```|~~~)")
LIST_ITEM = re.compile(r"^(\s*)([-*+]|\d+[.)])\s+")


@dataclass(frozen=True)
class Piece:
    """One countable piece of the README, where it starts."""

    kind: str  # paragraph | table row | list item | code block
    line: int  # 1-based, in the README
    text: str


def norm(text: str) -> str:
    """One space for any run of whitespace; none around table pipes; links by their text.

    The README links ``docs/x.png`` or ``#a-section`` where a page links ``../x.png`` or
    ``../how-to/x.md``: the same link.
    """
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\]\([^()\s]*\)", "]()", text)
    return re.sub(r"\s*\|\s*", "|", text)


def split(markdown: str) -> list[Piece]:
    """The README's pieces, in order."""
    lines = markdown.splitlines()
    pieces: list[Piece] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if FENCE.match(line):
            marker = FENCE.match(line).group(1)  # type: ignore[union-attr]
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith(marker):
                j += 1
            body = "\n".join(lines[i + 1 : j])
            if body.strip():
                pieces.append(Piece("code block", i + 1, body))
            i = j + 1
            continue
        if not line.strip() or line.lstrip().startswith("#") or line.strip().startswith("<!--"):
            i += 1
            continue
        if line.lstrip().startswith("|"):
            if not re.fullmatch(r"\s*\|?[\s:|-]+\|?\s*", line):  # not the |---|---| separator
                pieces.append(Piece("table row", i + 1, line))
            i += 1
            continue
        m = LIST_ITEM.match(line)
        if m:
            indent = len(m.group(1))
            j = i + 1
            while (
                j < len(lines)
                and lines[j].strip()
                and not LIST_ITEM.match(lines[j])
                and not FENCE.match(lines[j])
                and len(lines[j]) - len(lines[j].lstrip()) > indent
            ):
                j += 1
            pieces.append(Piece("list item", i + 1, "\n".join(lines[i:j])))
            i = j
            continue
        j = i + 1
        while (
            j < len(lines)
            and lines[j].strip()
            and not FENCE.match(lines[j])
            and not lines[j].lstrip().startswith(("|", "#"))
            and not LIST_ITEM.match(lines[j])
        ):
            j += 1
        pieces.append(Piece("paragraph", i + 1, "\n".join(lines[i:j])))
        i = j
    return pieces


def docs_text(docs: Path) -> str:
    """Every page of the manual, normalised into one searchable string."""
    parts = [
        p.read_text(encoding="utf-8")
        for p in sorted(docs.rglob("*.md"))
        if "_gen" not in p.parts and not p.name.startswith("_")
    ]
    return norm("\n\n".join(parts))


def main(argv: list[str] | None = None) -> int:
    """Print the missing pieces and the counts; 1 when something is missing."""
    out = sys.stdout.write
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("readme", nargs="?", type=Path, default=ROOT / "README.md")
    ap.add_argument("--docs", type=Path, default=ROOT / "docs")
    ap.add_argument("--quiet", action="store_true", help="counts only")
    ap.add_argument("--dups", action="store_true", help="also list pieces found more than once")
    args = ap.parse_args(argv)

    haystack = docs_text(args.docs)
    pieces = split(args.readme.read_text(encoding="utf-8"))
    totals: dict[str, list[int]] = {}
    missing: list[Piece] = []
    for piece in pieces:
        found = norm(piece.text) in haystack
        t = totals.setdefault(piece.kind, [0, 0])
        t[0] += 1
        t[1] += 0 if found else 1
        if not found:
            missing.append(piece)
        elif args.dups and haystack.count(norm(piece.text)) > 1 and len(norm(piece.text)) > 40:
            first = piece.text.strip().splitlines()[0]
            out(f"{args.readme.name}:{piece.line}: twice: {first[:100]}\n")
    if not args.quiet:
        for piece in missing:
            first = piece.text.strip().splitlines()[0]
            out(f"{args.readme.name}:{piece.line}: {piece.kind}: {first[:110]}\n")
    for kind, (n, miss) in sorted(totals.items()):
        out(f"{kind}: {miss} of {n} missing\n")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
