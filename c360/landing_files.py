"""How a landing file is read: the dialect of a CSV file, told from its header
and bytes rather than guessed by an engine's sniffer, which falls back to one
column per line on a file it cannot place (and so would load garbage).

The contract says "CSV with a header row"; sources deliver it with commas,
semicolons, tabs or pipes, with or without a byte order mark, with CRLF line
ends, and now and then in a legacy 8-bit encoding. The header names the
contract's columns, so the delimiter is the one that splits it into the most
of them. A file is UTF-8 unless its start holds bytes that are not and no
UTF-8 character at all: then it is Latin-1 (a legacy till or CRM export),
which every byte sequence decodes. A UTF-8 file with a few broken lines keeps
UTF-8; its broken lines are quarantined by the loader."""

from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass
from pathlib import Path

DELIMITERS = (",", ";", "\t", "|")
UTF8 = "utf-8"
LATIN1 = "latin-1"
# A multi-byte UTF-8 character: a lead byte and its continuation bytes.
_UTF8_CHARACTER = re.compile(rb"[\xc2-\xf4][\x80-\xbf]{1,3}")
SNIFF_BYTES = 1 << 24


@dataclass(frozen=True)
class CsvDialect:
    delimiter: str
    encoding: str
    columns: tuple[str, ...]


def is_csv(path: Path) -> bool:
    return path.suffix.lower() == ".csv"


def header_line(path: Path) -> bytes:
    """The first line of the file, without its line end and byte order mark."""
    with path.open("rb") as handle:
        line = handle.readline(1 << 20)
    return line.removeprefix(codecs.BOM_UTF8).rstrip(b"\r\n")


def file_encoding(path: Path) -> str:
    """UTF-8, unless the file's first SNIFF_BYTES are not UTF-8 and hold no
    UTF-8 character. A legacy export is 8-bit throughout, so its start tells;
    reading only that keeps the loader's extra I/O a CSV file bounded. Bytes
    further on that are not UTF-8 are the reader's rejected lines."""
    with path.open("rb") as handle:
        start = handle.read(SNIFF_BYTES)
    if bool(_UTF8_CHARACTER.search(start)):
        return UTF8
    try:
        # A multi-byte character cut at the end of the sample is no proof.
        codecs.getincrementaldecoder(UTF8)().decode(start, final=False)
    except UnicodeDecodeError:
        return LATIN1
    return UTF8


def csv_dialect(path: Path, contract_columns: list[str]) -> CsvDialect | None:
    """The dialect of a CSV file (None: the file is empty). The delimiter is
    the one whose split of the header names the most contract columns (a
    comma when none names any)."""
    line = header_line(path)
    if not line.strip():
        return None
    encoding = file_encoding(path)
    text = line.decode(encoding, errors="replace")
    known = set(contract_columns)

    def columns(delimiter: str) -> tuple[str, ...]:
        return tuple(name.strip() for name in next(csv.reader([text], delimiter=delimiter)))

    best = max(DELIMITERS, key=lambda d: (len(known & set(columns(d))), d == ","))
    return CsvDialect(best, encoding, columns(best))
