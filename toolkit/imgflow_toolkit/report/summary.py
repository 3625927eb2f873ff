"""The whole of a run in figures: totals, distributions and failures grouped by type.

AWS-free and independent of any page: report.html draws it, and anything
else (a terminal summary, a test) can read the same numbers.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from imgflow_toolkit.report.images import ImageReport

# Upper bounds (exclusive) of the size classes, in megapixels, and their names.
SIZE_CLASSES: tuple[tuple[float, str], ...] = (
    (1.0, "< 1 MP"),
    (4.0, "1-4 MP"),
    (12.0, "4-12 MP"),
    (24.0, "12-24 MP"),
    (50.0, "24-50 MP"),
    (float("inf"), ">= 50 MP"),
)
UNKNOWN_SIZE = "size unknown"
SAVED_BIN = 5  # percentage points per bar of the saving histogram
SCORE_BIN = 0.5  # score points per bar of the score histogram
MIN_SCORE_BINS = 10  # so that a few scores still read as a distribution
EXAMPLES = 3  # keys shown per failure group


@dataclass
class Bytes:
    """Images and bytes of a group whose result size is known."""

    images: int = 0
    bytes_in: int = 0
    bytes_out: int = 0

    def add(self, report: ImageReport) -> None:
        self.images += 1
        self.bytes_in += report.bytes_in or 0
        self.bytes_out += report.bytes_out if report.bytes_out is not None else 0

    @property
    def saved(self) -> int:
        return self.bytes_in - self.bytes_out

    @property
    def saved_percent(self) -> float:
        return 100.0 * self.saved / self.bytes_in if self.bytes_in else 0.0


@dataclass(frozen=True)
class FailureGroup:
    type: str
    count: int
    message: str  # the most frequent message of the group
    messages: int  # how many distinct messages it has
    examples: tuple[str, ...]  # keys


@dataclass
class Summary:
    images: int
    outcomes: dict[str, int]
    total: Bytes
    saved_histogram: list[int]  # images per SAVED_BIN-point bin, 0% first
    by_format: dict[str, Bytes]
    by_size: dict[str, Bytes]  # in SIZE_CLASSES order, then UNKNOWN_SIZE
    scores: list[float]  # of lossy outputs, ascending
    target: float | None
    failures: list[FailureGroup] = field(default_factory=list)

    @property
    def lowest_score(self) -> float | None:
        return self.scores[0] if self.scores else None

    @property
    def median_score(self) -> float | None:
        return statistics.median(self.scores) if self.scores else None

    @property
    def below_target(self) -> int:
        if self.target is None:
            return 0
        return sum(1 for s in self.scores if s < self.target)

    def score_histogram(self) -> tuple[float, list[int]]:
        """(first bin's lower edge, images per SCORE_BIN), from just below the target
        (or the lowest score) to the highest score."""
        if not self.scores:
            return 0.0, []
        low = min(self.scores[0], self.target if self.target is not None else self.scores[0])
        start = SCORE_BIN * int(low // SCORE_BIN)
        bins = max(int((self.scores[-1] - start) // SCORE_BIN) + 1, MIN_SCORE_BINS)
        counts = [0] * bins
        for s in self.scores:
            counts[int((s - start) // SCORE_BIN)] += 1
        return start, counts


def summarise(reports: list[ImageReport], target: float | None = None) -> Summary:
    """Every figure report.html's summary shows, from the run's per-image reports."""
    total = Bytes()
    histogram = [0] * (100 // SAVED_BIN)
    by_format: dict[str, Bytes] = {}
    by_size: dict[str, Bytes] = {name: Bytes() for _, name in SIZE_CLASSES}
    by_size[UNKNOWN_SIZE] = Bytes()
    for r in reports:
        if r.bytes_out is None or not r.bytes_in:
            continue
        total.add(r)
        by_format.setdefault(format_of(r), Bytes()).add(r)
        by_size[size_class(r.megapixels)].add(r)
        saved = max(0.0, r.saved_percent or 0.0)
        histogram[min(int(saved // SAVED_BIN), len(histogram) - 1)] += 1
    return Summary(
        images=len(reports),
        outcomes=dict(Counter(r.outcome for r in reports).most_common()),
        total=total,
        saved_histogram=histogram,
        by_format=dict(sorted(by_format.items(), key=lambda kv: -kv[1].bytes_in)),
        by_size={name: b for name, b in by_size.items() if b.images},
        scores=sorted(r.score for r in reports if r.score is not None),
        target=target,
        failures=failure_groups(reports),
    )


def failure_groups(reports: list[ImageReport]) -> list[FailureGroup]:
    """Failed images grouped by error type, the most frequent first."""
    groups: dict[str, list[ImageReport]] = {}
    for r in reports:
        if r.error is not None:
            groups.setdefault(r.error.type, []).append(r)
    found = []
    for kind, members in groups.items():
        messages = Counter(r.error.message for r in members if r.error is not None)
        message, _ = messages.most_common(1)[0]
        examples = tuple(r.key for r in members[:EXAMPLES])
        found.append(FailureGroup(kind, len(members), message, len(messages), examples))
    return sorted(found, key=lambda g: (-g.count, g.type))


def quality_target(manifest: dict[str, Any]) -> float | None:
    """The lossy target a run used, from its run.json (which keeps the template's
    resolved parameters; older runs only their overrides)."""
    for section in ("parameters", "resolved_parameters"):
        value = (manifest.get(section) or {}).get("QualityTarget")
        if value not in (None, ""):
            return float(value)
    return None


def format_of(report: ImageReport) -> str:
    """The format validation read, or the file's suffix when it never got that far."""
    if report.format:
        return report.format
    suffix = PurePosixPath(report.key).suffix.lstrip(".").upper()
    return f".{suffix.lower()}" if suffix else "no suffix"


def size_class(megapixels: float | None) -> str:
    if megapixels is None:
        return UNKNOWN_SIZE
    return next(name for bound, name in SIZE_CLASSES if megapixels < bound)


def format_overview(s: Summary) -> str:
    """The terminal's view of a large run: outcomes, bytes, scores and failures by type."""
    lines = [f"{s.images:,} images"]
    lines += [f"  {outcome:<16}{n:>8,}" for outcome, n in s.outcomes.items()]
    t = s.total
    lines.append(
        f"bytes {t.bytes_in:,} -> {t.bytes_out:,}: {t.saved_percent:.1f}% saved "
        f"over {t.images:,} images"
    )
    if s.scores:
        lines.append(
            f"lossy outputs {len(s.scores):,}: lowest score {s.lowest_score:.2f}, median "
            f"{s.median_score:.2f}, {s.below_target} below the target"
        )
    if s.failures:
        lines.append("failures by error type:")
        width = max(len(g.type) for g in s.failures)
        for g in s.failures:
            message = g.message if len(g.message) <= 90 else g.message[:89] + "…"
            lines.append(f"  {g.type:<{width}} {g.count:>6,}  {message}")
    return "\n".join(lines)
