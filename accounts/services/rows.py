"""Row reads and writes for the opt-out's recording path, with their SQL built once per model.

Recording an opt-out writes five to eight rows in one transaction. Through `Model.objects.create`
each costs about half a millisecond of query building on a small server, several times what the
database spends on it, and that was most of an opt-out's cost (docs/optouts.md "Performance").
These helpers do what `create` and `select_related(...).select_for_update().get()` do (pre_save
for auto_now fields, the fields' own value preparation and database converters, the primary key
from RETURNING), with the SQL text made once from the model's fields. Used only where the
path is hot; everything else uses the ORM.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import cache, lru_cache
from types import NoneType

from django.db import connections, router
from django.db.models import (
    AutoField,
    BigAutoField,
    BigIntegerField,
    BinaryField,
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    DecimalField,
    EmailField,
    ForeignKey,
    IntegerField,
    Model,
    OneToOneField,
    PositiveBigIntegerField,
    PositiveIntegerField,
    PositiveSmallIntegerField,
    SmallAutoField,
    SmallIntegerField,
    TextField,
)


def _connection(model):
    return connections[router.db_for_write(model)]


@cache
def _insert_parts(model, alias: str):
    connection = connections[alias]
    quote = connection.ops.quote_name
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    head = (
        f"INSERT INTO {quote(model._meta.db_table)} "
        f"({', '.join(quote(f.column) for f in fields)}) VALUES "
    )
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
            raise TypeError(
                f"rows_insert takes instances of one model, got {model.__name__} and {type(obj).__name__}"
            )
        obj._prepare_related_fields_for_save(operation_name="save")
        params.extend(
            f.get_db_prep_save(f.pre_save(obj, True), connection=connection) for f in fields
        )
    with connection.cursor() as cursor:
        cursor.execute(head + ", ".join([row] * len(objs)) + returning, params)
        ids = cursor.fetchall()
    for obj, (pk,) in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias


@cache
def _select_parts(model, alias: str, only: tuple[str, ...] | None = None):
    connection = connections[alias]
    fields = (
        [model._meta.get_field(name) for name in only]
        if only
        else list(model._meta.concrete_fields)
    )
    converters = []
    for f in fields:
        col = f.get_col(model._meta.db_table)
        converters.append(
            (col, connection.ops.get_db_converters(col) + col.get_db_converters(connection))
        )
    return [f.attname for f in fields], converters


def _instance(model, alias: str, values, only: tuple[str, ...] | None = None):
    names, converters = _select_parts(model, alias, only)
    connection = connections[alias]
    out = []
    for (col, convs), value in zip(converters, values, strict=True):
        for conv in convs:
            value = conv(value, col, connection)
        out.append(value)
    return model.from_db(alias, names, out)


def row_first(model, *, where: str, params, order_by: str):
    """`model.objects.filter(…).order_by(…).first()` with the SQL built once: `where` and
    `order_by` are SQL over the model's own columns (constant text; values go in `params`)."""
    connection = _connection(model)
    found = _fetchone(connection, _first_sql(model, where, order_by, connection.alias), params)
    return None if found is None else _instance(model, connection.alias, found)


@cache
def _first_sql(model, where: str, order_by: str, alias: str) -> str:
    quote = connections[alias].ops.quote_name
    cols = ", ".join(quote(f.column) for f in model._meta.concrete_fields)
    return f"SELECT {cols} FROM {quote(model._meta.db_table)} WHERE {where} ORDER BY {order_by} LIMIT 1"


class _NotRead:
    def __repr__(self):
        return "NOT_READ"


# A keyword's default where None is an answer ("there is no such row"): the callee reads it itself.
NOT_READ = _NotRead()


@dataclass(frozen=True)
class RowsWith:
    """Rows of another model read in the same statement as a lock (`row_lock_with_rows`): the
    first `count` rows of `model` matching `where`, in `order_by` order, each with `fields` only.

    `where` is SQL over the model's own columns (unqualified) and the locked row's and its
    parent's as c.<column> and p.<column>; `params` fill its %s. `fields` are in the model's
    field order, the first a column that is never NULL: a NULL there means no row. Defined by
    the module that owns the rule the rows serve (reads.py, fees.py, ccasr.py), so the SQL
    stays beside the rule."""

    model: type[Model]
    where: str
    order_by: str
    fields: tuple[str, ...]
    params: tuple = ()
    count: int = 1

    def shape(self) -> tuple:
        return self.model, self.where, self.order_by, self.fields, self.count


def row_lock_with_rows(model, pk, *, parent_field: str, rows: dict[str, RowsWith]):
    """`model.objects.select_for_update(of=("self",)).select_related(parent_field).get(pk=pk)`
    with the SQL built once, and in the same statement the rows each `RowsWith` asks for: locks
    the row (not its parent) and returns (it with the parent cached, {name: [instances with only
    the fields asked for]}). Raises model.DoesNotExist when there is no such row.

    One round trip instead of one per read, so a database across a network holds the lock for
    fewer of them (docs/optouts.md "Where the time goes"). The reads see the statement's
    snapshot, as separate reads right after the lock would have on a row nobody else had
    changed; a caller that needs a newer view of a row it found reads it again."""
    connection = _connection(model)
    fk = model._meta.get_field(parent_field)
    parent = fk.related_model
    shapes = tuple(r.shape() for r in rows.values())
    params = [
        value for r in rows.values() for _ in range(r.count * len(r.fields)) for value in r.params
    ]
    found = _fetchone(
        connection, _lock_sql(model, parent_field, connection.alias, shapes), params + [pk]
    )
    if found is None:
        raise model.DoesNotExist(f"{model.__name__} matching pk={pk} does not exist.")
    n = len(model._meta.concrete_fields)
    m = n + len(parent._meta.concrete_fields)
    obj = _instance(model, connection.alias, found[:n])
    fk.set_cached_value(obj, _instance(parent, connection.alias, found[n:m]))
    out = {}
    for name, r in rows.items():
        out[name] = []
        for _ in range(r.count):
            values = found[m : m + len(r.fields)]
            m += len(r.fields)
            if values[0] is not None:
                out[name].append(_instance(r.model, connection.alias, values, r.fields))
    return obj, out


@cache
def _lock_sql(model, parent_field: str, alias: str, shapes: tuple = ()) -> str:
    connection = connections[alias]
    quote = connection.ops.quote_name
    fk = model._meta.get_field(parent_field)
    parent = fk.related_model
    cols = [f"c.{quote(f.column)}" for f in model._meta.concrete_fields]
    cols += [f"p.{quote(f.column)}" for f in parent._meta.concrete_fields]
    for other, where, order_by, fields, count in shapes:
        if other._meta.get_field(fields[0]).null:
            raise ValueError(
                f"{other.__name__}.{fields[0]} can be NULL: it cannot tell a missing row"
            )
        order = [f.name for f in other._meta.concrete_fields]
        if sorted(fields, key=order.index) != list(fields):
            # Model.from_db fills a partial row in the model's field order.
            raise ValueError(f"RowsWith fields {fields} are not in {other.__name__}'s field order")
        for k in range(count):
            cols += [
                f"(SELECT {quote(other._meta.get_field(f).column)} FROM {quote(other._meta.db_table)} "
                f"WHERE {where} ORDER BY {order_by} LIMIT 1 OFFSET {k})"
                for f in fields
            ]
    sql = (
        f"SELECT {', '.join(cols)} FROM {quote(model._meta.db_table)} c "
        f"JOIN {quote(parent._meta.db_table)} p ON p.{quote(fk.target_field.column)} = c.{quote(fk.column)} "
        f"WHERE c.{quote(model._meta.pk.column)} = %s"
    )
    if connection.features.has_select_for_update:
        # OF c: the account row only, not the program row every opt-out shares.
        sql += " FOR UPDATE OF c" if connection.features.has_select_for_update_of else " FOR UPDATE"
    return sql


def _fetchone(connection, sql: str, params):
    """Run one of the statements built here and return its first row.

    On PostgreSQL the statement goes as a prepared statement with its values bound on the
    server (psycopg's RawCursor): the text is parsed and planned once per connection, not once
    per opt-out, and the values are not quoted into the text in Python. This needs a direct
    connection or a pool that keeps prepared statements (PgBouncer 1.21+ with
    max_prepared_statements; docs/configuration.md)."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    from psycopg import RawCursor

    connection.ensure_connection()
    with connection.wrap_database_errors, RawCursor(connection.connection) as cursor:
        cursor.execute(_numbered(sql), params, prepare=True)
        return cursor.fetchone()


@lru_cache(maxsize=256)
def _numbered(sql: str) -> str:
    """%s placeholders as $1, $2, … (the statements built here hold no other % sign)."""
    parts = sql.split("%s")
    return "".join(f"{part}${n}" for n, part in enumerate(parts[:-1], 1)) + parts[-1]


@dataclass(frozen=True)
class RowUpdate:
    """An UPDATE that `rows_write` sends in the same statement as its inserts (built by the
    service that owns the rule, e.g. the status transition)."""

    model: type[Model]
    sql: str  # "UPDATE <table> SET … WHERE …" with %s placeholders
    params: tuple


def rows_write(*items: Model | RowUpdate) -> None:
    """Write unsaved instances (of any models) and updates as one statement, in the order given.

    A foreign key to another unsaved instance earlier in `items` is filled with that row's new
    primary key inside the statement. On PostgreSQL it is one round trip (a WITH of data-modifying
    statements); the opt-out's eight rows cost what one did. Elsewhere the items run one by one.
    Sets each instance's primary key and its foreign keys to the instances written with it."""
    objs = [i for i in items if not isinstance(i, RowUpdate)]
    if not items:
        return
    connection = _connection(
        type(items[0]) if not isinstance(items[0], RowUpdate) else items[0].model
    )
    if connection.vendor != "postgresql":
        for item in items:
            if isinstance(item, RowUpdate):
                with connection.cursor() as cursor:
                    cursor.execute(item.sql, item.params)
            else:
                rows_insert(item)  # its parents are saved by now: their keys are taken from them
        return
    position = {id(obj): n for n, obj in enumerate(objs)}
    refs = [_graph_refs(obj, position) for obj in objs]
    shape, n = [], 0
    for item in items:
        if isinstance(item, RowUpdate):
            shape.append(item.sql)
        else:
            shape.append((type(item), refs[n]))
            n += 1
    sql, plans = _write_plan(tuple(shape), connection.alias)
    params = []
    for item, plan in zip(items, plans):
        if plan is None:
            params.extend(item.params)
            continue
        for field, attname, is_relation, as_is in plan:
            if is_relation:
                cached = field.get_cached_value(item, None)
                if cached is not None and cached.pk is None:
                    # As Model.save: never write a null key for a parent that was never saved.
                    raise ValueError(
                        f"{type(item).__name__}.{field.name} points at an unsaved "
                        f"{type(cached).__name__} that is not written with it"
                    )
                if cached is not None:
                    setattr(item, attname, cached.pk)
            value = getattr(item, attname)
            if type(value) not in as_is:
                value = field.get_db_prep_save(field.pre_save(item, True), connection=connection)
            params.append(value)
    ids = _fetchone(connection, sql, params)
    for obj, pk in zip(objs, ids if objs else (), strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias
    for obj, obj_refs in zip(objs, refs):
        for field, parent in obj_refs:
            setattr(obj, field.attname, objs[parent].pk)


@lru_cache(maxsize=256)
def _write_plan(shape: tuple, alias: str):
    """rows_write's statement for one shape of graph, and per item what takes a parameter.

    `shape` has an UPDATE's text for a RowUpdate and (model, its graph refs) for an insert: all the
    statement's text depends on. Built once per shape, so the text psycopg prepares by is the same
    object every time, and an opt-out pays only for its values. Per item: None for a RowUpdate
    (its own params), else (field, attname, is_relation, types written as they are) per %s."""
    quote = connections[alias].ops.quote_name
    models = [part[0] for part in shape if not isinstance(part, str)]
    pk_of = [quote(model._meta.pk.column) for model in models]
    ctes, plans, n = [], [], 0
    for i, part in enumerate(shape):
        if isinstance(part, str):
            ctes.append(f"u{i} AS ({part})")
            plans.append(None)
            continue
        model, refs = part
        refs = dict(refs)
        fields, head, _, returning = _insert_parts(model, alias)
        values, plan = [], []
        for field in fields:
            parent = refs.get(field)
            if parent is not None:
                values.append(f"(SELECT {pk_of[parent]} FROM i{parent})")
                continue
            values.append("%s")
            plan.append((field, field.attname, field.is_relation, _written_as_is(field)))
        ctes.append(f"i{n} AS ({head}({', '.join(values)}){returning})")
        plans.append(tuple(plan))
        n += 1
    keys = ", ".join(f"(SELECT {pk} FROM i{k})" for k, pk in enumerate(pk_of)) or "1"
    return f"WITH {', '.join(ctes)} SELECT {keys}", tuple(plans)


# Django 5.2 on PostgreSQL: for these exact field classes (not subclasses, which may prepare
# values their own way), get_db_prep_save(pre_save(obj, True)) returns the attribute itself when
# it is of one of these types, so rows_write skips the ~1 µs call per value. Any other type (an
# int in a CharField, a TextChoices member, a datetime in a DateField, a lazy string, an
# expression) still goes through the field. Other values of the other classes are changed or
# checked: integers are wrapped in psycopg's Int2/Int4/Int8 (the prepared statement's parameter
# types), naive datetimes made aware, decimals refused when not finite.
_NONE = frozenset({NoneType})
_STRINGS = frozenset({str, NoneType})
_WRITTEN_AS_IS = {
    CharField: _STRINGS,
    EmailField: _STRINGS,
    TextField: _STRINGS,
    BooleanField: frozenset({bool, NoneType}),
    DateField: frozenset({datetime.date, NoneType}),
    DateTimeField: _NONE,
    DecimalField: _NONE,
    BinaryField: _NONE,
    IntegerField: _NONE,
    SmallIntegerField: _NONE,
    BigIntegerField: _NONE,
    PositiveIntegerField: _NONE,
    PositiveSmallIntegerField: _NONE,
    PositiveBigIntegerField: _NONE,
}
_AUTO_KEYS = (AutoField, BigAutoField, SmallAutoField)


def _written_as_is(field) -> frozenset:
    if type(field) in (ForeignKey, OneToOneField):
        # The key goes through the target's preparation: an auto primary key's is int() alone.
        return frozenset({int, NoneType}) if type(field.target_field) in _AUTO_KEYS else frozenset()
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return frozenset()  # pre_save sets the value
    return _WRITTEN_AS_IS.get(type(field), frozenset())


def _graph_refs(obj: Model, position: dict[int, int]) -> tuple:
    """((foreign key field, index in the graph), …) for the foreign keys of `obj` that point at
    another unsaved instance being written with it."""
    out = []
    for field in _relations(type(obj)):
        cached = field.get_cached_value(obj, None)
        if cached is not None and cached.pk is None and id(cached) in position:
            out.append((field, position[id(cached)]))
    return tuple(out)


@cache
def _relations(model) -> tuple:
    # ForeignKey and OneToOneField: what _graph_refs looks at, on every write.
    return tuple(f for f in model._meta.concrete_fields if f.remote_field is not None)
