"""The utility's side of the EDI exchange, for tests: the product's own simulator
(optouts.services.edi_utility) and a writer of files into the test's folder; and `committed()`,
for the files we publish only once our transaction commits."""

from __future__ import annotations

import datetime as dt

from django.test import TestCase

from optouts.services.edi_utility import (  # noqa: F401  (used by the tests)
    ack_set,
    requests_in,
    response_set,
    utility_side,
)
from optouts.services.edi_x12 import interchange_write

AT = dt.datetime(2027, 3, 11, 9, 30)


def write(tmp_path, name, partner, functional_id, sets, *, icn=501, gcn=501, mutate=None):
    text = interchange_write(
        partner=utility_side(partner),
        functional_id=functional_id,
        interchange_control_number=icn,
        group_control_number=gcn,
        transaction_sets=sets,
        at=AT,
    )
    if mutate:
        text = mutate(text)
    path = tmp_path / name
    path.write_text(text)
    return path


def committed():
    """A block that ends as a commit would: what waits for the commit (a staged interchange or
    997 taking its name) runs at its end. The test's own transaction never commits."""
    return TestCase.captureOnCommitCallbacks(execute=True)
