"""Row reads and inserts for the opt-out's recording path, with their SQL built once per model.

Recording an opt-out writes five to seven rows in one transaction. Through `Model.objects.create`
each costs about half a millisecond of query building on a small server, several times what the
database spends on it, and that was most of an opt-out's cost (docs/optouts.md "Performance").
These helpers do what `create` and `select_related(...).select_for_update().get()` do (pre_save
for auto_now fields, the fields' own value preparation and database converters, the primary key
from RETURNING), with the SQL text made once from the model's fields. Used only where the
path is hot; everything else uses the ORM.
"""
from __future__ import annotations

from functools import cache

from django.db import connections, router
from django.db.models import Model


def _connection(model):
    return connections[router.db_for_write(model)]


@cache
def _insert_parts(model, alias: str):
    connection = connections[alias]
    quote = connection.ops.quote_name
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    head = (f"INSERT INTO {quote(model._meta.db_table)} "
            f"({', '.join(quote(f.column) for f in fields)}) VALUES ")
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    return fields, head, row, f" RETURNING {quote(model._meta.pk.column)}"


def rows_insert(*objs: Model) -> None:
    """INSERT unsaved instances of one model in one statement; sets each one's primary key.

    Like `bulk_create`, sends no pre_save/post_save signals (none are connected to these models)."""
    if not objs:
        return
    model = type(objs[0])
    connection = _connection(model)
    if not connection.features.can_return_rows_from_bulk_insert:
        model.objects.bulk_create(objs)
        return
    fields, head, row, returning = _insert_parts(model, connection.alias)
    params = []
    for obj in objs:
        if type(obj) is not model:
            raise TypeError(f"rows_insert takes instances of one model, got {model.__name__} and {type(obj).__name__}")
        obj._prepare_related_fields_for_save(operation_name="save")
        params.extend(f.get_db_prep_save(f.pre_save(obj, True), connection=connection) for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(head + ", ".join([row] * len(objs)) + returning, params)
        ids = cursor.fetchall()
    for obj, (pk,) in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias


@cache
def _select_parts(model, alias: str):
    connection = connections[alias]
    fields = list(model._meta.concrete_fields)
    converters = []
    for f in fields:
        col = f.get_col(model._meta.db_table)
        converters.append((col, connection.ops.get_db_converters(col) + col.get_db_converters(connection)))
    return [f.attname for f in fields], converters


def _instance(model, alias: str, values):
    names, converters = _select_parts(model, alias)
    connection = connections[alias]
    out = []
    for (col, convs), value in zip(converters, values, strict=True):
        for conv in convs:
            value = conv(value, col, connection)
        out.append(value)
    return model.from_db(alias, names, out)


def row_lock_with_parent(model, pk, *, parent_field: str):
    """`model.objects.select_for_update(of=("self",)).select_related(parent_field).get(pk=pk)`,
    with the SQL built once: locks the row (not its parent), returns it with the parent cached.
    Raises model.DoesNotExist when there is no such row."""
    connection = _connection(model)
    fk = model._meta.get_field(parent_field)
    parent = fk.related_model
    sql = _lock_sql(model, parent_field, connection.alias)
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk])
        found = cursor.fetchone()
    if found is None:
        raise model.DoesNotExist(f"{model.__name__} matching pk={pk} does not exist.")
    n = len(model._meta.concrete_fields)
    obj = _instance(model, connection.alias, found[:n])
    fk.set_cached_value(obj, _instance(parent, connection.alias, found[n:]))
    return obj


@cache
def _lock_sql(model, parent_field: str, alias: str) -> str:
    connection = connections[alias]
    quote = connection.ops.quote_name
    fk = model._meta.get_field(parent_field)
    parent = fk.related_model
    cols = [f"c.{quote(f.column)}" for f in model._meta.concrete_fields]
    cols += [f"p.{quote(f.column)}" for f in parent._meta.concrete_fields]
    sql = (f"SELECT {', '.join(cols)} FROM {quote(model._meta.db_table)} c "
           f"JOIN {quote(parent._meta.db_table)} p ON p.{quote(fk.target_field.column)} = c.{quote(fk.column)} "
           f"WHERE c.{quote(model._meta.pk.column)} = %s")
    if connection.features.has_select_for_update:
        # OF c: the account row only, not the program row every opt-out shares.
        sql += " FOR UPDATE OF c" if connection.features.has_select_for_update_of else " FOR UPDATE"
    return sql
