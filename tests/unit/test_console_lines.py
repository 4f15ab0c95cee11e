"""LineAssembler: terminal output to the lines a terminal would show."""

from __future__ import annotations

import pytest

from runwatch.system.lines import LineAssembler


def texts(pairs: list[tuple[float, str]]) -> list[str]:
    return [t for _at, t in pairs]


def test_lines_keep_the_time_their_first_character_arrived() -> None:
    a = LineAssembler()
    assert a.feed("hel", 1.0) == []
    assert a.feed("lo\nwor", 2.0) == [(1.0, "hello")]
    assert a.feed("ld\n\n", 3.0) == [(2.0, "world"), (3.0, "")]


@pytest.mark.parametrize("chunks, expected", [
    # tqdm: every redraw starts with \r; the last state stays.
    ([" 10%|#  |\r", " 50%|## |\r", "100%|###|\n"], ["100%|###|"]),
    (["\r 10%", "\r 50%", "\r100%\n"], ["100%"]),
    # A shorter redraw overwrites only the start, as on a terminal.
    (["abcdef\rXY\n"], ["XYcdef"]),
    # \r\n ends a line without erasing it.
    (["done\r\n"], ["done"]),
    # A cleared bar (leave=False) followed by text on the same line.
    (["50%|#####|\r", "          \r", "epoch 2\n"], ["epoch 2"]),
    # Erase-line escapes are applied, colours dropped.
    (["step 5\r\x1b[2Kfinished\n"], ["finished"]),
    (["abcdef\r\x1b[Kxy\n"], ["xy"]),
    (["\x1b[1;32mgreen\x1b[0m and \x1b]0;title\x07plain\n"], ["green and plain"]),
    # An escape sequence cut between two writes.
    (["\x1b[3", "1mred\x1b[0m\n"], ["red"]),
    # Backspace moves back; bells and other controls vanish; tabs stay.
    (["abc\x08\x08X\n"], ["aXc"]),
    (["a\tb\x07\x00c\n"], ["a\tbc"]),
    # Trailing spaces (a padded bar) are not kept.
    (["loss 0.5     \n"], ["loss 0.5"]),
])
def test_carriage_returns_and_escapes(chunks: list[str], expected: list[str]) -> None:
    a = LineAssembler()
    out: list[tuple[float, str]] = []
    for chunk in chunks:
        out += a.feed(chunk, 1.0)
    assert texts(out) == expected


def test_utf8_split_between_reads_is_joined() -> None:
    a = LineAssembler()
    data = "naïve ✓ 😀\n".encode()
    out = []
    for i in range(len(data)):
        out += a.feed_bytes(data[i:i + 1], 1.0)
    assert texts(out) == ["naïve ✓ 😀"]


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    a = LineAssembler()
    assert texts(a.feed_bytes(b"bad \xff\xfe bytes\n", 1.0)) == ["bad \ufffd\ufffd bytes"]


def test_a_long_line_is_cut_with_a_marker() -> None:
    a = LineAssembler(max_chars=10)
    [line] = texts(a.feed("x" * 1000 + "\n", 1.0))
    assert line.startswith("x" * 10 + " ")
    assert "line cut at 10 characters" in line
    assert texts(a.feed("short\n", 2.0)) == ["short"]  # the next line is whole again


def test_flush_returns_the_unfinished_line() -> None:
    a = LineAssembler()
    a.feed("no newline\r 99%", 1.0)
    assert a.pending
    assert a.flush(2.0) == [(1.0, " 99%ewline")]  # overwrote "no n"
    assert a.flush(3.0) == []


def test_many_lines_in_one_chunk_take_the_fast_path_with_the_same_rules() -> None:
    a = LineAssembler(max_chars=10)
    a.feed("par", 1.0)
    out = a.feed("tial\n" + "y" * 30 + "\npadded   \n\tx\nrest", 2.0)
    assert out == [(1.0, "partial"), (2.0, "y" * 10 + " [runwatch: line cut at 10 characters]"),
                   (2.0, "padded"), (2.0, "\tx")]
    assert a.flush(3.0) == [(2.0, "rest")]
