"""Perceptually targeted lossy JPEG: the smallest file whose SSIMULACRA2 stays above a target.

The search draws candidates from several *families* of re-encodings of the
decoded original, each with one parameter that makes files smaller as it
moves, and keeps the smallest file that scores at or above the target,
whichever family made it:

- ``jpegli-q``: Google's jpegli (PyPI ``ajpegli``) at an integer quality,
  4:2:0, the naive search's own candidates: the first family, the one the
  boundary is searched in from scratch. Its quality API writes two
  quantisation tables, finer in chroma than the distance API's three.
- ``jpegli-420``, ``jpegli-420-flat``, ``jpegli-444``: jpegli at a
  continuous butteraugli distance, 4:2:0 with and without adaptive
  quantisation, and 4:4:4. Each is a different curve of score against
  size; on a given photo one of them may lie well above the first.
  (A grayscale source is encoded grey: ``jpegli-q-gray``, ``jpegli-gray``...)
- ``requant``: libjpeg-turbo (Pillow) with the source's own quantisation
  tables scaled by a factor >= 1 and its own chroma subsampling, for
  sources saved below quality ``REQUANT_BELOW``: the 8x8 grid stays aligned
  with the source, so a slightly larger factor removes precision the source
  had already lost.

Scores do not fall monotonically with size, neither within a family (the
quantisation tables move in steps) nor across families, so the search never
assumes it: every scored candidate is kept, and the result is the smallest
one that passed. The first family's boundary is bracketed with secant steps
on score against the setting actually encoded. Every other family is then
*challenged*: the setting whose file would be ``CHALLENGE_GAIN`` smaller
than the best so far is found by encoding alone (encoding costs ~1/20 of a
score), and scored; if it passes, the family takes the lead and its own
boundary is searched from there, otherwise the family is dropped after that
one score, which may stop early on the coarse scales. ``MAX_SCORES`` bounds
the cost; a setting already scored is never scored again. While a family is
still untried, a boundary stops once its bracketing pass and fail differ by
less than ``CHALLENGE_GAIN`` in size: a step inside can gain less than a
challenge aims at (on lomiri's 20 MP Kleiber, jpegli-420's third step gained
0.3%; the score it left to jpegli-420-flat gained 2.0%).

Finding a challenger's setting for a size takes a few encodes, each
(at 0.055-0.09 s per 4 MP) a fifth to a third of a score. They are *size
probes*: the image's sample, bands of rows holding an eighth of its pixels,
is encoded instead, and its size scaled by the full/sample ratio measured on
this image's full encodes (``_Search.predict``). Only the setting chosen is
encoded in full.

jpegli writes progressive files with optimised Huffman tables; Pillow's
requantised files are re-coded progressive by mozjpeg's lossless pass as
soon as they pass, so sizes compare fairly. A jpegli winner gets that pass
only where it pays, as the image's sample tells (``_recoded``). The size
to beat is the caller's (``baseline_size``, the source's); ``compress``
keeps the lossless transcode where that is smaller, so the result is never
worse than the lossless mode.

Scoring uses ``quality.Reference(exact_from=2)``: the fast blur at the two
finest scales, the reference's exact float32 arithmetic at the coarser ones,
where flat areas make the reference's rounding noise count. The search aims
at ``target + margin`` to cover the remaining difference.

The exact scales hold 1/16 of the pixels but, with the exact blur's loops,
about half of a score's time, and most scored candidates fail. So each
candidate is first *measured*: the fine scales exactly as the score computes
them, the coarse ones with the fast arithmetic, plus the difference the
exact arithmetic made on this image's earlier candidates (it depends on the
image's flat areas far more than on the candidate). Only a candidate whose
estimate is within ``UNCERTAINTY`` of the mark, or above it, is *confirmed*:
the exact coarse scales are computed from the planes the measurement kept,
which gives the product's score to the last bit. A candidate passes only on
a confirmed score, so the guarantee is the metric's, never the estimate's;
an estimate only decides that a candidate fails. Once an image has one
confirmed score, a candidate estimated well above the mark passes
*provisionally*: the search steers with it, and confirms it only if it is
still the smallest passing file at the end (most are beaten first); one
that fails then is dropped for the next smallest.

The fine scales are most of a measurement's work, so they are summed on an
eighth of their rows first (bands of 32 rows every 256, ``quality``'s
sample) and the rest predicted from how those rows related to the whole on
the image's earlier candidate nearest in distortion. A candidate predicted
``SAMPLE_ERROR`` beyond the marks a full measurement is decided at stops
there: below, it fails; above, it passes provisionally (``settle`` measures
it in full if it is returned). Once the image's offsets are known near the
mark (two confirmations, or one within half a point of it), the sample
decides every candidate more than ``LEAN_BAND`` (0.2) from the mark, the
same way: most of an image's later candidates, aimed at the mark, land a
few tenths from it. Every other candidate is summed on the rest of its
rows, to the same sums as a measurement without a sample.
"""

from __future__ import annotations

import enum
import hashlib
import io
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import ajpegli
import mozjpeg_lossless_optimization as mozjpeg
import numpy as np
from PIL import Image, JpegImagePlugin

from imgflow.imaging import heap, jpeg, quality

# Scales from 1:4 down are scored with the reference's exact float32 arithmetic,
# the two finest with the fast blur (see ``quality``): within 0.2 of the
# reference on the 256x256 test crops, within ~0.03 on full photographs.
EXACT_FROM = 2
DEFAULT_MARGIN = 0.1
# Requantisation is tried on sources saved below quality 83: measured on 29
# photographs, it won on sources at quality 70-80 and never on those at 85 or
# above, where jpegli wins.
REQUANT_BELOW = 83
# Scored candidates: at most MAX_SCORES per image, of which the first family
# may use FIRST_BUDGET before the others are challenged, or more while none of
# its candidates passes: without a pass, a challenger has only the source's
# size to beat, and aims there (on two photographs outside the corpus whose
# jpegli-q curve rose a third of a point per quality step, the challengers
# then passed at 2-3x the naive search's file).
MAX_SCORES = 6
FIRST_BUDGET = 3
# A best file that passes this far above the mark once the budget is spent is
# far from its family's boundary (a point is about one jpegli quality step,
# 5% of the file: more than a challenge aims at), so its family gets
# EXTRA_SCORES more, stepping from every score it already has, and again while
# each round gains CHALLENGE_GAIN (at most MAX_SCORES more in all).
FAR_ABOVE = 1.0
EXTRA_SCORES = 2
# A challenger is scored at the setting whose file is this much smaller than
# the best so far: a smaller gain is not worth a score, a larger one fails
# more often than it wins.
CHALLENGE_GAIN = 0.03
# How far below the pass mark an estimated score may be and still be
# confirmed with the exact arithmetic (see ``_Search._measure``).
UNCERTAINTY = 0.3
# Once an image has one confirmed score (so its offsets are learned: estimates
# within about 0.5 of the product's score), a candidate estimated this far
# above the mark passes *provisionally*: its confirmation waits until it is
# the file the search would return (``_Search.settle``). Most such
# candidates are beaten by a smaller one and never need it.
PROVISIONAL_ABOVE = 0.5
# The exact arithmetic's typical addition to the coarse scales' sum, near a
# score of 85 on photographs (measured 0.02-0.2, median about 0.12): used to
# steer before an image's first confirmation, never to decide a pass.
TYPICAL_OFFSET = 0.12
# The finer scales (the full-size one and the next, most of a measurement's
# work) are summed on an eighth of their rows first, and the rest predicted
# from how those rows related to the whole on the image's earlier candidate
# nearest in distortion (``_Search._after_sample``). On 141 such predictions
# (14 corpus photos and 12 outside it) the estimate was within SAMPLE_ERROR of
# the full measurement's (median 0.009, 99th percentile 0.18): a candidate
# stops there when its estimate is that much beyond the marks a full
# measurement is decided at (``UNCERTAINTY`` below the mark,
# ``PROVISIONAL_ABOVE`` above it).
SAMPLE_ERROR = 0.2
# Once the image's offsets read the mark's neighbourhood well
# (``_Offsets.known_near``), the sample decides every candidate but those
# within LEAN_BAND of the mark: its own error (SAMPLE_ERROR) is then most of
# the estimate's. (A band of 0.1, half the sample's error, failed mate_Wood's
# winner on its sample, 84.96 against its confirmed 85.13: 3.3% larger
# output.) They read it well with LEAN_PAIRS confirmed pairs, or with one
# confirmed within LEAN_NEAR points of the mark. Measured on 20 photographs
# (2026-12-03): with two pairs, estimates were within 0.135 of the product's
# score (median 0.04); with one, off by up to 0.19 per point between its
# score and the candidate's (a pair 2.8 points away: 0.53), so a pair half a
# point away keeps the offset's part near 0.1. The sample's verdict is a
# provisional pass or a fail, as above: only a confirmed score is returned.
LEAN_PAIRS = 2
LEAN_NEAR = 0.5
LEAN_BAND = SAMPLE_ERROR
# Encodes spent finding a challenger's setting for a given size.
SIZE_ENCODES = 4
# Size probes encode bands of SAMPLE_BAND rows every SAMPLE_EVERY rows (an
# eighth of the pixels, a multiple of every MCU height). Measured on 9
# photographs with a quarter: full/sample size ratios of 3.5-4.3 per photo,
# the same within 0.5% for every family at one setting, drifting up to 5%
# across the whole range of settings, so the ratio is read at the nearest
# size measured. Predictions on 12 photographs outside the corpus: within
# 1.7% with a quarter, 1.6% with an eighth, 2.3% with 16-row bands (a
# sixteenth), 3.4% with 32 rows every 512. An image under SAMPLE_MIN_ROWS
# rows is probed in full.
SAMPLE_BAND = 32
SAMPLE_EVERY = 256
SAMPLE_MIN_ROWS = 4 * SAMPLE_EVERY
# The boundary of a continuous family is closed when the passing and failing
# settings are this close (log-distance for jpegli, factor for requant).
TOLERANCE = 0.02
# The score the boundary search aims at, above the pass mark: a secant step
# that lands a hair below the mark wastes a score.
AIM_ABOVE = 0.05
# The furthest a step may go past a file too large to win, in score points.
LEAP = 5.0
# Typical log-size lost per unit of each family's x, to find the setting for a
# size from one encoding (two give a secant): measured on photographs near a
# score of 85, per unit of jpegli's log-distance, per quality step of
# jpegli's quality (0.045-0.051), and per unit of requantisation factor
# (0.21-0.24).
_SIZE_SLOPE = 0.8
_SIZE_SLOPE_QUALITY = 0.05
_SIZE_SLOPE_REQUANT = 0.22
# jpegli's distance range (0.1 is about quality 100, 8 far below any target)
# and the integer qualities searched.
JPEGLI_DISTANCE = (0.1, 8.0)
JPEGLI_QUALITY = (30, 99)
# Requantisation factors (1 keeps the source's tables), and the first tried.
REQUANT_FACTOR = (1.0, 1.8)
_REQUANT_START = 1.15
# Families whose output mozjpeg's lossless pass shrinks enough to change a
# decision: Pillow writes baseline JPEG (progressive re-coding saves 3-5%);
# jpegli's output is already progressive with optimised tables, and the pass
# is tried on the winner alone (``_recoded``).
_MOZJPEG_PAYS = {"requant"}


@dataclass(frozen=True)
class Family:
    """A way to re-encode the image, with one parameter (larger: smaller files).

    The search works on ``x``: ``log(param)`` when ``log`` is set (jpegli's
    distance), else the parameter itself. ``slope`` is the typical score
    lost per unit of ``x`` near a score of 85, measured on photographs.
    """

    name: str
    encode: Callable[[float], bytes]
    low: float
    high: float
    log: bool
    slope: float
    # The boundary is closed when a pass and a fail are this close in x.
    tolerance: float = TOLERANCE
    # The parameter as a jpegli distance (where the other families start).
    distance: Callable[[float], float] = lambda param: param

    # The parameter grows with the file (a quality): then x = -param.
    rising: bool = False
    # The parameter takes whole values only (a quality).
    whole: bool = False
    # Typical log-size lost per unit of x.
    size_slope: float = _SIZE_SLOPE
    # The same encoder on the image's sample (``sample_rows``), for size probes;
    # None: the image is too small to sample, probes encode it in full.
    sample: Callable[[float], bytes] | None = None

    def param(self, x: float) -> float:
        value = math.exp(x) if self.log else (-x if self.rising else x)
        value = float(np.clip(value, self.low, self.high))
        return float(round(value)) if self.whole else value

    def x(self, param: float) -> float:
        return math.log(param) if self.log else (-param if self.rising else param)

    @property
    def x_range(self) -> tuple[float, float]:
        ends = sorted((self.x(self.low), self.x(self.high)))
        return ends[0], ends[1]


class Verdict(enum.Enum):
    """What a candidate's score is."""

    CONFIRMED = "confirmed"  # the product's score, to the last bit
    PROVISIONAL = "provisional"  # estimated well above the mark: confirmed if it is returned
    ESTIMATED = "estimated"  # an estimate, a prediction or a bound: the candidate fails


@dataclass
class Candidate:
    family: str
    param: float
    data: bytes  # re-coded by mozjpeg once it passes (requant) or wins where that pays (jpegli)
    score: float | None  # None: never scored (too large to win, or a size probe)
    # The score is the product's metric (confirmed), not the estimate that ranked it.
    confirmed: bool = False
    # An estimated score's measurement, re-read as the image's offsets are learned.
    measured: quality.Measurement | None = field(default=None, repr=False)
    # Passing on an estimate well above the mark, not yet confirmed (see ``settle``).
    provisional: bool = False

    def __post_init__(self) -> None:
        self.encoded_size = len(self.data)  # the encoder's own output


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
    confirmations: int = 0  # scores finished with the exact arithmetic
    probes: int = 0  # encodes of the image's sample (size probes)


class _Offsets:
    """What the exact arithmetic adds to the coarse scales' fast sums, learned per image.

    Each confirmation gives one (fast sum, offset) pair; a candidate's offset
    is read at its own fast sum, interpolated between the confirmed pairs that
    bracket it, else taken from the nearest (the offset moves slowly with the
    distortion: measured on photographs, it changes the estimate by about
    0.1 point per 3 points of score). Every offset measured was positive
    (0.02-0.2: the exact arithmetic only adds noise to the error maps), so
    before the first confirmation the estimate is the fast score itself, an
    upper bound: a candidate it puts clearly below the mark is not confirmed.
    """

    def __init__(self) -> None:
        self.pairs: list[tuple[float, float]] = []
        self.scores: list[float] = []  # the confirmed scores the pairs came from

    def add(self, fast: float, offset: float, score: float | None = None) -> None:
        self.pairs.append((fast, offset))
        self.pairs.sort()
        if score is not None:
            self.scores.append(score)

    def known_near(self, mark: float) -> bool:
        """Whether the pairs read the offset near ``mark`` within about 0.1:
        ``LEAN_PAIRS`` of them, or one confirmed within ``LEAN_NEAR`` of it."""
        return len(self.pairs) >= LEAN_PAIRS or any(
            abs(score - mark) <= LEAN_NEAR for score in self.scores
        )

    def __bool__(self) -> bool:
        return bool(self.pairs)

    def at(self, fast: float) -> float:
        """The offset to decide with: before any confirmation 0, an upper bound."""
        if not self.pairs:
            return 0.0
        below = [p for p in self.pairs if p[0] <= fast]
        above = [p for p in self.pairs if p[0] > fast]
        if below and above:
            (f0, o0), (f1, o1) = below[-1], above[0]
            return o0 + (o1 - o0) * (fast - f0) / (f1 - f0)
        return (below[-1] if below else above[0])[1]

    def guess(self, fast: float) -> float:
        """The offset to steer with: before any confirmation, the typical one (an
        estimate from the upper bound would send a secant step a point or two short)."""
        return self.at(fast) if self.pairs else TYPICAL_OFFSET

    @property
    def least(self) -> float:
        return min(offset for _, offset in self.pairs) if self.pairs else 0.0


class _Search:
    def __init__(self, image: Image.Image, target: float, baseline_size: int) -> None:
        self.target = target
        # Stored orientation on both sides: the output carries the source's EXIF.
        self.reference = quality.Reference(
            quality.planes(image, orient=False), exact_from=EXACT_FROM, proxy=True
        )
        self.baseline_size = baseline_size
        # Every candidate passing so far, confirmed or provisional; the smallest is
        # ``best``, the file the search would return once ``settle`` confirms it.
        self.passing: list[Candidate] = []
        # The candidate first scored for each family and encoding.
        self.known: dict[tuple[str, bytes], Candidate] = {}
        self.offsets = _Offsets()
        # (coarse sum, each finer scale's sum / its sampled strips' sum) of each
        # complete measurement: what predicts a sampled candidate's finer scales.
        self.samples: list[tuple[float, list[float]]] = []
        self.evaluations = 0
        self.confirmations = 0
        self.encodes = 0
        self.probes = 0
        self.tried: list[Candidate] = []
        # Families not yet challenged: while any is, a bracket that cannot yield
        # CHALLENGE_GAIN is not worth its scores (see ``boundary``).
        self.unchallenged = 0
        self.allowance = MAX_SCORES  # scores this image may take (``refine`` adds)
        # Sample sizes by (family, parameter), and (log sample size, full / sample)
        # wherever both are known: what scales a probe to the full file.
        self.sample_sizes: dict[tuple[str, float], int] = {}
        self.ratios: list[tuple[float, float]] = []

    @property
    def best(self) -> Candidate | None:
        """The smallest passing (optimised) candidate, perhaps provisional."""
        return min(self.passing, key=lambda c: len(c.data), default=None)

    @property
    def size_to_beat(self) -> int:
        return len(self.best.data) if self.best else self.baseline_size

    def budget_left(self) -> int:
        return self.allowance - self.evaluations

    def encode(self, family: Family, x: float) -> Candidate:
        param = family.param(x)
        candidate = Candidate(family.name, param, family.encode(param), None)
        self.encodes += 1
        self.tried.append(candidate)
        if family.sample is not None:
            sample = self.sample_sizes.get((family.name, param))
            if sample is None and not self.ratios:  # the image's first: calibrate
                sample = self._sample_size(family, param)
            if sample is not None:
                self.ratios.append((math.log(sample), candidate.encoded_size / sample))
        return candidate

    def predict(self, family: Family, x: float) -> tuple[int, Candidate | None]:
        """The size of ``family``'s file at ``x``: a size probe scaled by the nearest
        full/sample ratio, or the full encode (returned too) where there is no sample."""
        param = family.param(x)
        if family.sample is None or not self.ratios:
            candidate = self.encode(family, x)
            return candidate.encoded_size, candidate
        log_sample = math.log(self._sample_size(family, param))
        _, ratio = min(self.ratios, key=lambda r: abs(r[0] - log_sample))
        return round(math.exp(log_sample) * ratio), None

    def _sample_size(self, family: Family, param: float) -> int:
        key = (family.name, param)
        if key not in self.sample_sizes:
            assert family.sample is not None
            self.sample_sizes[key] = len(family.sample(param))
            self.probes += 1
        return self.sample_sizes[key]

    def score(self, candidate: Candidate, *, screen: bool = False) -> bool:
        """Score a candidate; if it passes, optimise it and keep it if it is the smallest.

        ``screen``: only pass/fail matters (no secant step will use the
        score), so scoring may stop once the candidate is known to fail.
        """
        key = (candidate.family, hashlib.blake2b(candidate.data, digest_size=16).digest())
        if key in self.known:  # an integer family may land on a setting already scored
            first = self.known[key]
            candidate.score, candidate.confirmed = first.score, first.confirmed
            candidate.measured, candidate.provisional = first.measured, first.provisional
            return any(c is first for c in self.passing)
        self.known[key] = candidate
        candidate.score, verdict, candidate.measured = self._measure(candidate.data, screen)
        candidate.confirmed = verdict is Verdict.CONFIRMED
        candidate.provisional = verdict is Verdict.PROVISIONAL
        self.evaluations += 1
        if candidate.confirmed:
            self._reestimate()
        if not candidate.provisional and (
            not candidate.confirmed or (candidate.score or 0.0) < self.target
        ):
            return False
        if candidate.family in _MOZJPEG_PAYS:
            # Same coefficients, same pixels: only the entropy coding changes.
            candidate.data = min(mozjpeg.optimize(candidate.data), candidate.data, key=len)
        leader = self.best
        self.passing.append(candidate)
        if leader is not None and leader.measured is not None and self.best is not leader:
            leader.measured.level = None  # no longer the leader: ``settle`` measures it again
        return True

    def settle(self) -> Candidate | None:
        """Confirm the smallest passing candidate until one is confirmed, and return it.

        A provisional candidate that fails its confirmation is dropped, and the
        next smallest takes its place. Only the leader keeps the planes its
        confirmation reads; another is measured again from its bytes.
        """
        while (leader := self.best) is not None and leader.provisional:
            leader.score = self._confirm_provisional(leader)
            leader.confirmed, leader.provisional, leader.measured = True, False, None
            if leader.score < self.target:
                self.passing.remove(leader)
        return self.best

    def _confirm_provisional(self, candidate: Candidate) -> float:
        measured = candidate.measured
        if measured is None or measured.level is None or not measured.complete:
            measured = self.reference.measure(_decoded(candidate.data))
        return self._confirm(measured)

    def _confirm(self, measured: quality.Measurement) -> float:
        """The product's score of a complete measurement; its offset is learned."""
        score = self.reference.confirm(measured)
        self.confirmations += 1
        self.offsets.add(measured.coarse_fast, measured.offset, score)
        return score

    def _measure(
        self, data: bytes, screen: bool
    ) -> tuple[float, Verdict, quality.Measurement | None]:
        """(score, verdict, measurement): the product's score of a candidate that may
        pass; an estimate, and what it was estimated from, for one that clearly
        fails or (provisional) clearly passes.

        The coarse scales are measured with the fast arithmetic, and the
        estimate corrected by the offset learned from earlier candidates; a
        candidate whose estimate is within ``UNCERTAINTY`` of the mark (or
        above it) is confirmed with the exact arithmetic, which reuses
        everything but the coarse scales; one ``PROVISIONAL_ABOVE`` the mark
        or more, after the image's first confirmation, keeps its measurement
        for ``settle`` instead. Only a confirmed score can make a candidate
        the result.
        """
        at_least = self.target - UNCERTAINTY if screen else None
        stopped: list[Verdict] = []  # how the sample decided the candidate, if it did

        def after_sample(partial: quality.Measurement) -> bool:
            verdict = self._after_sample(partial)
            if verdict is not None:
                stopped.append(verdict)
            return verdict is not None

        measured = self.reference.measure(
            _decoded(data),
            offset=self.offsets.least,
            at_least=at_least,
            after_sample=after_sample,
        )
        steer = measured.estimate(self.offsets.guess(measured.coarse_fast))
        if not measured.complete:
            if stopped == [Verdict.PROVISIONAL]:  # ``settle`` measures it again
                return steer, Verdict.PROVISIONAL, measured
            if stopped:
                return steer, Verdict.ESTIMATED, None
            # Stopped on the coarse scales: a bound.
            return measured.estimate(self.offsets.least), Verdict.ESTIMATED, None
        if all(measured.sampled):
            ratios = [f / s for f, s in zip(measured.fine, measured.sampled, strict=True)]
            self.samples.append((measured.coarse_fast, ratios))
        verdict = self._verdict(measured, 0.0)
        if verdict is Verdict.ESTIMATED:
            measured.level = None  # never confirmed: only the sums are kept
        if verdict is not None:  # a provisional one's level is kept for ``settle``
            return steer, verdict, measured
        return self._confirm(measured), Verdict.CONFIRMED, None

    def _verdict(
        self, measured: quality.Measurement, margin: float, *, band: float | None = None
    ) -> Verdict | None:
        """How a measurement decides its candidate, ``margin`` points beyond the marks:
        it fails (ESTIMATED) once its estimate is ``UNCERTAINTY`` under the mark,
        passes provisionally once ``PROVISIONAL_ABOVE`` over it after the image's
        first confirmation, else (None) needs confirming. Before any confirmation
        the offset read is 0, and the estimate an upper bound. ``band``: the
        marks are that far either side of the mark instead (offsets known)."""
        below = UNCERTAINTY + margin if band is None else band
        above = PROVISIONAL_ABOVE + margin if band is None else band
        estimate = measured.estimate(self.offsets.at(measured.coarse_fast))
        if estimate < self.target - below:
            return Verdict.ESTIMATED
        if self.offsets and estimate >= self.target + above:
            return Verdict.PROVISIONAL
        return None

    def _after_sample(self, measured: quality.Measurement) -> Verdict | None:
        """How a measurement is decided once its finer scales' sampled strips are
        summed: their whole sums, predicted by the image's earlier candidate nearest
        in distortion, decide it ``SAMPLE_ERROR`` beyond a full measurement's marks
        (``_verdict``), or ``LEAN_BAND`` from the mark once the offsets read its
        neighbourhood well (``_Offsets.known_near``). None: it goes on. Sets ``predicted`` when
        it stops."""
        if not self.samples or not measured.sampled:
            return None
        _, ratios = min(self.samples, key=lambda s: abs(s[0] - measured.coarse_fast))
        measured.predicted = sum(r * s for r, s in zip(ratios, measured.sampled, strict=True))
        # Offsets known near the mark: LEAN_BAND, narrower than SAMPLE_ERROR
        # beyond the marks, decides all that decides and more.
        band = LEAN_BAND if self.offsets.known_near(self.target) else None
        verdict = self._verdict(measured, SAMPLE_ERROR, band=band)
        if verdict is None:
            measured.predicted = 0.0
        return verdict

    def _reestimate(self) -> None:
        """Re-read every estimate with the offsets learned so far: one made before
        the first confirmation is the fast score, up to two points high on flat
        photographs, and would send the boundary's secant steps astray."""
        for candidate in self.known.values():
            if candidate.measured is not None:
                offset = self.offsets.guess(candidate.measured.coarse_fast)
                candidate.score = candidate.measured.estimate(offset)

    def boundary(
        self,
        family: Family,
        x: float,
        budget: int,
        *,
        challenger: bool,
        first: Candidate | None = None,
        seeds: tuple[Candidate, ...] = (),
    ) -> None:
        """Search ``family`` for its largest passing ``x``, starting at ``x``.

        Secant steps on (x, score) towards ``target + AIM_ABOVE``, clamped
        inside the bracket of the largest pass and the smallest fail. A
        candidate whose encoding is no smaller than the best file so far is
        not scored (it is treated as passing: look at larger x). A
        challenger stops at its first failure before any pass: beyond it
        the family's files only grow. The first family (not a challenger)
        goes on past ``budget`` while nothing passes. ``seeds``: the family's
        candidates scored before, to bracket and step from (``x`` is then unused).
        """
        low, high = family.x_range
        # Scores may be re-estimated as the image's offsets are learned.
        points = [(family.x(c.param), c) for c in seeds]
        sizes = [(x_, math.log(c.encoded_size)) for x_, c in points]  # every encoding's
        passing, failing = low - 1.0, high + 1.0
        for seed_x, seed in points:
            if any(seed is c for c in self.passing):
                passing = max(passing, seed_x)
            else:
                failing = min(failing, seed_x)
        if points:
            if _closed(family, passing, failing):
                return
            x = self._next(family, points, passing, failing)
        for _ in range(SIZE_ENCODES + MAX_SCORES):
            spent = budget <= 0 and (challenger or self.best is not None)
            if spent or self.budget_left() <= 0:
                return
            x = float(np.clip(x, low, high))
            candidate, first = first or self.encode(family, x), None
            x = family.x(candidate.param)  # the setting used (a whole quality, for one)
            sizes.append((x, math.log(candidate.encoded_size)))
            if candidate.encoded_size >= self.size_to_beat:
                passing = max(passing, x)
                if failing - passing <= family.tolerance or passing >= high:
                    return
                # Too large to win: jump towards where the file would just win, but no
                # further than LEAP points of score (sizes can be flat over a stretch).
                goal = math.log(self.size_to_beat * (1.0 - CHALLENGE_GAIN))
                x = self._x_for_size(family, sizes, goal)
                x = min(max(x, passing + family.tolerance), passing + LEAP / family.slope)
                x = min(x, failing - family.tolerance / 2)
                continue
            scored = self.evaluations
            # A challenger's first failure ends its family: its score is never used.
            passed = self.score(candidate, screen=challenger and passing < low)
            budget -= self.evaluations - scored  # a setting scored before is free
            points.append((x, candidate))
            if passed:
                passing = max(passing, x)
            else:
                failing = min(failing, x)
                if challenger and passing < low:
                    return
            if _closed(family, passing, failing):
                return
            if self.unchallenged and self._narrow(points, passing, failing):
                return  # its scores are worth more on a family not yet tried
            x = self._next(family, points, passing, failing)

    def refine(self, families: list[Family]) -> None:
        """``EXTRA_SCORES`` more on the best file's family while it passes ``FAR_ABOVE``
        the mark (a step there gains more than a challenge aims at), round after
        round as long as each round makes the file ``CHALLENGE_GAIN`` smaller."""
        for _ in range(MAX_SCORES // EXTRA_SCORES):
            best = self.best
            if best is None or best.score is None or best.score < self.target + FAR_ABOVE:
                return
            family = next(f for f in families if f.name == best.family)
            seeds = tuple(c for c in self.tried if c.family == family.name and c.score is not None)
            self.allowance = max(self.allowance, self.evaluations) + EXTRA_SCORES
            self.boundary(family, 0.0, EXTRA_SCORES, challenger=False, seeds=seeds)
            if self.size_to_beat > (1.0 - CHALLENGE_GAIN) * len(best.data):
                return

    @staticmethod
    def _narrow(points: list[tuple[float, Candidate]], passing: float, failing: float) -> bool:
        """Whether the bracket's files differ by less than ``CHALLENGE_GAIN``: the
        most a step inside it can gain, where a challenge aims at that much."""
        sizes = {x: candidate.encoded_size for x, candidate in points}
        if passing not in sizes or failing not in sizes:
            return False
        return sizes[failing] > (1.0 - CHALLENGE_GAIN) * sizes[passing]

    def _next(
        self,
        family: Family,
        scored: list[tuple[float, Candidate]],
        passing: float,
        failing: float,
    ) -> float:
        aim = self.target + AIM_ABOVE
        points = [(x, candidate.score or 0.0) for x, candidate in scored]
        (x0, s0), *rest = sorted(points, key=lambda p: abs(p[1] - aim))
        # At least one step of the family's grain, towards the aim.
        step = (s0 - aim) / family.slope
        guess = x0 + math.copysign(max(abs(step), family.tolerance), step)
        if rest and rest[0][1] != s0 and rest[0][0] != x0:
            x1, s1 = rest[0]
            secant = x0 + (aim - s0) * (x1 - x0) / (s1 - s0)
            # A flat stretch sends the secant far: at most twice the slope's step.
            limit = 2 * max(abs(guess - x0), family.tolerance)
            guess = x0 + float(np.clip(secant - x0, -limit, limit))
        bracketed = passing >= family.x_range[0] and failing <= family.x_range[1]
        # Strictly inside the bracket: a whole setting must differ from both ends.
        margin = family.tolerance if family.whole else family.tolerance / 2
        inside_low, inside_high = passing + margin, failing - margin
        if bracketed and not inside_low <= guess <= inside_high:
            return (passing + failing) / 2
        return float(np.clip(guess, inside_low, inside_high))

    def challenge(self, family: Family, start: float) -> None:
        """Score ``family`` at the setting whose file beats the best by ``CHALLENGE_GAIN``."""
        goal = self.size_to_beat * (1.0 - CHALLENGE_GAIN)
        points: list[tuple[float, float]] = []  # (x, log size)
        x = start
        chosen: tuple[float, int, Candidate | None] | None = None  # (x, size, full encode)
        for _ in range(SIZE_ENCODES):
            size, candidate = self.predict(family, x)
            points.append((x, math.log(size)))
            if size < self.size_to_beat and (
                chosen is None or abs(size - goal) < abs(chosen[1] - goal)
            ):
                chosen = (x, size, candidate)
            if abs(size - goal) <= 0.01 * goal:
                break
            x = self._x_for_size(family, points, math.log(goal))
            if any(abs(x - p[0]) < 1e-6 for p in points):
                break
        if chosen is None:
            return  # this family cannot make a smaller file here
        chosen_x, _, full = chosen
        # A probe's prediction may be a little off: ``boundary`` steps on from a
        # full file that turns out too large, as from any other.
        first = full or self.encode(family, chosen_x)
        self.boundary(family, chosen_x, self.budget_left(), challenger=True, first=first)

    @staticmethod
    def _x_for_size(family: Family, points: list[tuple[float, float]], goal: float) -> float:
        """The x whose log size should be ``goal``: secant on the two nearest points,
        or the family's typical slope from one."""
        low, high = family.x_range
        ranked = sorted(points, key=lambda p: abs(p[1] - goal))
        x0, s0 = ranked[0]
        if len(ranked) > 1 and ranked[1][1] != s0:
            x1, s1 = ranked[1]
            slope = (s1 - s0) / (x1 - x0)
            if slope < 0:  # sizes fall as x grows
                return float(np.clip(x0 + (goal - s0) / slope, low, high))
        return float(np.clip(x0 + (s0 - goal) / family.size_slope, low, high))


def _closed(family: Family, passing: float, failing: float) -> bool:
    """Whether a boundary search is over: the bracket within the family's tolerance,
    or one of its ends at the end of the family's range."""
    low, high = family.x_range
    return failing - passing <= family.tolerance or passing >= high or failing <= low


def _decoded(data: bytes) -> np.ndarray:
    """A candidate's pixels as the metric takes them; the decoded image is freed on return
    (held during scoring, it would be the largest allocation of a large photo's search)."""
    with Image.open(io.BytesIO(data)) as decoded:
        return quality.planes(decoded, orient=False)


def search(
    data: bytes, target: float, *, baseline_size: int, margin: float = DEFAULT_MARGIN
) -> SearchResult:
    """Search the families for the smallest JPEG scoring >= ``target + margin``.

    ``data`` is a JPEG (RGB or grayscale, not CMYK) whose pixels are the
    reference; ``baseline_size`` is the size to beat (the source's own).
    The returned bytes carry no metadata: the caller copies the source's
    segments in.
    """
    # Every candidate allocates the arrays the last one freed (see ``heap``).
    with heap.reusing():
        return _search(data, target, baseline_size, margin)


def _search(data: bytes, target: float, baseline_size: int, margin: float) -> SearchResult:
    started = time.process_time()
    with Image.open(io.BytesIO(data)) as source:
        source.load()
        image = source if source.mode in ("RGB", "L") else source.convert("RGB")
        sampling = JpegImagePlugin.get_sampling(source)
        tables = [list(t) for t in getattr(source, "quantization", {}).values()]
        run = _Search(image, target + margin, baseline_size)
        source_quality = jpeg.estimate_quality(tables[0]) if tables else 90
        first, *others = jpegli_families(image)
        if tables and source_quality < REQUANT_BELOW:
            others.insert(0, requant_family(image, tables, sampling))
        del image  # the families hold what they need
    start = first.x(_first_quality(source_quality, target))
    run.unchallenged = len(others)
    run.boundary(first, start, FIRST_BUDGET, challenger=False)
    leader = run.best.param if run.best and run.best.family == first.name else first.param(start)
    lead = first.distance(leader)  # where the distance families start
    for number, family in enumerate(others):
        if run.budget_left() <= 0:
            break
        run.unchallenged = len(others) - number - 1
        begin = family.x(lead) if family.log else family.x(_REQUANT_START)
        run.challenge(family, begin)
    run.refine([first, *others])
    best = run.settle()
    if best is not None and best.family not in _MOZJPEG_PAYS:
        best.data = _recoded(next(f for f in (first, *others) if f.name == best.family), best)
    seconds = time.process_time() - started
    output: bytes | None
    if best is None or len(best.data) >= baseline_size:
        output, method, score = None, "", 100.0
    else:  # e.g. jpeg-jpegli-q-89, jpeg-jpegli-420-1.02
        output, method, score = best.data, f"jpeg-{best.family}-{best.param:.3g}", best.score or 0.0
    return SearchResult(
        output,
        method,
        score,
        run.evaluations,
        run.encodes,
        seconds,
        run.tried,
        run.confirmations,
        run.probes,
    )


def _recoded(family: Family, winner: Candidate) -> bytes:
    """The winner's bytes, re-coded by mozjpeg's lossless pass if that is smaller.

    jpegli's own progressive scans are often the smaller: of 186 jpegli files
    of the 62 benchmark photos (three settings each), mozjpeg's pass made 60
    smaller (by up to 4.5%) and 126 not, and it costs about three jpegli
    encodes. So the image's sample, an eighth of the rows, is re-coded first,
    and the whole file only if the sample shrinks: the sample agreed with the
    whole file on 176 of the 186, and the 10 others lost 210 bytes in all.
    """
    if family.sample is not None:
        sample = family.sample(winner.param)
        if len(mozjpeg.optimize(sample)) >= len(sample):
            return winner.data
    return min(mozjpeg.optimize(winner.data), winner.data, key=len)


def _first_quality(source_quality: int, target: float) -> int:
    """Where the first family starts: measured on photographs, jpegli needs about
    quality 90 for a score of 85 (a little more below source quality 85:
    generation loss), and about one quality step per score point around it."""
    guess = (90 if source_quality >= 85 else 91) + round(target - 85)
    return int(np.clip(guess, *JPEGLI_QUALITY))


def jpegli_families(image: Image.Image) -> list[Family]:
    """jpegli's families, the first one first; a grayscale image stays grayscale.

    The first is jpegli at an integer quality: its libjpeg-style quality
    API writes two quantisation tables (the chroma one finer than the
    distance API's three), which scores up to 0.8 points higher at the same
    size on some photos, so the others must beat it, not the reverse. Then
    the continuous distance, 4:2:0 with and without adaptive quantisation,
    and 4:4:4.

    jpegli's own grayscale mode quantises far more coarsely for the same
    score than its colour mode's luma (measured on ``plasma_Grey``: 207 KB
    at 90.2 against 168 KB at 87.8 in colour), so a grey image is encoded
    as grey RGB and its luma plane kept (``_luma_only``).
    """
    grey = image.mode == "L"
    full = np.asarray(image.convert("RGB"))
    sample = sample_rows(full)

    def encoder(
        subsampling: str, adaptive: bool, by_quality: bool, pixels: np.ndarray = full
    ) -> Callable[[float], bytes]:
        def encode(param: float) -> bytes:
            setting = {"quality": int(param)} if by_quality else {"distance": param}
            data = ajpegli.encode(
                pixels,
                subsampling=subsampling,
                adaptive_quantization=adaptive,
                progressive=2,
                optimize=True,
                **setting,
            )
            return _luma_only(data) if grey else data

        return encode

    def sampler(
        subsampling: str, adaptive: bool, by_quality: bool
    ) -> Callable[[float], bytes] | None:
        return None if sample is None else encoder(subsampling, adaptive, by_quality, sample)

    name = "gray" if grey else "420"
    # About one score point per quality step; adjacent qualities close the boundary.
    families = [
        Family(
            f"jpegli-q{'-gray' if grey else ''}",
            encoder("420", True, by_quality=True),
            *JPEGLI_QUALITY,
            log=False,
            slope=1.0,
            tolerance=1.0,
            distance=_quality_to_distance,
            rising=True,
            whole=True,
            size_slope=_SIZE_SLOPE_QUALITY,
            sample=sampler("420", True, by_quality=True),
        )
    ]
    variants = [(name, "420", True), (f"{name}-flat", "420", False)]
    if not grey:
        variants.append(("444", "444", True))
    # ~10 score points per unit of log-distance near 85, on photographs.
    families += [
        Family(
            f"jpegli-{label}",
            encoder(sub, aq, False),
            *JPEGLI_DISTANCE,
            log=True,
            slope=10.0,
            sample=sampler(sub, aq, False),
        )
        for label, sub, aq in variants
    ]
    return families


def sample_rows(pixels: np.ndarray) -> np.ndarray | None:
    """The image's sample for size probes: bands of ``SAMPLE_BAND`` rows every
    ``SAMPLE_EVERY`` (None below ``SAMPLE_MIN_ROWS`` rows, probed in full)."""
    height = pixels.shape[0]
    if height < SAMPLE_MIN_ROWS:
        return None
    rows = np.arange(height) % SAMPLE_EVERY < SAMPLE_BAND
    return np.ascontiguousarray(pixels[rows])


def _quality_to_distance(param: float) -> float:
    """jpegli's mapping of its libjpeg-style quality (>= 30) to a butteraugli distance."""
    return 0.1 + (100 - round(param)) * 0.09


def _luma_only(data: bytes) -> bytes:
    """A grayscale JPEG of a colour JPEG's luma plane, quantised with its own luma table.

    The 8x8 grid is the same and the decoded luma re-quantises to the same
    coefficients (measured: the same score within 0.1, about 5% smaller than
    the colour file, which spends bytes on flat chroma).
    """
    with Image.open(io.BytesIO(data)) as colour:
        colour.draft("YCbCr", colour.size)  # decode without the colour conversion
        luma = colour.getchannel(0)
        table = list(colour.quantization[0])  # type: ignore[attr-defined]  # JPEG files only
    buffer = io.BytesIO()
    luma.save(buffer, "JPEG", qtables=[table], optimize=True)
    return buffer.getvalue()


def requant_family(image: Image.Image, tables: list[list[int]], sampling: int) -> Family:
    """The source's own tables scaled by a factor, its grid and subsampling kept."""
    full = image.copy()
    rows = sample_rows(np.asarray(full))
    sample = None if rows is None else Image.fromarray(rows, full.mode)

    def encoder(pixels: Image.Image) -> Callable[[float], bytes]:
        def encode(scale: float) -> bytes:
            scaled = [[min(255, max(1, round(v * scale))) for v in t] for t in tables]
            buffer = io.BytesIO()
            params: dict[str, object] = {"qtables": scaled, "optimize": True}
            if pixels.mode == "RGB":
                params["subsampling"] = max(sampling, 0)
            pixels.save(buffer, "JPEG", **params)
            return buffer.getvalue()

        return encode

    # About 0.6 points per 0.05 of factor near 85.
    return Family(
        "requant",
        encoder(full),
        *REQUANT_FACTOR,
        log=False,
        slope=12.0,
        size_slope=_SIZE_SLOPE_REQUANT,
        sample=None if sample is None else encoder(sample),
    )
