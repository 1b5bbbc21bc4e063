"""The mail house's data CSV: one row per mail piece, in print order (docs/formats/mail-house.md).

The mail house runs CASS/NCOA on the addresses and prints or checks the Intelligent Mail barcode
from these columns, so the address fields carry the exact values (the letter clips lines at 40
characters; the CSV does not). A program reads the file, not a person: no spreadsheet guard, so a
name such as "-Smith Family Trust" reaches the printer as stored.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import TextIO

from django.conf import settings

from cca_notices.mailers import imb

COLUMNS = [
    "piece_id",
    "sequence",
    "barcode_id",
    "service_type_id",
    "mailer_id",
    "serial",
    "routing_zip",
    "imb",
    "name",
    "address",
    "city",
    "state",
    "zip",
    "language",
    "kind",
    "account_numbers",
    "accounts",
    "pages",
    "file",
    "page_offset",
]


def barcode_id() -> str:
    """00: no optional endorsement line (USPS-B-3200); the mail house may ask for another."""
    return getattr(settings, "MAIL_BATCH_BARCODE_ID", "00")


def service_type_id() -> str:
    """270: First-Class Mail, Full-Service, IV-MTR, no address correction. Confirm with the mail
    house."""
    return getattr(settings, "MAIL_BATCH_SERVICE_TYPE_ID", "270")


@dataclass(slots=True)
class DataRow:
    sequence: int
    serial: int
    zip: str
    name: str
    address: str
    city: str
    state: str
    language: str
    kind: str
    account_numbers: tuple[str, ...]
    pages: int
    file: str
    page_offset: int


class DataFileWriter:
    """Writes the header and then one row per `write(row)`; returns nothing, keeps a count."""

    def __init__(
        self,
        out: TextIO,
        *,
        mailer_id: str,
        barcode: str | None = None,
        service_type: str | None = None,
    ):
        self.mailer_id = mailer_id
        self.barcode_id = barcode or barcode_id()
        self.service_type_id = service_type or service_type_id()
        self.prefix = f"{self.barcode_id}{self.service_type_id}{mailer_id}"
        self.width = imb.imb_serial_width(mailer_id)
        self.writer = csv.writer(out, lineterminator="\r\n")
        self.writer.writerow(COLUMNS)
        self.rows = 0

    def piece_id(self, serial: int) -> str:
        return f"{self.prefix}{serial:0{self.width}d}"

    def write(self, row: DataRow) -> str:
        piece = self.piece_id(row.serial)
        routing = imb.routing_digits(row.zip)
        self.writer.writerow(
            (
                piece,
                row.sequence,
                self.barcode_id,
                self.service_type_id,
                self.mailer_id,
                f"{row.serial:0{self.width}d}",
                routing,
                imb.encode(piece, routing),
                row.name,
                row.address,
                row.city,
                row.state,
                row.zip,
                row.language,
                row.kind,
                ";".join(row.account_numbers),
                len(row.account_numbers),
                row.pages,
                row.file,
                row.page_offset,
            )
        )
        self.rows += 1
        return piece
