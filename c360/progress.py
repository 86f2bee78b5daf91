"""Progress of long work, with counts and rates: a bar on a terminal, log
lines elsewhere (under Dagster, in CI, in a log file), never minutes of
silence."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from typing import TextIO

Log = Callable[[str], None]


_NAMES_AN_ERROR = re.compile(r"\b[A-Z][A-Za-z ]*Error\b")


def one_line(message: str, limit: int = 400) -> str:
    """A failure's message in one line, for an operator: its first line (dbt's
    names the model, an engine's what it was doing) and, where the message
    goes on, the line naming the error (else its last line: the cause, after
    the SQL an engine quotes or the path dbt gives)."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if len(lines) <= 1:
        return lines[0] if lines else ""
    named = [line for line in lines[1:] if _NAMES_AN_ERROR.search(line)]
    line = f"{lines[0]} ... {named[0] if named else lines[-1]}"
    return line if len(line) <= limit else line[: limit - 3] + "..."


def rate_line(description: str, done: int, total: int | None, unit: str, seconds: float) -> str:
    """`load: 3,200,000 rows, 410,000 rows/s, 7.8 s` (with `of N (P%)` when the
    total is known)."""
    line = f"{description}: {done:,}"
    if total:
        line += f" of {total:,} ({100 * done / total:.0f}%)"
    line += f" {unit}"
    if seconds > 0:
        line += f", {done / seconds:,.0f} {unit}/s"
    return f"{line}, {seconds:.1f} s"


class Progress:
    """Counts `unit`s of work as they are done. On a terminal (and with no
    `log` given) it draws a tqdm bar; otherwise it writes a rate line at most
    every `every` seconds, and always a last one on close."""

    def __init__(
        self,
        description: str,
        *,
        total: int | None = None,
        unit: str = "rows",
        log: Log | None = None,
        stream: TextIO | None = None,
        every: float = 10.0,
    ) -> None:
        self.description, self.total, self.unit, self.every = description, total, unit, every
        self.done = 0
        self._started = self._reported = time.monotonic()
        stream = stream or sys.stderr
        self._log = log or (lambda line: print(line, file=stream, flush=True))
        self._bar = None
        if log is None and stream.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit=unit, desc=description, file=stream)

    def update(self, count: int, note: str = "") -> None:
        self.done += count
        if self._bar is not None:
            self._bar.update(count)
            if note:
                self._bar.set_postfix_str(note)
            return
        now = time.monotonic()
        if now - self._reported >= self.every:
            self._reported = now
            line = rate_line(
                self.description, self.done, self.total, self.unit, now - self._started
            )
            self._log(f"{line}{f' ({note})' if note else ''}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        seconds = time.monotonic() - self._started
        self._log(rate_line(self.description, self.done, self.total, self.unit, seconds))

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
