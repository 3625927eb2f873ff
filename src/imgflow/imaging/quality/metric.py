"""SSIMULACRA 2.1 itself: the scales, the maps, their weighted norms and the score.

Why two blurs. In flat areas the reference's SSIM' terms are dominated by
float32 rounding noise (variances near 0 are divided by C2 = 0.0009 and the
weights reach 225), so agreeing with its scores within 0.1 needs its
arithmetic, not just its formula: ``exact=True`` replays libjxl's recursive
Gaussian (``blur.blur_exact``) and colour conversion (``colour.xyb_exact``)
operation by operation in float32. That is a Python loop per column and per
row (a score takes about 0.75 s per megapixel), so the search uses
``exact=False``: the same filter taps as one banded matrix product
(``blur.blur_fast``), float32 BLAS, about 8x faster. The fast score is
within about 0.1 of the reference on textured photos and up to about 1.5
higher on very flat crops; callers that promise a score verify with
``exact=True`` or keep a margin.

Work saved without changing the result: ``Reference`` computes the
original's side once (XYB at every scale, its blurred mean and variance),
and maps whose weights are all zero in the reference are skipped.

The fast-arithmetic scales are summed a strip of rows at a time (no
temporary of a scale's size), and ``Reference.measure`` sums the strips of
the sample bands first, an eighth of the rows: a caller that can tell a
candidate's fate from them stops there, at about a third of the cost.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps

from imgflow.imaging.quality.blur import RADIUS, TILE, blur_exact, blur_plane, blur_rows
from imgflow.imaging.quality.colour import (
    downsample,
    has_alpha,
    linear_rgb,
    to_linear,
    xyb_exact,
    xyb_fast,
)

NUM_SCALES = 6
_F32, _F64 = np.float32, np.float64
_C2 = _F32(0.0009)

# Weights of the 108 norms, in the reference's order: channel (X, Y, B),
# scale (1:1 .. 1:32), norm (1, 4), map (SSIM', ringing, blurring). The
# reference indexes them with a running counter, so an image too small for
# six scales uses the first 18 * scales of them in the same running order.
_WEIGHTS = np.array(
    [
        0.0, 0.0007376606707406586, 0.0, 0.0, 0.0007793481682867309, 0.0,
        0.0, 0.0004371155730107379, 0.0, 1.1041726426657346, 0.00066284834129271,
        0.00015231632783718752, 0.0, 0.0016406437456599754, 0.0, 1.8422455520539298,
        11.441172603757666, 0.0, 0.0007989109436015163, 0.000176816438078653, 0.0,
        1.8787594979546387, 10.94906990605142, 0.0, 0.0007289346991508072,
        0.9677937080626833, 0.0, 0.00014003424285435884, 0.9981766977854967,
        0.00031949755934435053, 0.0004550992113792063, 0.0, 0.0, 0.0013648766163243398,
        0.0, 0.0, 0.0, 0.0, 0.0, 7.466890328078848, 0.0, 17.445833984131262,
        0.0006235601634041466, 0.0, 0.0, 6.683678146179332, 0.00037724407979611296,
        1.027889937768264, 225.20515300849274, 0.0, 0.0, 19.213238186143016,
        0.0011401524586618361, 0.001237755635509985, 176.39317598450694, 0.0, 0.0,
        24.43300999870476, 0.28520802612117757, 0.0004485436923833408, 0.0, 0.0, 0.0,
        34.77906344483772, 44.835625328877896, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0008680556573291698, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0005313191874358747, 0.0,
        0.00016533814161379112, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0004179171803251336,
        0.0017290828234722833, 0.0, 0.0020827005846636437, 0.0, 0.0, 8.826982764996862,
        23.19243343998926, 0.0, 95.1080498811086, 0.9863978034400682, 0.9834382792465353,
        0.0012286405048278493, 171.2667255897307, 0.9807858872435379, 0.0, 0.0, 0.0,
        0.0005130064588990679, 0.0, 0.00010854057858411537,
    ]
)  # fmt: skip


@dataclass
class _Scale:
    """The original's side of one scale: what ``score`` needs that no candidate changes."""

    xyb: dict[int, np.ndarray]  # the channels with any weight at this scale
    mu: dict[int, np.ndarray]  # their blurred means
    variance: dict[int, np.ndarray]  # sigma^2 - mu^2 of the SSIM' channels, in float32
    ssim_channels: tuple[int, ...]
    used: tuple[int, ...]  # channels with any weight at this scale
    edge_channels: tuple[int, ...]  # channels with edge-map weights

    def rows(self, a: int, b: int) -> _Scale:
        """The same scale restricted to rows [a, b)."""

        def cut(planes: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
            return {c: p[a:b] for c, p in planes.items()}

        return _Scale(
            cut(self.xyb),
            cut(self.mu),
            cut(self.variance),
            self.ssim_channels,
            self.used,
            self.edge_channels,
        )


@dataclass
class Measurement:
    """A candidate measured by ``Reference.measure``: the finer scales' sums as
    ``score`` computes them, the coarser ones' with the fast arithmetic, and the
    candidate's planes at the first exact scale (1/16 of its pixels) for ``confirm``.

    The exact arithmetic adds the reference's float32 rounding noise in flat
    areas, so the coarse sums differ by an amount that depends on the image far
    more than on the candidate: ``estimate`` adds the difference a caller
    measured on an earlier candidate of the same image.

    ``sampled`` holds each finer scale's sum over its sample bands alone (an
    eighth of its rows, coarsest first, as ``fine``): a caller that learns how
    they relate to ``fine`` on one candidate can predict the finer scales of
    the next from an eighth of their work.
    """

    fine: list[float]
    coarse_fast: float
    level: np.ndarray | None
    complete: bool
    coarse_exact: float | None = None  # set by ``confirm``
    sampled: list[float] = field(default_factory=list)
    # A caller's prediction of the scales left out when measuring stopped early.
    predicted: float = 0.0

    def estimate(self, offset: float = 0.0) -> float:
        return _final(sum(self.fine) + self.coarse_fast + self.predicted + offset)

    @property
    def offset(self) -> float:
        """The exact minus the fast coarse sums, once confirmed."""
        if self.coarse_exact is None:
            raise ValueError("not confirmed")
        return self.coarse_exact - self.coarse_fast


class Reference:
    """The original's side of SSIMULACRA2, computed once; ``score`` compares a candidate.

    ``exact`` selects the arithmetic (see the module docstring): True
    reproduces the reference's float32 operations, False is about 8x
    faster. ``exact_from`` (a scale index) makes only the coarser scales
    exact: they hold most of the flat-area rounding noise and cost 1/4 (from
    scale 1) or 1/16 (from scale 2) of the full-size work, yet the exact
    arithmetic's Python loops make them cost far more than their share.

    ``proxy`` also keeps the fast arithmetic's side of the exact scales, for
    ``measure`` and ``confirm``: a search can then rank candidates at about
    half the cost of ``score`` and pay the exact scales only for those it
    may keep (see ``Measurement``).
    """

    def __init__(
        self,
        linear: np.ndarray,
        *,
        exact: bool = True,
        exact_from: int | None = None,
        proxy: bool = False,
    ) -> None:
        if linear.ndim != 3 or linear.shape[0] != 3:
            raise ValueError("expected linear RGB planes shaped (3, h, w)")
        if linear.shape[1] < 8 or linear.shape[2] < 8:
            raise ValueError(
                f"SSIMULACRA2 needs at least 8x8 pixels, got {linear.shape[2]}x{linear.shape[1]}"
            )
        self.shape = linear.shape[1:]
        self.exact_from = exact_from if exact_from is not None else (0 if exact else NUM_SCALES)
        self.weights = _weights_for(self.shape)
        if self.exact_from > 0:
            # X and B at full scale weigh under 0.001 each (at most ~0.02 points):
            # skipping them saves 2 of the 5 full-size blurs per candidate.
            self.weights = self.weights.copy()
            self.weights[[0, 2], 0] = 0.0
        self.scales: list[_Scale] = []
        # The fast arithmetic's side of the exact scales, for ``measure``.
        self.proxy_scales: dict[int, _Scale] = {}
        count = self.weights.shape[1]
        for scale in range(count):
            if scale < self.exact_from:  # the fast arithmetic: a strip of rows at a time
                kept, coarser = self._reference_in_strips(scale, linear), _half_in_strips(linear)
            else:
                linear = to_linear(linear)
                kept = self._reference_scale(scale, linear, exact=True)
                if proxy:
                    self.proxy_scales[scale] = self._reference_scale(scale, linear, exact=False)
                coarser = downsample(linear) if scale + 1 < count else linear
            self.scales.append(kept)
            linear = coarser

    def _channels(self, scale: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        """(used, SSIM', edge-map) channels: those with any weight at this scale."""
        w = self.weights[:, scale]
        ssim = tuple(c for c in range(3) if w[c, :, 0].any())
        used = tuple(c for c in range(3) if w[c].any())
        edges = tuple(c for c in range(3) if w[c, :, 1:].any())
        return used, ssim, edges

    def _reference_scale(self, scale: int, linear: np.ndarray, *, exact: bool) -> _Scale:
        used, ssim, edges = self._channels(scale)
        xyb = self._xyb(scale, linear, exact=exact)
        planes = [xyb[c] for c in used] + [xyb[c] * xyb[c] for c in ssim]
        blurred = self._blur_all(planes, exact=exact)
        mu = dict(zip(used, blurred, strict=False))
        sigmas = blurred[len(used) :]
        variance = {c: s11 - mu[c] * mu[c] for c, s11 in zip(ssim, sigmas, strict=True)}
        return _Scale({c: xyb[c] for c in used}, mu, variance, ssim, used, edges)

    def _reference_in_strips(self, scale: int, planes: np.ndarray) -> _Scale:
        """One scale computed a strip of rows at a time: no temporary of the
        scale's size beyond the kept planes."""
        used, ssim, edges = self._channels(scale)
        h, w = planes.shape[1:]
        kept = {
            name: {c: np.empty((h, w), _F32) for c in channels}
            for name, channels in (("xyb", used), ("mu", used), ("variance", ssim))
        }
        for a, b, top, bottom in _strip_bounds(planes):
            ext = planes[:, top:bottom]
            xyb = xyb_fast(to_linear(ext), used)
            rows = [xyb[c] for c in used] + [xyb[c] * xyb[c] for c in ssim]
            blurred = [blur_rows(plane, top, a, b, h) for plane in rows]
            for c, m in zip(used, blurred, strict=False):
                kept["xyb"][c][a:b] = xyb[c][a - top : b - top]
                kept["mu"][c][a:b] = m
            for c, s11 in zip(ssim, blurred[len(used) :], strict=True):
                m = kept["mu"][c][a:b]
                kept["variance"][c][a:b] = s11 - m * m
        return _Scale(kept["xyb"], kept["mu"], kept["variance"], ssim, used, edges)

    @staticmethod
    def _blur_all(planes: list[np.ndarray], *, exact: bool) -> list[np.ndarray]:
        """Each plane blurred on its own. The exact blur takes them stacked: its
        loop runs per row and per column, so one call for all halves the loop."""
        if exact:
            return list(blur_exact(np.stack(planes)))
        return [blur_plane(plane) for plane in planes]

    def _xyb(self, scale: int, linear: np.ndarray, *, exact: bool) -> np.ndarray:
        if exact:
            return xyb_exact(linear)
        return xyb_fast(linear, self._channels(scale)[0])

    def score(self, linear: np.ndarray, *, at_least: float | None = None) -> float:
        """SSIMULACRA2 of distorted planes against this reference (100 = identical).

        ``linear`` is linear float32 planes or ``planes()``' sRGB bytes. With
        ``at_least``, the computation may stop as soon as the score is known
        to be below it, and returns a value below it (an upper bound of the
        score). Every scale adds a non-negative term and the final mapping
        falls as the sum grows, so the coarse scales, which hold most of the
        sum and a third of the pixels, come first.
        """
        if linear.shape[1:] != self.shape:
            raise ValueError(
                f"size mismatch: {linear.shape[2]}x{linear.shape[1]} "
                f"against {self.shape[1]}x{self.shape[0]}"
            )
        pyramid = self._pyramid(linear)
        del linear  # the pyramid holds what is still needed, and frees it scale by scale
        total = 0.0
        for index in reversed(range(len(self.scales))):
            level = pyramid.pop()
            if index < self.exact_from:
                total += self._scale_sum_in_strips(index, level)
            else:
                total += self._scale_sum(index, level, exact=True)
            del level
            if at_least is not None and _final(total) < at_least:
                break
        return _final(total)

    def measure(
        self,
        linear: np.ndarray,
        *,
        offset: float = 0.0,
        at_least: float | None = None,
        after_sample: Callable[[Measurement], bool] | None = None,
    ) -> Measurement:
        """``score``'s work with the fast arithmetic at the exact scales (needs ``proxy``).

        The finer scales are summed exactly as ``score`` sums them; the
        coarser ones with the fast arithmetic, and the candidate's planes at
        the first exact scale are kept, so ``confirm`` can finish the exact
        score without decoding again. ``offset`` is the expected difference
        between the exact and fast sums of the coarse scales (learned by the
        caller from earlier confirmations); with ``at_least``, measuring may
        stop once the estimate is below it.

        The finer scales, most of the work, are summed on their sampled
        strips first (``Measurement.sampled``); ``after_sample`` sees the
        measurement then and may stop it there (it may set ``predicted``).
        Otherwise the other strips follow, and every sum is the one a
        measurement without a sample makes, to the last bit.
        """
        if not self.proxy_scales and self.exact_from < len(self.scales):
            raise ValueError("measure needs a Reference built with proxy=True")
        pyramid = self._pyramid(linear)
        del linear
        result = Measurement(fine=[], coarse_fast=0.0, level=None, complete=False)
        finer = min(self.exact_from, len(self.scales))
        for index in reversed(range(finer, len(self.scales))):
            level = pyramid.pop()
            result.coarse_fast += self._scale_sum(index, level, exact=False)
            if index == self.exact_from:
                result.level = level
            del level
            if at_least is not None and result.estimate(offset) < at_least:
                return result
        # pyramid[index] is scale ``index`` now, for every finer scale.
        parts = {
            index: self._strip_sums(index, pyramid[index], _sampled_strips(pyramid[index]))
            for index in reversed(range(finer))
        }
        for index, sampled in parts.items():
            pixels = sum(rows for rows, _ in sampled.values()) * pyramid[index].shape[2]
            result.sampled.append(self._weighted(index, _in_order(sampled), pixels))
        if after_sample is not None and after_sample(result):
            return result
        for index, done in parts.items():
            level = pyramid.pop()
            rest = [i for i in range(len(_strip_bounds(level))) if i not in done]
            strips = done | self._strip_sums(index, level, rest)
            result.fine.append(self._weighted(index, _in_order(strips), level[0].size))
            del level, strips
            if at_least is not None and result.estimate(offset) < at_least:
                return result
        result.complete = True
        return result

    def confirm(self, measured: Measurement) -> float:
        """The exact score (``score``'s, to the last bit) of a complete measurement."""
        if not measured.complete:
            raise ValueError("only a complete measurement can be confirmed")
        measured.coarse_exact = 0.0
        if measured.level is not None:
            pyramid = [measured.level]
            for _ in range(self.exact_from + 1, len(self.scales)):
                pyramid.append(downsample(pyramid[-1]))
            for index in reversed(range(self.exact_from, len(self.scales))):
                measured.coarse_exact += self._scale_sum(index, pyramid.pop(), exact=True)
        return _final(measured.coarse_exact + sum(measured.fine))

    def _pyramid(self, full: np.ndarray) -> list[np.ndarray]:
        pyramid = [full]
        for index in range(1, len(self.scales)):
            below = pyramid[-1]
            pyramid.append(_half_in_strips(below) if index == 1 else downsample(below))
        return pyramid

    def _scale_sum(self, scale: int, level: np.ndarray, *, exact: bool) -> float:
        """The weighted norms of one scale's maps, in the reference's order of operations."""
        ref = self.scales[scale] if exact else self.proxy_scales[scale]
        xyb = self._xyb(scale, to_linear(level), exact=exact)
        ch = ref.ssim_channels
        planes = [xyb[c] for c in ref.used]
        planes += [xyb[c] * xyb[c] for c in ch] + [ref.xyb[c] * xyb[c] for c in ch]
        blurred = self._blur_all(planes, exact=exact)
        sums = self._map_sums(scale, ref, xyb, blurred, exact=exact)
        return self._weighted(scale, sums, xyb.shape[1] * xyb.shape[2])

    def _scale_sum_in_strips(self, scale: int, planes: np.ndarray) -> float:
        """``_scale_sum`` of a scale with the fast arithmetic, a strip of rows at a time."""
        strips = self._strip_sums(scale, planes, range(len(_strip_bounds(planes))))
        return self._weighted(scale, _in_order(strips), planes[0].size)

    def _strip_sums(
        self, scale: int, planes: np.ndarray, which: Iterable[int]
    ) -> dict[int, tuple[int, np.ndarray]]:
        """(rows, ``_map_sums``) of the strips ``which`` of a fast-arithmetic scale."""
        ref = self.scales[scale]
        h = planes.shape[1]
        ch = ref.ssim_channels
        bounds = _strip_bounds(planes)
        out: dict[int, tuple[int, np.ndarray]] = {}
        for i in which:
            a, b, top, bottom = bounds[i]
            ext = planes[:, top:bottom]
            xyb = xyb_fast(to_linear(ext), ref.used)
            local = ref.rows(top, top + ext.shape[1])
            rows = [xyb[c] for c in ref.used]
            rows += [xyb[c] * xyb[c] for c in ch] + [local.xyb[c] * xyb[c] for c in ch]
            blurred = [blur_rows(plane, top, a, b, h) for plane in rows]
            cut = slice(a - top, b - top)
            out[i] = (
                b - a,
                self._map_sums(scale, ref.rows(a, b), xyb[:, cut], blurred, exact=False),
            )
        return out

    def _map_sums(
        self, scale: int, ref: _Scale, xyb: np.ndarray, blurred: list[np.ndarray], *, exact: bool
    ) -> np.ndarray:
        """Sums of each map and of its 4th power, shaped (channel, map, 2).

        Temporaries are reused in place: at the full-size scale each map
        operation is a pass over megapixels, and allocations cost as much as
        the arithmetic.
        """
        sums = np.zeros((3, 3, 2), _F64)
        w = self.weights[:, scale]
        # The reference keeps the maps' quotients in double; the fast path stays in float32.
        wide = _F64 if exact else _F32
        ch, k, n = ref.ssim_channels, len(ref.ssim_channels), len(ref.used)
        mu = dict(zip(ref.used, blurred, strict=False))
        for i, c in enumerate(ch):
            s22, s12 = blurred[n + i], blurred[n + k + i]
            m1, m2 = ref.mu[c], mu[c]
            # num_s = 2 * (s12 - m1 * m2) + C2
            s12 -= m1 * m2
            s12 *= _F32(2)
            s12 += _C2
            # num_m = 1 - (m1 - m2)^2
            num_m = m1 - m2
            np.square(num_m, out=num_m)
            np.subtract(_F32(1.0), num_m, out=num_m)
            # denom_s = (sigma11 - m1^2) + (s22 - m2^2) + C2
            np.subtract(s22, np.square(m2), out=s22)
            np.add(ref.variance[c], s22, out=s22)
            s22 += _C2
            num_m *= s12
            num_m /= s22
            d = num_m.astype(wide, copy=False)
            np.subtract(1.0, d, out=d)
            np.maximum(d, 0.0, out=d)
            sums[c, 0] = _sums(d)
        for c in ref.edge_channels:
            # ratio - 1 = (1 + |xyb - mu|) / (1 + |ref.xyb - ref.mu|) - 1
            ref_edge = np.abs(ref.xyb[c] - ref.mu[c]).astype(wide)
            ref_edge += 1.0
            d1 = np.abs(np.subtract(xyb[c], mu[c])).astype(wide, copy=False)
            d1 += 1.0
            d1 /= ref_edge
            d1 -= 1.0
            if w[c, :, 1].any():
                sums[c, 1] = _sums(np.maximum(d1, 0.0))
            if w[c, :, 2].any():
                np.negative(d1, out=d1)
                sums[c, 2] = _sums(np.maximum(d1, 0.0, out=d1))
        return sums

    def _weighted(self, scale: int, sums: np.ndarray, pixels: int) -> float:
        """The weighted 1- and 4-norms of the maps, from their sums over ``pixels``."""
        w = self.weights[:, scale]
        total = 0.0
        for c in range(3):
            for m in range(3):
                if w[c, :, m].any():
                    mean = sums[c, m, 0] / pixels
                    norm4 = float(np.sqrt(np.sqrt(sums[c, m, 1] / pixels)))
                    total += w[c, 0, m] * mean + w[c, 1, m] * norm4
        return total


# Rows of the finer scales processed at once: strips start and end on the
# blur's tile (so they cut the blur where the whole-plane blur cuts it) and on
# even rows (the 2x2 downsampling's grid). In the middle of every STRIP_ROWS
# rows, a band of SAMPLE_ROWS is a strip of its own: the rows a sampled
# measurement sums first, an eighth of the scale (see ``Reference.measure``).
STRIP_ROWS = 8 * TILE
SAMPLE_ROWS = TILE


def _strip_bounds(planes: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(a, b, top, bottom) of each strip: rows [a, b), and the rows [top, bottom) of
    the planes around them with the blur's reach (RADIUS rows each side, fewer at
    the image's edges)."""
    h = planes.shape[1]
    cuts = {0, h}
    for start in range(STRIP_ROWS // 2, h, STRIP_ROWS):
        cuts.update((start, min(h, start + SAMPLE_ROWS)))
    edges = sorted(cuts)
    return [(a, b, max(0, a - RADIUS), min(h, b + RADIUS)) for a, b in itertools.pairwise(edges)]


def _sampled_strips(planes: np.ndarray) -> list[int]:
    """The sample bands' strips; every strip when the scale is too short for one."""
    bounds = _strip_bounds(planes)
    bands = [i for i, (a, *_) in enumerate(bounds) if a % STRIP_ROWS == STRIP_ROWS // 2]
    return bands or list(range(len(bounds)))


def _in_order(strips: dict[int, tuple[int, np.ndarray]]) -> np.ndarray:
    """The strips' map sums added top to bottom, as one pass over the scale adds them."""
    sums = np.zeros((3, 3, 2), _F64)
    for index in sorted(strips):
        sums += strips[index][1]
    return sums


def _half_in_strips(planes: np.ndarray) -> np.ndarray:
    """``downsample(to_linear(planes))`` a strip at a time (no full-size float copy)."""
    h, w = planes.shape[1:]
    half = np.empty((3, (h + 1) // 2, (w + 1) // 2), _F32)
    for a in range(0, h, STRIP_ROWS):
        b = min(h, a + STRIP_ROWS)
        half[:, a // 2 : (b + 1) // 2] = downsample(to_linear(planes[:, a:b]))
    return half


def _sums(d: np.ndarray) -> tuple[float, float]:
    """Sum and sum of 4th powers of a non-negative map (the norms' numerators)."""
    d2 = d * d
    d2 *= d2
    return float(d.sum(dtype=_F64)), float(d2.sum(dtype=_F64))


def _weights_for(shape: tuple[int, ...]) -> np.ndarray:
    """Weights shaped (channel, scale, norm, map) for as many scales as the size allows.

    The reference checks the size before halving: scale k exists when scale
    k - 1 is at least 8x8 (so the last one may be smaller).
    """
    h, w = shape
    scales = 0
    while scales < NUM_SCALES and h >= 8 and w >= 8:
        scales += 1
        if scales > 1:
            h, w = (h + 1) // 2, (w + 1) // 2
    return _WEIGHTS[: 18 * scales].reshape(3, scales, 2, 3)


def _final(total: float) -> float:
    s = total * 0.9562382616834844
    s = 2.326765642916932 * s - 0.020884521182843837 * s * s + 6.248496625763138e-05 * s**3
    return 100.0 - 10.0 * s**0.6276336467831387 if s > 0 else 100.0


def score_images(original: Image.Image, distorted: Image.Image, *, exact: bool = True) -> float:
    """SSIMULACRA2 of two decoded images, EXIF orientation applied to both.

    With transparency the score is the worse of blending over dark and light
    grey (0.1 and 0.9), as the reference tool does. Raises ValueError when
    the sizes differ or an image is smaller than 8x8.
    """
    original = ImageOps.exif_transpose(original)
    distorted = ImageOps.exif_transpose(distorted)
    if original.size != distorted.size:
        raise ValueError(
            f"size mismatch: original is {original.size[0]}x{original.size[1]}, "
            f"compressed is {distorted.size[0]}x{distorted.size[1]}"
        )
    backgrounds = (0.1, 0.9) if has_alpha(original) or has_alpha(distorted) else (0.5,)
    return min(
        Reference(linear_rgb(original, bg), exact=exact).score(linear_rgb(distorted, bg))
        for bg in backgrounds
    )


def score_bytes(original: bytes, distorted: bytes, *, exact: bool = True) -> float:
    """SSIMULACRA2 of two encoded images in any format Pillow reads."""
    with Image.open(io.BytesIO(original)) as a, Image.open(io.BytesIO(distorted)) as b:
        return score_images(a, b, exact=exact)
