"""JPEG helpers: lossless optimisation, source-quality estimate, metadata carried into re-encodes.

Lossless optimisation re-codes the entropy data and keeps every DCT
coefficient (the lossless mode, and the last step of the lossy one).
"""

from __future__ import annotations

import signal
import subprocess
import sys

from imgflow.imaging import metadata

METHOD = "jpeg-lossless"

# libjpeg's default error handler prints and calls exit(): mozjpeg's transcoder
# does that on files every decoder accepts (a DCT coefficient out of the
# encoder's range), which would end the function's process. So the transcode
# runs in a child process (about 20 ms), and such a file only loses its
# lossless candidate. The user's bytes go in on stdin, the result out on stdout.
_TRANSCODE = (
    "import sys, mozjpeg_lossless_optimization as m\n"
    "sys.stdout.buffer.write(m.optimize(sys.stdin.buffer.read(), copy=m.COPY_MARKERS.ALL))"
)
_TRANSCODE_SECONDS = 120  # a 100 MP JPEG takes about 10 s

# The most the lossless transcode is taken to save, as a share of the file, so
# that a lossy file smaller than that never needs it (``could_beat``). Measured
# (2026-12-02) on 249 JPEGs over 20 KB: the corpus, six Debian wallpaper
# packages and Pillow 11.3's test images. A progressive file has optimised
# Huffman tables already: at most 3.1% saved (56 files). A sequential one may
# have the standard tables, or a camera's: up to 31.8% (192 files; a malformed
# MPO lost 52%, its second picture, but multi-picture files are never transcoded).
# Under SMALL_FILE, headers weigh most (57% saved on a 7.6 KB file) and the
# transcode costs little, so it always runs.
LOSSLESS_GAIN_PROGRESSIVE = 0.10
LOSSLESS_GAIN_SEQUENTIAL = 0.40
SMALL_FILE = 64 * 1024
_SOF_PROGRESSIVE = {0xC2, 0xC6, 0xCA, 0xCE}


def optimize_lossless(data: bytes) -> bytes:
    """Return the JPEG re-encoded with optimised Huffman tables as a progressive JPEG.

    Pixels are bit-identical (jpegtran-class transcoding of the coefficients).
    Every marker is copied: ``optimize()`` drops ICC and EXIF by default. The
    result may be larger than the input (already-optimised files); the
    caller compares. Raises ValueError when mozjpeg cannot transcode the
    file, including when it gives up by ending its process.
    """
    try:
        done = subprocess.run(
            [sys.executable, "-c", _TRANSCODE],
            input=data,
            capture_output=True,
            timeout=_TRANSCODE_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ValueError(f"mozjpeg took over {_TRANSCODE_SECONDS} s to transcode") from exc
    if done.returncode == 0 and done.stdout:
        return done.stdout
    said = done.stderr.decode("utf-8", "replace").strip().splitlines()
    raise ValueError(
        f"mozjpeg cannot transcode this JPEG ({_ended(done.returncode)}): "
        + (said[-1] if said else "no message")
    )


def could_beat(data: bytes, size: int) -> bool:
    """Whether ``optimize_lossless(data)`` could be smaller than ``size`` bytes.

    It costs about a lossy score (0.05 CPU s per MP, in a child process), and
    most lossy files are far smaller than any lossless transcode of their
    source could be; then it need not run.
    """
    if len(data) < SMALL_FILE:
        return True
    try:
        segments, _ = metadata.jpeg_segments(data)
    except ValueError:
        return True
    progressive = any(s.marker in _SOF_PROGRESSIVE for s in segments)
    gain = LOSSLESS_GAIN_PROGRESSIVE if progressive else LOSSLESS_GAIN_SEQUENTIAL
    return size > len(data) * (1.0 - gain)


def _ended(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


# The IJG (libjpeg) luminance table at quality 50, natural order.
_IJG_LUMINANCE = (
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip

# Segments that describe the picture rather than its coding: copied from the
# source into a re-encoded file. APP0 (JFIF) and APP14 (Adobe colour
# transform) belong to the new encoding and are not copied.
_COPIED_APP = {0xE1, 0xE2, 0xED}  # EXIF / XMP, ICC profile, IPTC
_COM = 0xFE


def estimate_quality(table: list[int]) -> int:
    """The IJG quality (1-100) whose scaled luminance table is closest to ``table``.

    Order-independent (sums), so natural or zigzag order both work.
    """
    scale = 100.0 * sum(table) / sum(_IJG_LUMINANCE)
    estimate = (200.0 - scale) / 2.0 if scale <= 100 else 5000.0 / scale
    return max(1, min(100, round(estimate)))


def with_metadata(encoded: bytes, source: bytes) -> bytes:
    """``encoded`` with the source's EXIF, XMP, ICC, IPTC and comment segments.

    Encoders (jpegli, Pillow without arguments, mozjpeg's default) drop them;
    the orientation lives in EXIF, so without this a rotated photo would
    display sideways. The source's segments replace any the encoder wrote.
    """
    kept = [
        source[s.start : s.end]
        for s in metadata.jpeg_segments(source)[0]
        if s.marker in _COPIED_APP or s.marker == _COM
    ]
    segments, _ = metadata.jpeg_segments(encoded)
    out = bytearray(b"\xff\xd8")
    pos = 2
    # The encoder's own leading APP0 (JFIF) stays first, as readers expect.
    if segments and segments[0].marker == 0xE0 and segments[0].start == 2:
        out += encoded[2 : segments[0].end]
        pos = segments[0].end
    out += b"".join(kept)
    for s in segments:
        if s.start < pos:
            continue
        if s.marker in _COPIED_APP or s.marker == _COM:
            out += encoded[pos : s.start]
            pos = s.end
    out += encoded[pos:]
    return bytes(out)
