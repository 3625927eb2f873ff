"""``imgflow score ORIGINAL COMPRESSED``: the SSIMULACRA2 score of a pair, as imgflow sees it."""

from __future__ import annotations

import argparse
import struct
import sys
from pathlib import Path
from typing import Any


def register(commands: Any) -> None:
    score = commands.add_parser(
        "score",
        help="print the SSIMULACRA2 score of COMPRESSED against ORIGINAL (100 = identical)",
        description=(
            "Print the SSIMULACRA 2.1 score of COMPRESSED against ORIGINAL, computed with the "
            "reference implementation's arithmetic (any formats Pillow reads; EXIF orientation "
            "applied to both). About 90 is visually lossless, 85 is imgflow's default target."
        ),
    )
    score.add_argument("original", type=Path, metavar="ORIGINAL")
    score.add_argument("compressed", type=Path, metavar="COMPRESSED")
    score.add_argument(
        "--fast",
        action="store_true",
        help="the ~30x faster approximation (can read up to ~1.5 high on very flat images)",
    )
    score.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    """Print the score; exit 2 with one line on stderr for any file it cannot score."""
    from PIL import Image, UnidentifiedImageError
    from PIL.Image import DecompressionBombError

    from imgflow.imaging import quality

    unreadable = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, struct.error)
    images = []
    for role, path in (("original", args.original), ("compressed", args.compressed)):
        try:
            image = Image.open(path)
            image.load()
        except FileNotFoundError:
            return _fail(f"{role} {path}: no such file")
        except DecompressionBombError as exc:
            return _fail(f"{role} {path} is too large to score safely ({exc})")
        except unreadable as exc:
            return _fail(f"{role} {path} is not a readable image ({exc})")
        images.append(image)
    try:
        value = quality.score_images(*images, exact=not args.fast)
    except ValueError as exc:
        return _fail(f"cannot compare {args.original} with {args.compressed}: {exc}")
    except (SyntaxError, struct.error, OSError, EOFError) as exc:
        # Pillow reads EXIF lazily: a broken block surfaces while orienting the pixels.
        return _fail(f"cannot read the metadata of {args.original} or {args.compressed}: {exc}")
    print(f"{value:.6f}")
    return 0


def _fail(message: str) -> int:
    print(f"imgflow score: {message}", file=sys.stderr)
    return 2
