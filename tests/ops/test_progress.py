"""The progress bar ``imgflow run`` and ``imgflow replay`` draw on stderr."""

from __future__ import annotations

import io

from imgflow_toolkit.commands.run import ProgressBar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_bar_is_redrawn_in_place_and_ends_with_a_newline():
    screen = _Terminal()
    bar = ProgressBar(screen, width=10)
    bar(0, 4)
    bar(2, 4)
    bar(4, 4)
    text = screen.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n") and text.count("\n") == 1
    assert "\r[#####.....] 2/4 images done" in text
    assert "[##########] 4/4" in text


def test_in_a_log_only_the_final_line_is_written():
    log = io.StringIO()
    bar = ProgressBar(log, width=10)
    bar(1, 4)
    bar(4, 4)
    assert log.getvalue().startswith("[##########] 4/4 images done in ")
    assert log.getvalue().count("\n") == 1
