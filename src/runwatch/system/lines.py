"""Terminal output to stored lines: what a terminal would show, line by line.

A carriage return moves back to the start of the line and later text overwrites
it, so a progress bar redrawn a thousand times is stored once, in its final
state. Colour and cursor escape sequences are dropped (erase-line ones are
applied), the rest of the C0 controls too, except tabs. A line longer than
``max_chars`` is cut with a marker.
"""

from __future__ import annotations

import codecs
import re

MAX_LINE_CHARS = 16_384
CUT_MARKER = " [runwatch: line cut at {n:,} characters]"

# CSI (colours, cursor moves, erase), OSC (titles, hyperlinks), two-byte escapes.
_ESCAPE = r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]"
_TOKEN = re.compile(rf"(\r|\x08|{_ESCAPE}|[\x00-\x07\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]+|\x1b)")
# An escape sequence the chunk boundary cut in two: kept for the next chunk.
_PARTIAL_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*)?$")
_ERASE_LINE = re.compile(r"\x1b\[([012]?)K$")
# Anything but plain text, tabs and newlines: such a chunk takes the slow path.
_SPECIAL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class LineAssembler:
    """Feed it text (or bytes); it returns the lines that ended, each with the time its
    first character arrived."""

    __slots__ = ("_decoder", "_line", "_col", "_started", "_carry", "_cut", "max_chars")

    def __init__(self, max_chars: int = MAX_LINE_CHARS) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._line = ""
        self._col = 0
        self._started: float | None = None
        self._carry = ""
        self._cut = False
        self.max_chars = max_chars

    def feed_bytes(self, data: bytes, at: float) -> list[tuple[float, str]]:
        return self.feed(self._decoder.decode(data), at)

    def feed(self, text: str, at: float) -> list[tuple[float, str]]:
        if self._carry:
            text = self._carry + text
            self._carry = ""
        partial = _PARTIAL_ESCAPE.search(text) if "\x1b" in text else None
        if partial is not None and len(text) - partial.start() < 256:
            self._carry = text[partial.start():]
            text = text[:partial.start()]
        if not _SPECIAL.search(text):
            return self._feed_plain(text, at)
        out: list[tuple[float, str]] = []
        pieces = text.split("\n")
        for i, piece in enumerate(pieces):
            if piece:
                if self._started is None:
                    self._started = at
                self._write(piece)
            if i < len(pieces) - 1:
                out.append((self._started if self._started is not None else at, self._finish()))
        return out

    def _feed_plain(self, text: str, at: float) -> list[tuple[float, str]]:
        """Plain lines (most output): whole lines are taken as they are, in C-speed splits."""
        pieces = text.split("\n")
        first, last = pieces[0], pieces[-1]
        if first:
            if self._started is None:
                self._started = at
            self._write(first)
        if len(pieces) == 1:
            return []
        out = [(self._started if self._started is not None else at, self._finish())]
        limit = self.max_chars
        for piece in pieces[1:-1]:
            if len(piece) > limit:
                out.append((at, piece[:limit].rstrip() + CUT_MARKER.format(n=limit)))
            else:
                out.append((at, piece.rstrip()))
        if last:
            self._started = at
            self._write(last)
        return out

    def flush(self, at: float) -> list[tuple[float, str]]:
        """The unfinished line, if any (at the end of the capture)."""
        if self._carry:
            carry, self._carry = self._carry, ""
            self.feed(carry.replace("\x1b", ""), at)
        if self._started is None and not self._line:
            return []
        return [(self._started if self._started is not None else at, self._finish())]

    @property
    def pending(self) -> bool:
        return self._started is not None

    def _finish(self) -> str:
        line = self._line.rstrip()
        if self._cut:
            line += CUT_MARKER.format(n=self.max_chars)
        self._line, self._col, self._started, self._cut = "", 0, None, False
        return line

    def _write(self, piece: str) -> None:
        if self._col == len(self._line) and "\r" not in piece and "\x1b" not in piece \
                and "\x08" not in piece and piece.isprintable():
            self._put(piece)  # the common case: plain text at the end of the line
            return
        for token in _TOKEN.split(piece):
            if not token:
                continue
            if token == "\r":
                self._col = 0
            elif token == "\x08":
                self._col = max(0, self._col - 1)
            elif token[0] == "\x1b":
                erase = _ERASE_LINE.match(token)
                if erase is not None:
                    if erase.group(1) == "2":
                        self._line = ""
                        self._col = 0
                    elif erase.group(1) == "1":
                        self._line = " " * self._col + self._line[self._col:]
                    else:
                        self._line = self._line[:self._col]
            elif token[0] < " " or token[0] == "\x7f":
                continue  # a bell or another control a terminal would not print
            else:
                self._put(token)

    def _put(self, text: str) -> None:
        line, col = self._line, self._col
        room = self.max_chars - col
        if room <= 0:
            self._cut = True
            return
        if len(text) > room:
            text = text[:room]
            self._cut = True
        if col == len(line):
            self._line = line + text
        elif col > len(line):
            self._line = line + " " * (col - len(line)) + text
        else:
            self._line = line[:col] + text + line[col + len(text):]
        self._col = col + len(text)
