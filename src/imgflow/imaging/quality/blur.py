"""The reference's blur: a Gaussian of sigma 1.5, zero outside the image, done two ways.

``blur_exact`` replays libjxl's recursive Gaussian (Charalampidis 2016)
operation by operation in float32 with its fused multiply-adds: a Python
loop over the columns, then over the rows (a whole exact score takes about
0.75 s per megapixel on one core, 1.1 s before the horizontal pass ran on
transposed rows in preallocated buffers). ``blur_fast`` applies the same
filter taps as one banded matrix product per tile, float32 BLAS (a whole
score with it: about 0.1 s per megapixel); ``blur_rows`` is the same blur
on a strip of rows. Why a score needs both: see ``metric``.
"""

from __future__ import annotations

import math

import numpy as np

from imgflow.imaging.quality.float32 import fma, mul

_F32, _F64 = np.float32, np.float64
# The fast blur's tile: output rows and columns per matrix product.
TILE = 32


# --- libjxl's recursive Gaussian (CreateRecursiveGaussian, sigma 1.5) ----------


def _recursive_gaussian(
    sigma: float,
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    radius = round(3.2795 * sigma + 0.2546)
    pi_div_2r = math.pi / (2.0 * radius)
    omega = [pi_div_2r, 3 * pi_div_2r, 5 * pi_div_2r]
    p = [1 / math.tan(0.5 * omega[0]), -1 / math.tan(0.5 * omega[1]), 1 / math.tan(0.5 * omega[2])]
    r = [p[0] ** 2 / math.sin(omega[0]), -(p[1] ** 2) / math.sin(omega[1])]
    r.append(p[2] ** 2 / math.sin(omega[2]))
    rho = [math.exp(-0.5 * sigma * sigma * o * o) / radius for o in omega]
    d13 = p[0] * r[1] - r[0] * p[1]
    d35 = p[1] * r[2] - r[1] * p[2]
    d51 = p[2] * r[0] - r[2] * p[0]
    z15, z35 = d35 / d13, d51 / d13
    gamma = [1.0, radius * radius - sigma * sigma, z15 * rho[0] + z35 * rho[1] + rho[2]]
    beta = np.linalg.solve(np.array([p, r, [z15, z35, 1.0]]), np.array(gamma))
    n2 = [-beta[i] * math.cos(omega[i] * (radius + 1.0)) for i in range(3)]
    d1 = [-2.0 * math.cos(omega[i]) for i in range(3)]
    mul_prev, mul_prev2, mul_in = [], [], []
    for d, n in zip(d1, n2, strict=True):
        d2 = d * d
        mul_prev.append([-d, d2 - 1.0, -d2 * d + 2.0 * d, d2 * d2 - 3.0 * d2 + 1.0])
        mul_prev2.append([-1.0, d, -d2 + 1.0, d2 * d - 2.0 * d])
        mul_in.append([n, -d * n, d2 * n - n, -d2 * d * n + 2.0 * d * n])
    n2_, d1_, prev_, prev2_, in_ = (
        np.array(v, dtype=_F32) for v in (n2, d1, mul_prev, mul_prev2, mul_in)
    )
    return radius, n2_, d1_, prev_, prev2_, in_


_N, _N2, _D1, _MUL_PREV, _MUL_PREV2, _MUL_IN = _recursive_gaussian(1.5)


def _impulse_response() -> np.ndarray:
    """The filter taps the recursion realises (a symmetric FIR of radius N - 1)."""
    x = np.zeros((1, 4 * _N + 1), dtype=_F64)
    x[0, 2 * _N] = 1.0
    taps = np.zeros(x.shape[1])
    for k in range(3):
        prev = prev2 = 0.0
        for n in range(-_N + 1, x.shape[1]):
            left, right = n - _N - 1, n + _N - 1
            s = (x[0, left] if left >= 0 else 0.0) + (x[0, right] if right < x.shape[1] else 0.0)
            out = float(_N2[k]) * s - float(_D1[k]) * prev - prev2
            prev2, prev = prev, out
            if n >= 0:
                taps[n] += out
    return taps[_N + 1 : 3 * _N]


_TAPS = _impulse_response()
RADIUS = len(_TAPS) // 2


def _kernel_matrix(tile: int) -> np.ndarray:
    """(tile + 2R) x tile: column j holds the taps centred on input row j + R."""
    k = np.zeros((tile + 2 * RADIUS, tile), dtype=_F32)
    for j in range(tile):
        k[j : j + 2 * RADIUS + 1, j] = _TAPS
    return k


_K = _kernel_matrix(TILE)
_KT = np.ascontiguousarray(_K.T)


def blur_fast(planes: np.ndarray) -> np.ndarray:
    """The reference's filter (zero outside) on planes (n, h, w) as tiled float32 GEMMs.

    Each 32-wide output tile is the input tile plus an R-wide halo times a
    banded (32 + 2R) x 32 matrix: BLAS does the arithmetic, numpy the loop.
    """
    return np.stack([blur_plane(plane) for plane in planes])


def blur_plane(plane: np.ndarray) -> np.ndarray:
    """``blur_fast`` of one (h, w) plane. Planes go one at a time: stacked, the
    transposes fall out of cache and a 3-plane call costs up to 1.5x three
    1-plane calls."""
    h, w = plane.shape
    r, t = RADIUS, TILE
    tw, th = -(-w // t), -(-h // t)
    rows = np.zeros((h, tw * t + 2 * r), dtype=_F32)
    rows[:, r : r + w] = plane
    cols = np.zeros((th * t + 2 * r, tw * t), dtype=_F32)
    across = cols[r : r + h]
    for j in range(tw):
        np.matmul(rows[:, j * t : j * t + t + 2 * r], _K, out=across[:, j * t : (j + 1) * t])
    down = np.empty((th * t, tw * t), dtype=_F32)
    for i in range(th):
        np.matmul(_KT, cols[i * t : i * t + t + 2 * r], out=down[i * t : (i + 1) * t])
    return down[:h, :w]


def blur_rows(ext: np.ndarray, top: int, a: int, b: int, h: int) -> np.ndarray:
    """Rows [a, b) of ``blur_plane`` of an (h, w) plane, from its rows [top, top + len(ext)),
    which reach RADIUS rows beyond [a, b) where the image has them.

    ``a`` is a multiple of the tile: the vertical pass then multiplies the same
    tiles by the same matrix as the whole-plane blur does.
    """
    w = ext.shape[1]
    r, t = RADIUS, TILE
    tw, th = -(-w // t), -(-(b - a) // t)
    rows = np.zeros((ext.shape[0], tw * t + 2 * r), dtype=_F32)
    rows[:, r : r + w] = ext
    cols = np.zeros((th * t + 2 * r, tw * t), dtype=_F32)  # row k is image row a - r + k
    across = cols[top - (a - r) : top - (a - r) + ext.shape[0]]
    for j in range(tw):
        np.matmul(rows[:, j * t : j * t + t + 2 * r], _K, out=across[:, j * t : (j + 1) * t])
    down = np.empty((th * t, tw * t), dtype=_F32)
    for i in range(th):
        np.matmul(_KT, cols[i * t : i * t + t + 2 * r], out=down[i * t : (i + 1) * t])
    return down[: b - a, :w]


def blur_exact(planes: np.ndarray) -> np.ndarray:
    """libjxl FastGaussian on planes (n, h, w), float32 operation by operation."""
    n, h, w = planes.shape
    rows = _horizontal(np.ascontiguousarray(planes, dtype=_F32).reshape(n * h, w))
    cols = rows.reshape(n, h, w).transpose(1, 0, 2).reshape(h, n * w)
    return _vertical(cols).reshape(h, n, w).transpose(1, 0, 2)


def _horizontal(x: np.ndarray) -> np.ndarray:
    """FastGaussian1D on each row: a scalar warm-up, 4-lane unrolled body, scalar tail.

    The three cosine terms (k = 1, 3, 5) run side by side on a leading axis.
    The rows are processed transposed, a column of every row at a time, each
    ``fma`` in preallocated buffers: every step reads and writes contiguous
    memory, where a column slice of the rows touched a cache line per row.
    The same operations in the same order, so the same bits (5x faster).
    """
    xt = np.ascontiguousarray(x.T)
    width, rows = xt.shape
    out = np.empty_like(xt)
    zero = np.zeros(rows, _F32)
    prev = np.zeros((3, rows), _F32)
    prev2 = np.zeros((3, rows), _F32)
    in0, prev2_0, prev_0 = (_MUL_IN[:, 0:1], _MUL_PREV2[:, 0:1], _MUL_PREV[:, 0:1])

    def scalar_step(n: int) -> None:
        nonlocal prev, prev2
        left, right = n - _N - 1, n + _N - 1
        s = (xt[left] if left >= 0 else zero) + (xt[right] if right < width else zero)
        o = fma(prev2_0, prev2, mul(s[None, :], in0))
        prev2 = prev
        prev = fma(prev_0, prev, o)
        if n >= 0:
            out[n] = prev[0] + (prev[1] + prev[2])

    # (3, 4 shifts, 4 lanes, 1): lane j of shift i multiplies input i with mul_in[j - i].
    shifted = np.zeros((3, 4, 4, 1), _F64)
    for i in range(4):
        shifted[:, i, i:, 0] = _MUL_IN[:, : 4 - i]
    mul_prev2 = _MUL_PREV2[:, :, None].astype(_F64)
    mul_prev = _MUL_PREV[:, :, None].astype(_F64)
    n = -_N + 1
    first_aligned = -(-(_N + 1) // 4) * 4
    while n < min(first_aligned, width):
        scalar_step(n)
        n += 1
    # ``fma`` step by step in preallocated buffers: each product is exact in
    # float64, the sum is rounded to float32 by assigning it to ``o``.
    wide = np.empty((3, 4, rows), _F64)
    o = np.empty((3, 4, rows), _F32)
    before = np.empty((2, 3, 1, rows), _F64)  # prev2, prev
    before[0, :, 0], before[1, :, 0] = prev2, prev
    while n < width - _N + 1 - 3:
        s = (xt[n - _N - 1 : n - _N + 3] + xt[n + _N - 1 : n + _N + 3]).astype(_F64)
        np.multiply(shifted[:, 0], s[0], out=wide)  # (3, 4 lanes, rows)
        o[...] = wide
        for i in (1, 2, 3):
            np.multiply(shifted[:, i], s[i], out=wide)
            wide += o
            o[...] = wide
        for factor, state in ((mul_prev2, before[0]), (mul_prev, before[1])):
            np.multiply(factor, state, out=wide)
            wide += o
            o[...] = wide
        before[0, :, 0], before[1, :, 0] = o[:, 2], o[:, 3]
        out[n : n + 4] = o[0] + (o[1] + o[2])
        n += 4
    prev2, prev = before[0, :, 0].astype(_F32), before[1, :, 0].astype(_F32)
    while n < width:
        scalar_step(n)
        n += 1
    return np.ascontiguousarray(out.T)


def _vertical(x: np.ndarray) -> np.ndarray:
    """FastGaussianVertical on each column: y = n2 * sum - d1 * y[-1] - y[-2], fused."""
    h = x.shape[0]
    out = np.empty_like(x)
    zero = np.zeros(x.shape[1:], _F32)
    shape = (3,) + (1,) * (x.ndim - 1)
    n2, neg_d1 = _N2.reshape(shape).astype(_F64), -_D1.reshape(shape).astype(_F64)
    y1 = np.zeros((3, *x.shape[1:]), _F32)
    y2 = np.zeros_like(y1)
    for n in range(-_N + 1, h):
        top, bottom = n - _N - 1, n + _N - 1
        below = x[bottom] if bottom < h else zero
        s = below if n < min(_N + 1, h) else x[top] + below
        t = (neg_d1 * y1 - y2).astype(_F32)
        y = (n2 * s.astype(_F64) + t).astype(_F32)
        y2, y1 = y1, y
        if n >= 0:
            out[n] = y[0] + (y[1] + y[2])
    return out
