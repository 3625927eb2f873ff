"""Colour as the reference converts it: sRGB bytes to linear to XYB, and 2x2 downsampling.

The sRGB curve is libjxl's rational polynomial, a 256-entry lookup shared by
both arithmetics. ``xyb_exact`` follows libjxl's opsin absorbance and Newton
cube root in float32 with its fused multiply-adds; ``xyb_fast`` uses numpy's
float32 power (within about 1 ulp). ``planes`` and ``linear_rgb`` turn a
decoded image into what ``metric.Reference`` takes.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps

from imgflow.imaging.quality.float32 import fma

_F32 = np.float32


_OPSIN = np.array(
    [
        [0.30, _F32(_F32(1.0) - _F32(0.078)) - _F32(0.30), 0.078],
        [0.23, _F32(_F32(1.0) - _F32(0.078)) - _F32(0.23), 0.078],
        [
            0.24342268924547819,
            0.20476744424496821,
            _F32(_F32(1.0) - _F32(0.24342268924547819)) - _F32(0.20476744424496821),
        ],
    ],
    dtype=_F32,
)
_BIAS = _F32(0.0037930732552754493)
_NEG_BIAS_CBRT = -_F32(np.cbrt(_BIAS))


def _srgb_to_linear_lut() -> np.ndarray:
    """libjxl TF_SRGB::DisplayFromEncoded (rational polynomial, FMA Horner) of v / 255."""
    p = np.array(
        [2.200248328e-04, 1.043637593e-02, 1.624820318e-01, 7.961564959e-01, 8.210152774e-01], _F32
    )
    q = np.array(
        [2.631846970e-01, 1.076976492e00, 4.987528350e-01, -5.512498495e-02, 6.521209011e-03], _F32
    )
    x = (np.arange(256, dtype=_F32) * _F32(1.0 / 255)).astype(_F32)
    yp, yq = np.full(256, p[4], _F32), np.full(256, q[4], _F32)
    for k in (3, 2, 1, 0):
        yp, yq = fma(yp, x, p[k]), fma(yq, x, q[k])
    poly = (yp / yq).astype(_F32)
    return np.where(x > _F32(0.04045), poly, (x * _F32(1.0 / 12.92)).astype(_F32)).astype(_F32)


_LINEAR = _srgb_to_linear_lut()


def _cbrt_and_add(x: np.ndarray, add: np.float32) -> np.ndarray:
    """libjxl CubeRootAndAdd: Newton iterations on x^(-1/3) from an exponent guess."""
    k1_3, k4_3 = _F32(1.0 / 3), _F32(4.0 / 3)
    xa_3 = (k1_3 * x).astype(_F32)
    bits = x.view(np.int32)
    guess = np.int32(0x54800000) - (bits >> 23) * np.int32(0x002AAAAA)
    r = np.where(bits == 0, np.int32(0), guess).astype(np.int32).view(_F32)
    for _ in range(3):
        r2 = r * r
        r = fma(-xa_3, r2 * r2, k4_3 * r)
    r2 = r * r
    r = fma(k1_3, fma(-x, r2 * r2, r), r)
    return fma(r * r, x, add)


def xyb_exact(linear: np.ndarray) -> np.ndarray:
    """Linear sRGB (3, h, w) to XYB rescaled to about 0..1 (MakePositiveXYB)."""
    r, g, b = linear
    m = _OPSIN
    mixed = []
    for i in range(3):
        v = fma(m[i, 0], r, fma(m[i, 1], g, fma(m[i, 2], b, _BIAS)))
        mixed.append(_cbrt_and_add(np.maximum(v, _F32(0)), _NEG_BIAS_CBRT))
    half = _F32(0.5)
    x = half * (mixed[0] - mixed[1])
    y = half * (mixed[0] + mixed[1])
    b_minus_y = (mixed[2] - y) + _F32(0.55)
    return np.stack([x * _F32(14.0) + _F32(0.42), y + _F32(0.01), b_minus_y])


def xyb_fast(linear: np.ndarray, channels: tuple[int, ...] = (0, 1, 2)) -> np.ndarray:
    """``xyb_exact`` with numpy's float32 power and no fused operations (within ~1 ulp).

    Only ``channels`` are filled (the others are left undefined): B needs the
    third cone response, X and Y only the first two.
    """
    rows = 3 if 2 in channels else 2
    mixed = np.tensordot(_OPSIN[:rows], linear, axes=1)
    mixed += _BIAS
    np.maximum(mixed, 0, out=mixed)
    # x ** (1/3): within 1 ulp of np.cbrt, and about twice as fast on float32.
    np.power(mixed, _F32(1.0 / 3.0), out=mixed)
    mixed += _NEG_BIAS_CBRT
    r, g = mixed[0], mixed[1]
    y = (r + g) * _F32(0.5)
    out = np.empty((3, *linear.shape[1:]), dtype=_F32)
    if 0 in channels:
        np.subtract(r, g, out=out[0])
        out[0] *= _F32(0.5 * 14.0)
        out[0] += _F32(0.42)
    if 2 in channels:
        np.subtract(mixed[2], y, out=out[2])
        out[2] += _F32(0.55)
    np.add(y, _F32(0.01), out=out[1])
    return out


def downsample(linear: np.ndarray) -> np.ndarray:
    """2x2 box average of (3, h, w) in the reference's summation order (edge repeated)."""
    _, h, w = linear.shape
    if h % 2:
        linear = np.concatenate([linear, linear[:, -1:, :]], axis=1)
    if w % 2:
        linear = np.concatenate([linear, linear[:, :, -1:]], axis=2)
    s = linear[:, 0::2, 0::2] + linear[:, 0::2, 1::2]
    s += linear[:, 1::2, 0::2]
    s += linear[:, 1::2, 1::2]
    return s * _F32(0.25)


def linear_rgb(image: Image.Image, background: float = 0.5, *, orient: bool = True) -> np.ndarray:
    """Linear sRGB planes (3, h, w) float32, EXIF orientation applied unless ``orient`` is False.

    Alpha is blended over a grey ``background`` in the encoded (gamma)
    domain, as the reference does.
    """
    return to_linear(planes(image, background, orient=orient))


def planes(image: Image.Image, background: float = 0.5, *, orient: bool = True) -> np.ndarray:
    """What ``Reference`` and ``score`` take: sRGB bytes (3, h, w) uint8, a quarter of
    the linear planes' memory (the full-size scale converts them a strip at a time),
    or linear float32 planes when alpha had to be blended in."""
    if orient:
        image = ImageOps.exif_transpose(image)
    if has_alpha(image):
        rgba = np.asarray(image.convert("RGBA"), dtype=_F32) * _F32(1.0 / 255)
        alpha = rgba[..., 3:4]
        encoded = rgba[..., :3] * alpha + _F32(background) * (_F32(1) - alpha)
        linear = np.where(
            encoded <= 0.04045, encoded / 12.92, ((encoded + 0.055) / 1.055) ** 2.4
        ).astype(_F32)
        return np.ascontiguousarray(linear.transpose(2, 0, 1))
    rgb = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    # Planar bytes: a lookup on contiguous uint8 is twice as fast as on strided views.
    return np.ascontiguousarray(rgb.transpose(2, 0, 1))


def to_linear(planes: np.ndarray) -> np.ndarray:
    """Linear float32 planes from ``planes``' output (bytes go through the sRGB curve)."""
    return _LINEAR[planes] if planes.dtype == np.uint8 else planes


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )
