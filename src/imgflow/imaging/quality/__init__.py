"""SSIMULACRA 2.1, the perceptual score the lossy search is guarded by.

A vectorised numpy port of the reference implementation
(cloudinary/ssimulacra2, ``ssimulacra2.cc``, April 2023): linear sRGB, XYB
rescaled to 0..1, six scales downsampled 2x2 in linear RGB, per-channel
SSIM' (no luma denominator), "ringing" and "blurring" edge maps, 1- and
4-norms, the published 108 weights and the same final polynomial.

One module per job: ``metric`` (``Reference``, ``Measurement``, the scores),
``blur`` (the reference's Gaussian, exact and fast), ``colour`` (sRGB, linear,
XYB, downsampling, ``planes``) and ``float32`` (libjxl's fused multiply-add).
The names below are what the rest of imgflow imports.
"""

from imgflow.imaging.quality.colour import linear_rgb, planes
from imgflow.imaging.quality.metric import Measurement, Reference, score_bytes, score_images

__all__ = [
    "Measurement",
    "Reference",
    "linear_rgb",
    "planes",
    "score_bytes",
    "score_images",
]
