"""
The SQL of the merge: one statement per (table, columns) that inserts an object's
new rows, updates its changed rows and keeps their old values in ``raw.revisions``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from psycopg import sql

from stocks_elt.warehouse.loader.tables import RawTable


def _columns(names: Iterable[str], prefix: str | None = None) -> sql.Composable:
    if prefix is None:
        return sql.SQL(", ").join(sql.Identifier(name) for name in names)
    return sql.SQL(", ").join(sql.Identifier(prefix, name) for name in names)


def _join(left: str, right: str, keys: Sequence[str]) -> sql.Composable:
    return sql.SQL(" and ").join(
        sql.SQL("{} = {}").format(sql.Identifier(left, k), sql.Identifier(right, k))
        for k in keys
    )


@dataclass
class MergeStatements:
    """SQL for one (table, carried columns), built once per loader."""

    copy_direct: sql.Composed
    copy_stage: sql.Composed
    merge: sql.Composed


def merge_statements(table: RawTable, columns: tuple[str, ...]) -> MergeStatements:
    target = sql.Identifier("raw", table.name)
    stage = sql.Identifier("pg_temp", table.stage)
    copied = (*table.key, *columns, "source_object")
    scope: sql.Composable = sql.SQL("")
    if table.date_column is not None:
        # The object's own symbol and dates: the join reads only the rows it could
        # change, however long the stored history.
        scope = sql.SQL(
            "and d.symbol = %(symbol)s and d.{date} between %(first)s and %(last)s"
        ).format(date=sql.Identifier(table.date_column))
    old_values = sql.SQL(", ").join(
        sql.SQL("d.{} as {}").format(sql.Identifier(c), sql.Identifier(f"old_{c}"))
        for c in columns
    )
    new_values = sql.SQL(", ").join(
        sql.SQL("s.{} as {}").format(sql.Identifier(c), sql.Identifier(f"new_{c}"))
        for c in columns
    )
    assignments = sql.SQL(", ").join(
        sql.SQL("{} = c.{}").format(sql.Identifier(c), sql.Identifier(f"new_{c}"))
        for c in columns
    )
    old_json = sql.SQL(", ").join(
        sql.SQL("{}, c.{}").format(sql.Literal(c), sql.Identifier(f"old_{c}"))
        for c in columns
    )
    new_json = sql.SQL(", ").join(
        sql.SQL("{}, c.{}").format(sql.Literal(c), sql.Identifier(f"new_{c}"))
        for c in columns
    )
    row_key = table.key[-1]
    # A value filled in where there was none (the adjusted close an _ADJUSTED
    # answer adds to a row TIME_SERIES_DAILY loaded) is an update, not a revision.
    is_revision = sql.SQL(" or ").join(
        sql.SQL("(c.{old} is not null and c.{old} is distinct from c.{new})").format(
            old=sql.Identifier(f"old_{c}"), new=sql.Identifier(f"new_{c}")
        )
        for c in columns
    )
    # One pass over the object's rows: a row without a stored match is new;
    # one whose stored values differ (and come from an answer fetched no later
    # than this one) is a change; the rest are equal and left alone.
    merge = sql.SQL(
        """
        with incoming as (
            select
                {s_keys},
                {new_values},
                d.{row_key} is not null as is_stored,
                {old_values},
                d.source_object as old_source_object
            from {stage} as s
            left join {target} as d on {join_sd} {scope}
        ),
        inserted as (
            insert into {target} ({copied})
            select {keys}, {new_columns}, %(object_key)s
            from incoming
            where not is_stored
            on conflict ({keys}) do nothing
            returning 1
        ),
        changes as (
            select *
            from incoming
            where
                is_stored
                and ({old_columns}) is distinct from ({new_columns})
                and split_part(old_source_object, '/', -1) <= %(name)s
        ),
        updated as (
            update {target} as d
            set {assignments}, source_object = %(object_key)s, updated_at = now()
            from changes as c
            where {join_dc}
            returning 1
        ),
        revised as (
            insert into raw.revisions
                (table_name, symbol, row_key, old_values, new_values, object_key)
            select
                %(table)s,
                c.symbol,
                c.{row_key}::text,
                jsonb_build_object(
                    {old_json}, 'source_object', c.old_source_object
                ),
                jsonb_build_object({new_json}),
                %(object_key)s
            from changes as c
            where {is_revision}
            returning 1
        )
        select
            (select count(*) from inserted) as inserted,
            (select count(*) from updated) as updated,
            (select count(*) from revised) as revised
        """
    ).format(
        s_keys=_columns(table.key, "s"),
        keys=_columns(table.key),
        copied=_columns(copied),
        old_values=old_values,
        new_values=new_values,
        old_columns=_columns(f"old_{c}" for c in columns),
        new_columns=_columns(f"new_{c}" for c in columns),
        stage=stage,
        target=target,
        join_sd=_join("s", "d", table.key),
        scope=scope,
        assignments=assignments,
        join_dc=_join("d", "c", table.key),
        row_key=sql.Identifier(row_key),
        old_json=old_json,
        new_json=new_json,
        is_revision=is_revision,
    )
    return MergeStatements(
        copy_direct=sql.SQL("copy {} ({}) from stdin").format(target, _columns(copied)),
        copy_stage=sql.SQL("copy {} ({}) from stdin").format(stage, _columns(copied)),
        merge=merge,
    )
