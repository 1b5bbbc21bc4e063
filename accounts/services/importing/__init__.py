"""Import of the utility's eligible-customer CSV (format: docs/formats/eligible-customers.md).

Every row is validated first (validation.py; in worker processes, workers.py); rows go into a
temporary staging table (staging.py: COPY on PostgreSQL, batched inserts on SQLite) and are
merged with one set of SQL statements in one transaction (merge.py): a file with a bad row writes
nothing (unless skip_invalid), and a reload never duplicates an account, never moves its status
backwards, never re-enrolls a customer who opted out, and writes only the accounts it changes.
A program's first large load on PostgreSQL goes straight into the account table instead
(first_load.py). run.py orchestrates a run.
"""

from accounts.services.importing.columns import (
    DATA_COLUMNS,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    STAGE_COLUMNS,
)
from accounts.services.importing.results import (
    MAX_REPORTED_ERRORS,
    ImportRejected,
    ImportResult,
    RowError,
)
from accounts.services.importing.run import accounts_import
from accounts.services.personal_codes import CODE_ALPHABET

__all__ = [
    "CODE_ALPHABET",
    "DATA_COLUMNS",
    "MAX_REPORTED_ERRORS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "STAGE_COLUMNS",
    "ImportRejected",
    "ImportResult",
    "RowError",
    "accounts_import",
]
