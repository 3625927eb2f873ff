"""XMP, an XML packet: its GPS properties blanked without changing its length."""

from __future__ import annotations

import re

XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"

# XMP GPS properties (exif:GPSLatitude, drone-dji:GpsLongitude, ...) as an
# attribute or as an element; blanked with spaces, which XML ignores.
_XMP_GPS_ATTRIBUTE = re.compile(rb"""\s[\w.-]+:(?i:gps)\w*\s*=\s*("[^"]*"|'[^']*')""")
_XMP_GPS_ELEMENT = re.compile(rb"<([\w.-]+:(?i:gps)\w*)\b[^>]*?(?:/>|>.*?</\1\s*>)", re.DOTALL)


def blank_xmp_gps(xmp: bytes) -> bytes:
    """Replace every XMP GPS property with spaces (same length)."""

    def spaces(match: re.Match[bytes]) -> bytes:
        return b" " * len(match.group(0))

    return _XMP_GPS_ATTRIBUTE.sub(spaces, _XMP_GPS_ELEMENT.sub(spaces, xmp))
