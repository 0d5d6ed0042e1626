"""The row the RLS behaviour probe tries to insert: one that only RLS or privileges can refuse, and leaves no trace.

A row of default values says little: a NOT NULL column without default, a CHECK, or a partitioned
table with no partition for the default key fails the insert for a reason that is not RLS, and the
probe cannot tell what RLS would have done. So each column without a default gets a value of its
type (a CHECK's first allowed value where the CHECK names one), a partitioned table gets its key
from one partition's bounds, and every identity, serial or ``nextval`` column gets an explicit value:
``nextval`` is not transactional, and the rolled-back insert would still move the sequence of the
environment it judges. The explicit value is the type's largest (the end a sequence reaches last).
Nullable foreign keys stay null (a random value would only fail the reference); a NOT NULL one takes a
value the referenced table holds.

Built here from the catalog, in the gate's own session (SELECTs only); the statement is run as the API roles.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

# psycopg is imported where a database is asked: every gate's collection imports this module (through gates'
# molecules), and psycopg is about 70 ms of CPU, paid by every gate that asks no database.
if TYPE_CHECKING:
    import psycopg


# Per column of each probed table: its type, whether anything fills it, and what a CHECK on it alone allows.
COLUMNS_SQL = """
select a.attrelid::bigint, a.attname, format_type(a.atttypid, a.atttypmod), b.typname::text, b.typcategory::text,
       a.attnotnull, coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity::text, a.attgenerated::text,
       greatest(a.atttypmod - 4, -1),
       (select e.enumlabel from pg_enum e where e.enumtypid = b.oid order by e.enumsortorder limit 1),
       exists (select 1 from pg_constraint k where k.conrelid = a.attrelid and k.contype = 'f'
               and a.attnum = any(k.conkey)),
       array(select pg_get_constraintdef(k.oid) from pg_constraint k where k.conrelid = a.attrelid
             and k.contype = 'c' and k.conkey = array[a.attnum]),
       (select format('select %%I::text from %%I.%%I limit 1', ra.attname, rn.nspname, rc.relname)
        from pg_constraint k join pg_class rc on rc.oid = k.confrelid join pg_namespace rn on rn.oid = rc.relnamespace
        join pg_attribute ra on ra.attrelid = k.confrelid and ra.attnum = k.confkey[1]
        where k.conrelid = a.attrelid and k.contype = 'f' and k.conkey = array[a.attnum] limit 1)
from pg_attribute a
join pg_type t on t.oid = a.atttypid
join pg_type b on b.oid = case when t.typtype = 'd' then t.typbasetype else t.oid end
left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
where a.attrelid = any(%s::oid[]) and a.attnum > 0 and not a.attisdropped
order by a.attrelid, a.attnum
"""
# A partitioned table's key columns (0: an expression) and each partition's bound, default partitions first.
PARTITIONS_SQL = """
select p.partrelid::bigint, p.partattrs::int2[],
       array(select a.attname::text from unnest(p.partattrs) k join pg_attribute a
             on a.attrelid = p.partrelid and a.attnum = k order by array_position(p.partattrs, k)),
       array(select pg_get_expr(c.relpartbound, c.oid) from pg_inherits i join pg_class c on c.oid = i.inhrelid
             where i.inhparent = p.partrelid order by pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT', c.relname)
from pg_partitioned_table p where p.partrelid = any(%s::oid[])
"""
_MAX = {"int2": "32767", "int4": "2147483647", "int8": "9223372036854775807"}
_TEXT = "gates-probe"
_BY_CATEGORY = {"B": "true", "D": "now()", "A": "'{}'", "I": "'127.0.0.1'", "T": "'1 day'"}
_BY_TYPE = {"uuid": "gen_random_uuid()", "json": "'{}'", "jsonb": "'{}'", "bytea": "''"}
# The first value a CHECK names for its one column: `col = ANY (ARRAY['a'::text, ...])`, `col = 'a'`, `col >= 5`.
_IN_LIST = re.compile(r"= ANY \(+ARRAY\[\s*('(?:[^']|'')*'|-?[0-9.]+)")
_EQUALS = re.compile(r"\w\)? = ('(?:[^']|'')*'|-?[0-9.]+)")
_AT_LEAST = re.compile(r"\w\)? (>=|>) \(?(-?[0-9]+)")
_LITERAL = re.compile(r"'(?:[^']|'')*'(?:::[\w .\[\]\"]+)?|[^,\s()][^,()]*")


@dataclasses.dataclass(frozen=True)
class Column:
    """What the catalog says of one column, as far as building a row goes."""

    name: str
    type_sql: str
    base: str
    category: str
    not_null: bool
    default: str
    identity: str
    generated: str
    length: int
    first_label: str | None
    foreign_key: bool
    checks: tuple[str, ...]
    # An existing value of the column a one-column foreign key references, read by the gate (never as anon).
    referenced: str | None = None

    @property
    def sequenced(self) -> bool:
        """Filled from a sequence (identity, serial, ``nextval`` default): nextval would leave a trace."""
        return bool(self.identity) or "nextval(" in self.default


def insert_statements(conn: psycopg.Connection[Any], tables: Sequence[tuple[int, str, str]]) -> dict[int, str]:
    """An INSERT per table (oid, schema, name) of a row that satisfies what it can of NOT NULL, CHECK and
    partition bounds, and names every sequenced column with an explicit value."""
    oids = [oid for oid, _, _ in tables]
    columns: dict[int, list[Column]] = {oid: [] for oid in oids}
    for row in conn.execute(COLUMNS_SQL, (list(oids),)).fetchall():
        name, type_sql, base, category, not_null, default, identity, generated, length, label, fk, checks, ref = row[1:]
        column = Column(
            name, type_sql, base, category, bool(not_null), default, identity, generated, int(length), label, bool(fk),
            tuple(checks or ()), _existing(conn, ref) if ref and not_null and not default else None,
        )  # fmt: skip
        columns.setdefault(int(row[0]), []).append(column)
    keys = {int(r[0]): _partition_key(r[1], r[2], r[3]) for r in conn.execute(PARTITIONS_SQL, (list(oids),)).fetchall()}
    return {oid: insert_sql(schema, name, columns[oid], keys.get(oid, {})) for oid, schema, name in tables}


def insert_sql(schema: str, table: str, columns: Iterable[Column], key: dict[str, str]) -> str:
    """``insert into schema.table (...) overriding system value values (...)``; ``key`` gives partition key
    columns their literal."""
    target = f"{_ident(schema)}.{_ident(table)}"
    names: list[str] = []
    values: list[str] = []
    for column in columns:
        value = key.get(column.name) or _value(column)
        if value is None:
            continue
        names.append(_ident(column.name))
        values.append(f"({value})::{column.type_sql}")
    if not names:
        return f"insert into {target} default values"
    return f"insert into {target} ({', '.join(names)}) overriding system value values ({', '.join(values)})"


def _value(column: Column) -> str | None:
    """The column's value in the probe row, or None to leave it to its default (or null)."""
    if column.generated:
        return None
    if column.sequenced:
        return _MAX.get(column.base, "1") if column.category == "N" else None
    if column.default or (column.foreign_key and not column.not_null):
        return None
    if column.referenced is not None:
        return "'" + column.referenced.replace("'", "''") + "'"
    return _from_checks(column) or _of_type(column)


def _existing(conn: psycopg.Connection[Any], query: str) -> str | None:
    """One value of a referenced key, as text (None when the table is empty or cannot be read)."""
    import psycopg

    try:
        with conn.transaction():
            row = conn.execute(query.encode()).fetchone()
    except psycopg.Error:
        return None
    return None if row is None or row[0] is None else str(row[0])


def _from_checks(column: Column) -> str | None:
    for check in column.checks:
        if match := _IN_LIST.search(check) or _EQUALS.search(check):
            return match.group(1)
        if (match := _AT_LEAST.search(check)) and column.category == "N":
            return str(int(match.group(2)) + (1 if match.group(1) == ">" else 0))
    return None


def _of_type(column: Column) -> str | None:
    if column.category == "N":
        return "1"
    if column.category == "S":
        text = _TEXT[: column.length] if column.length > 0 else _TEXT
        return "'" + text + "'"
    if column.category == "E" and column.first_label is not None:
        return "'" + column.first_label.replace("'", "''") + "'"
    return _BY_TYPE.get(column.base) or _BY_CATEGORY.get(column.category)


def _partition_key(attnums: Sequence[int], names: Sequence[str], bounds: Sequence[str]) -> dict[str, str]:
    """Key column -> a literal inside one partition's bounds; empty when a DEFAULT partition takes any row, the
    key has an expression, or no bound can be read (the insert then says why it failed)."""
    if not bounds or bounds[0] == "DEFAULT" or 0 in attnums:
        return {}
    bound = bounds[0]
    match = re.match(r"FOR VALUES (?:FROM|IN) \((.*?)\)(?: TO|$)", bound, re.DOTALL)
    if not match:
        return {}  # hash partitions: any key lands in one when all remainders exist
    literals = [m.group(0).strip() for m in _LITERAL.finditer(match.group(1))]
    if bound.startswith("FOR VALUES IN"):
        literals = literals[:1]
    if any(lit.upper() in ("MINVALUE", "MAXVALUE", "NULL") for lit in literals) or len(literals) > len(names):
        return {}
    return dict(zip(names, literals, strict=False))


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
