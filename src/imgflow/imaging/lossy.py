"""Perceptually targeted lossy JPEG: the smallest file whose SSIMULACRA2 stays above a target.

The search tries two families of re-encodings of the decoded original and
keeps the smallest file that scores at or above the target:

- ``jpegli``: Google's jpegli (PyPI ``pyjpegli``) at integer quality, 4:2:0
  (for a grayscale source, its luma plane alone: the output stays grayscale).
  Best for high-quality sources: its adaptive quantisation beats
  libjpeg-turbo by about a quarter at equal score.
- ``requant``: libjpeg-turbo (Pillow) with the source's own quantisation
  tables scaled by a factor >= 1 and the source's chroma subsampling. The
  8x8 grid and the subsampling stay aligned with the source, so a factor of
  1 nearly reproduces its coefficients and a slightly larger one removes
  precision the source already lost. Best for sources saved at quality
  70-80, where every jpegli quality either fails the target or saves nothing.

The winner is entropy-optimised with mozjpeg (progressive, optimised
Huffman tables) and the losslessly optimised source (score 100) is the size
to beat, so the result is never worse than the lossless mode. Costs are
kept down by: the original's side of the metric computed once
(``quality.Reference``); a first probe predicted from the source's
quantisation tables, a second from a measured slope, then secant steps
(bounded by ``LEAP``) until the pass/fail boundary is bracketed; candidates
that could not beat the best passing file so far are never scored
(encoding is ~20x cheaper than scoring); and mozjpeg runs only on each
family's smallest passing file, when a decision needs its size.

Scoring uses ``quality.Reference(exact_from=2)``: the fast blur at the two
finest scales, the reference's exact float32 arithmetic at the coarser ones,
where flat areas make the reference's rounding noise count. The search aims
at ``target + margin`` to cover the remaining difference.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import mozjpeg_lossless_optimization as mozjpeg
import numpy as np
import pyjpegli
from PIL import Image, JpegImagePlugin

from imgflow.imaging import jpeg, quality

JPEGLI_RANGE = (30, 99)
REQUANT_SCALES = tuple(round(1.0 + 0.05 * i, 2) for i in range(17))  # 1.0 .. 1.8
# Scales from 1:4 down are scored with the reference's exact float32 arithmetic,
# the two finest with the fast blur (see ``quality``): within 0.2 of the
# reference on the 256x256 test crops, within ~0.03 on full photographs.
EXACT_FROM = 2
DEFAULT_MARGIN = 0.1
# Requantisation is tried on sources saved below quality 83: measured on 29
# photographs, it won on sources at quality 70-80 and never on those at 85 or
# above, where jpegli wins.
REQUANT_BELOW = 83
# Before the pass/fail boundary is bracketed, a secant step may jump at most
# LEAP times the step the typical slope suggests (jpegli's score is flat over
# 78-85 on low-quality sources, so the slope alone stops short of the boundary).
LEAP = 2
# Scored candidates per family, in search order (requantisation first when it
# runs): at most 9 evaluations per image; jpegli alone gets 5.
BUDGETS = (5, 4)
# Typical score points lost per step towards smaller files, measured on photographs
# near a score of 85: one jpegli quality, or +0.05 on the requantisation factor.
_SLOPE = {"jpegli": 1.0, "requant": 0.6}
# The least that mozjpeg's lossless pass leaves of an encoder's output, seen on
# photographs (jpegli writes unoptimised Huffman tables, typically -13% and up
# to -25%; Pillow's are already optimised): a candidate is skipped unscored
# only when even this much shrinking could not beat the best file so far.
_OPTIMISED_FRACTION = {"jpegli": 0.72, "requant": 0.9}


@dataclass
class Candidate:
    family: str
    param: float
    data: bytes  # the encoder's output; entropy-optimised once it may be the result
    score: float | None  # None: never scored (could not beat the best so far)
    optimised: bool = False

    def __post_init__(self) -> None:
        self.encoded_size = len(self.data)  # before optimisation: comparable within a family


@dataclass
class SearchResult:
    """The chosen file (None when nothing beat the losslessly optimised source)."""

    data: bytes | None
    method: str
    score: float
    evaluations: int
    encodes: int
    seconds: float
    tried: list[Candidate] = field(default_factory=list)


class _Search:
    def __init__(self, image: Image.Image, target: float, baseline_size: int) -> None:
        self.image = image
        self.target = target
        # Stored orientation on both sides: the output carries the source's EXIF.
        linear = quality.linear_rgb(image, orient=False)
        self.reference = quality.Reference(linear, exact_from=EXACT_FROM)
        self.baseline_size = baseline_size
        self.leaders: dict[str, Candidate] = {}  # per family, the smallest passing output
        self.evaluations = 0
        self.encodes = 0
        self.tried: list[Candidate] = []

    def probe(self, family: str, param: float, encode: Callable[[float], bytes]) -> bool | None:
        """Encode and (if it could win) score one candidate.

        Returns True if it passes, False if it fails, None if it was not
        scored because it would be no smaller than the best file so far (the
        search should then look at smaller settings).
        """
        raw = encode(param)
        self.encodes += 1
        candidate = Candidate(family, param, raw, None)
        self.tried.append(candidate)
        if self._cannot_win(len(raw) * _OPTIMISED_FRACTION[family]):
            return None
        with Image.open(io.BytesIO(raw)) as decoded:
            candidate.score = self.reference.score(quality.linear_rgb(decoded, orient=False))
        self.evaluations += 1
        if candidate.score < self.target:
            return False
        leader = self.leaders.get(family)
        if leader is None or len(raw) < leader.encoded_size:
            self.leaders[family] = candidate  # same encoder: smaller stays smaller once optimised
        return True

    def _cannot_win(self, least: float) -> bool:
        """Whether a file that shrinks to at best ``least`` bytes is no smaller than the best.

        Passing candidates are entropy-optimised (mozjpeg, ~0.1 s/MP) only
        when the answer depends on it, and at the end for the winner: raw
        sizes bound the optimised ones from above and, through
        ``_OPTIMISED_FRACTION``, from below.
        """
        sizes = [self.baseline_size] + [len(c.data) for c in self.leaders.values()]
        if least >= min(sizes):
            return True
        floors = [
            len(c.data) * (1.0 if c.optimised else _OPTIMISED_FRACTION[c.family])
            for c in self.leaders.values()
        ]
        if all(least < floor for floor in floors):
            return False
        return least >= self.best_size()

    def best_size(self) -> int:
        best = self.best()
        return len(best.data) if best else self.baseline_size

    def best(self) -> Candidate | None:
        """The smallest optimised passing candidate if it beats the baseline, else None."""
        for leader in self.leaders.values():
            if not leader.optimised:  # same coefficients, same pixels
                optimised = mozjpeg.optimize(leader.data)
                leader.data = min(optimised, leader.data, key=len)
                leader.optimised = True
        leaders = sorted(self.leaders.values(), key=lambda c: len(c.data))
        return leaders[0] if leaders and len(leaders[0].data) < self.baseline_size else None

    def seek(
        self,
        family: str,
        values: list[float],
        start: int,
        encode: Callable,
        budget: int,
        slope: float,
    ) -> None:
        """Find the cheapest passing value of a family ordered from larger to smaller files.

        The first step uses ``slope`` (typical score points lost per step
        towards smaller files); after two scored points the next probe is
        interpolated (secant) and clamped inside the bracket of the last pass
        and first fail. Stops when the bracket is closed, or after ``budget``
        scored candidates of this family.
        """
        scores: dict[int, float] = {}
        passing, failing = -1, len(values)
        index, scored, probes = start, 0, 0
        while 0 <= index < len(values) and scored < budget and probes < budget + 3:
            probes += 1
            outcome = self.probe(family, values[index], encode)
            if outcome is None:  # no smaller than the best file: look at smaller files
                passing = max(passing, index)
            else:
                scored += 1
                scores[index] = self.tried[-1].score or 0.0
                if outcome:
                    passing = max(passing, index)
                else:
                    failing = min(failing, index)
            if failing - passing <= 1:
                return
            index = self._next(scores, passing, failing, len(values), slope)

    def _next(
        self, scores: dict[int, float], passing: int, failing: int, count: int, slope: float
    ) -> int:
        lo, hi = passing + 1, min(failing - 1, count - 1)  # the unknown indices in the bracket
        aim = self.target + 0.05
        (i0, s0), *rest = sorted(scores.items(), key=lambda kv: abs(kv[1] - aim)) or [(-1, 0.0)]
        if i0 < 0:
            return int(np.clip(passing + 3, lo, hi))  # nothing scored yet (all pruned)
        steps = (s0 - aim) / slope
        guess = i0 + (int(np.floor(steps)) if steps > 0 else -max(1, int(np.ceil(-steps))))
        if rest and rest[0][1] != s0:
            i1, s1 = rest[0]
            secant = int(np.floor(i0 + (aim - s0) * (i1 - i0) / (s1 - s0)))
            bracketed = passing >= 0 and failing < count
            # Outside a bracket a flat secant can leap far: allow LEAP times the slope's jump.
            leap = LEAP * max(1, abs(guess - i0))
            if bracketed or abs(secant - i0) <= leap:
                guess = secant
            elif (secant - i0) * (guess - i0) > 0:  # same direction, further: gallop
                guess = i0 + int(np.sign(secant - i0)) * leap
        return int(np.clip(guess, lo, hi))


def search(
    data: bytes, target: float, *, baseline_size: int, margin: float = DEFAULT_MARGIN
) -> SearchResult:
    """Search both families for the smallest JPEG scoring >= ``target + margin``.

    ``data`` is a JPEG (RGB or grayscale, not CMYK) whose pixels are the
    reference; ``baseline_size`` is the size to beat (the losslessly
    optimised source). The returned bytes carry no metadata: the caller
    copies the source's segments in.
    """
    started = time.process_time()
    with Image.open(io.BytesIO(data)) as source:
        source.load()
        image = source if source.mode in ("RGB", "L") else source.convert("RGB")
        sampling = JpegImagePlugin.get_sampling(source)
        tables = [list(t) for t in getattr(source, "quantization", {}).values()]
        run = _Search(image, target + margin, baseline_size)
        source_quality = jpeg.estimate_quality(tables[0]) if tables else 90
        families = []
        # Above REQUANT_BELOW requantisation needs large factors and jpegli's
        # adaptive quantisation wins by far.
        if tables and source_quality < REQUANT_BELOW:
            families.append(("requant", _requant_encoder(image, tables, sampling)))
        families.append(("jpegli", _jpegli_encoder(image)))
        for budget, (family, (values, start, encode)) in zip(BUDGETS, families, strict=False):
            first = start(source_quality, target)
            run.seek(family, values, first, encode, budget, _SLOPE[family])
    best = run.best()
    seconds = time.process_time() - started
    if best is None:
        return SearchResult(None, "", 100.0, run.evaluations, run.encodes, seconds, run.tried)
    method = f"jpeg-{best.family}-{best.param:g}"
    return SearchResult(
        best.data, method, best.score or 0.0, run.evaluations, run.encodes, seconds, run.tried
    )


def _jpegli_encoder(image: Image.Image) -> tuple[list[float], Callable, Callable]:
    """jpegli at integer quality; a grayscale image stays grayscale.

    pyjpegli takes RGB only, so a grayscale image is encoded as grey RGB
    and its luma plane re-encoded alone with jpegli's own luma table: the
    8x8 grid is the same and the decoded luma re-quantises to the same
    coefficients (measured: the same score within 0.1, about 5% smaller
    than the colour file, which spends bytes on flat chroma).
    """
    raw = image.convert("RGB").tobytes()
    values = list(range(JPEGLI_RANGE[1], JPEGLI_RANGE[0] - 1, -1))  # larger files first

    def encode(q: float) -> bytes:
        colour = pyjpegli.encode(raw, image.width, image.height, int(q))
        return colour if image.mode == "RGB" else _luma_only(colour)

    def start(source_quality: int, target: float) -> int:
        # Measured on photographs: jpegli needs about quality 90 for a score of
        # 85 (a little more below source quality 85: generation loss), and
        # about one quality step per score point around it.
        guess = (90 if source_quality >= 85 else 91) + round(target - 85)
        return values.index(int(np.clip(guess, *JPEGLI_RANGE)))

    return values, start, encode


def _luma_only(data: bytes) -> bytes:
    """A grayscale JPEG of a colour JPEG's luma plane, quantised with its own luma table."""
    with Image.open(io.BytesIO(data)) as colour:
        colour.draft("YCbCr", colour.size)  # decode without the colour conversion
        luma = colour.getchannel(0)
        table = list(colour.quantization[0])
    buffer = io.BytesIO()
    luma.save(buffer, "JPEG", qtables=[table], optimize=True)
    return buffer.getvalue()


def _requant_encoder(
    image: Image.Image, tables: list[list[int]], sampling: int
) -> tuple[list[float], Callable, Callable]:
    values = list(REQUANT_SCALES)

    def encode(scale: float) -> bytes:
        scaled = [[min(255, max(1, round(v * scale))) for v in t] for t in tables]
        buffer = io.BytesIO()
        params: dict = {"qtables": scaled, "optimize": True}
        if image.mode == "RGB":
            params["subsampling"] = max(sampling, 0)
        image.save(buffer, "JPEG", **params)
        return buffer.getvalue()

    def start(source_quality: int, target: float) -> int:
        # About 0.6 points per 0.05 step; factor 1.15 for 85 on quality-75 sources.
        guess = (3 if source_quality < 88 else 8) - round((target - 85) / 0.6)
        return int(np.clip(guess, 0, len(values) - 1))

    return values, start, encode
