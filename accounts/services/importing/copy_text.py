"""Rows in PostgreSQL's COPY text format, for the staging table and (first load) the account table.

A value needs escaping only if it holds a backslash, tab, CR or line break; values are made of
the file's text, so a block without those characters is written as it is, and the escaping way
(every value through copy_value) is taken for the rare block that has them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable


def copy_value(v: object) -> str:
    if v is None:
        return "\\N"
    if v is True:
        return "t"
    if v is False:
        return "f"
    if isinstance(v, str):
        if "\\" in v or "\t" in v or "\n" in v or "\r" in v:
            return (
                v.replace("\\", "\\\\")
                .replace("\t", "\\t")
                .replace("\n", "\\n")
                .replace("\r", "\\r")
            )
        return v
    return str(v)


def staging_line(row: tuple) -> str:
    """A staging tuple as a COPY line, taking its text values as they are (see copy_text)."""
    (
        line,
        account,
        name,
        street,
        city,
        zip5,
        m_street,
        m_city,
        m_state,
        m_zip,
        klass,
        tariff,
        cycle,
        language,
        email,
        phone,
        care,
        nem,
        medical,
        direct,
        phase_id,
        product_id,
        status,
        enrollment,
        code,
        key,
        new_status,
    ) = row
    return (
        "\t".join(
            (
                str(line),
                account,
                name,
                street,
                city,
                zip5,
                m_street,
                m_city,
                m_state,
                m_zip,
                klass,
                tariff,
                str(cycle),
                language,
                email,
                phone,
                "t" if care else "f",
                "t" if nem else "f",
                "t" if medical else "f",
                "t" if direct else "f",
                "\\N" if phase_id is None else str(phase_id),
                "\\N" if product_id is None else str(product_id),
                status,
                "\\N" if enrollment is None else str(enrollment),
                code,
                key,
                new_status,
            )
        )
        + "\n"
    )


def copy_text(
    rows: list[tuple],
    source: str | None = None,
    *,
    line: Callable[[tuple], str] = staging_line,
    values: Callable[[tuple], Iterable[object]] | None = None,
) -> bytes:
    """Rows in COPY text format; `source` is the CSV text they were read from, if known (None
    takes the escaping way). `line` makes a row's COPY line taking its text as it is; `values`
    gives the row's values for the escaping way (by default the staging tuple itself)."""
    text = "".join(map(line, rows))
    if _may_need_copy_escapes(text, len(rows), source):
        text = "".join(
            "\t".join(map(copy_value, values(row) if values else row)) + "\n" for row in rows
        )
    return text.encode()


def _may_need_copy_escapes(text: str, rows: int, source: str | None) -> bool:
    """Whether a value in these COPY lines may hold a backslash, tab, CR or line break (which COPY
    needs escaped). Rare enough to look for once per block: values are made of the source's text,
    so they hold no backslash or tab it lacks, and a line break only inside a quoted field."""
    if source is None or "\\" in source or "\t" in source or "\r" in text:
        return True
    return '"' in source and text.count("\n") != rows
