"""libjxl's float32 operations in numpy, for the arithmetic that must match it to
the last bit (``blur.blur_exact``, ``colour.xyb_exact``)."""

from __future__ import annotations

import numpy as np

_F32, _F64 = np.float32, np.float64


def fma(a: object, b: object, c: object) -> np.ndarray:
    """float32 fused multiply-add: a float32 product is exact in float64."""
    return (np.asarray(a, _F64) * np.asarray(b, _F64) + np.asarray(c, _F64)).astype(_F32)


def mul(a: object, b: object) -> np.ndarray:
    """float32 product: exact in float64, then rounded once."""
    return (np.asarray(a, _F64) * np.asarray(b, _F64)).astype(_F32)
