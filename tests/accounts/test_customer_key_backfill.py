"""Migration 0015 rewrites the customer keys stored before the key kept letters of every script:
each non-Latin name had an empty name part, so two such customers at one premises were one."""

import importlib
from hashlib import sha1
from types import SimpleNamespace
from typing import cast

import pytest
from django.apps import apps
from django.db import connection

from accounts.models import ServiceAccount, Status
from accounts.normalize import customer_key
from accounts.services.same_customer import opted_out_same_customer
from tests.factories import ServiceAccountFactory

migration = importlib.import_module("accounts.migrations.0015_customer_key_every_script")

ADDRESS, ZIP = "123 MAIN ST", "94901"
# What the key was for any name the old rule reduced to nothing.
EMPTY_NAME_KEY = sha1(f"|{ADDRESS}|{ZIP}".encode()).hexdigest()
# What the function uses of its schema editor: the connection (a real one cannot be opened
# inside the test's transaction on SQLite).
EDITOR = SimpleNamespace(connection=connection)


def _account(name: str, key: str, **kw) -> ServiceAccount:
    account = ServiceAccountFactory(
        customer_name=name, service_address=ADDRESS, service_zip=ZIP, customer_key=key, **kw
    )
    return cast(ServiceAccount, account)


@pytest.mark.django_db
@pytest.mark.parametrize("batch", [1, migration.BATCH])
def test_stored_empty_name_keys_become_the_importers(batch):
    wang = _account("王小明", EMPTY_NAME_KEY, status=Status.OPTED_OUT_PRE)
    kim = _account("김민수", EMPTY_NAME_KEY, program=wang.program)
    jose = _account("José García", customer_key("José García", ADDRESS, ZIP), program=wang.program)
    # An ASCII name keys the same before and after the fix: its row is not read at all.
    plain = _account("MARIA LOPEZ", "a key from some other source", program=wang.program)
    # Before: a new account of 김민수 at the premises would inherit 王小明's opt-out.
    assert opted_out_same_customer(program_id=kim.program_id, customer_key=kim.customer_key) == wang

    rewritten = migration.customer_keys_recompute(apps, EDITOR, batch=batch)

    for a in (wang, kim, jose, plain):
        a.refresh_from_db()
    assert wang.customer_key == customer_key("王小明", ADDRESS, ZIP)
    assert kim.customer_key == customer_key("김민수", ADDRESS, ZIP)
    assert len({wang.customer_key, kim.customer_key, EMPTY_NAME_KEY}) == 3
    assert jose.customer_key == customer_key("José García", ADDRESS, ZIP)
    assert plain.customer_key == "a key from some other source"
    assert rewritten == 2
    assert opted_out_same_customer(program_id=kim.program_id, customer_key=kim.customer_key) is None
    # Run again (a retried deploy): nothing left to rewrite.
    assert migration.customer_keys_recompute(apps, EDITOR, batch=batch) == 0
