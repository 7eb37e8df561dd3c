{#
    Data tests that follow the new rows.

    Each build of an incremental mart records which rows it wrote in
    intermediate.mart_builds (one row per mart):

        is_full_build   the build created the table (first build or
                        --full-refresh): every row is new
        first_written   otherwise, per symbol, the first key value the build
                        wrote ({"IBM": "2024-10-31"}); the incremental
                        strategies write it in the transaction that writes
                        the rows, so it is rolled back with them

    A data test whose `where` is __rows_written_by_latest_build__ (set for
    the marts folder in dbt_project.yml) reads only those rows: one index
    range per written symbol, so a daily `dbt build` tests the new sessions,
    not the history. After a full build, on a mart with no record, or on a
    model that is not an incremental mart (dim_symbols), it reads every row.
    Uniqueness over all rows is the primary key's job (add_primary_key).
#}


{# on-run-start: the table the builds write to and the tests read. #}
{% macro create_mart_builds() %}
create table if not exists {{ mart_builds_relation() }} (
    model_name text primary key,
    is_full_build boolean not null,
    first_written jsonb not null,
    invocation_id text not null,
    built_at timestamptz not null
)
{% endmacro %}


{% macro mart_builds_relation() -%}
    {{ indicator_function_schema() }}.mart_builds
{%- endmacro %}


{#
    Pre-hook of every incremental mart: a build that creates the table
    records itself as full. An incremental build records nothing here: its
    strategy calls record_incremental_build.
#}
{% macro record_full_build() %}
    {%- if not is_incremental() -%}
        {{ _upsert_mart_build(
            "'" ~ this.identifier ~ "'", "true", "'{}'::jsonb", ""
        ) }}
    {%- endif -%}
{% endmacro %}


{#
    Part of an incremental strategy's SQL: record, per partition (symbol),
    the first key value of the batch the strategy writes. `arg_dict` is the
    strategy's; unique_key is [partition column, ordered column].
#}
{% macro record_incremental_build(arg_dict) %}
    {%- set key = arg_dict["unique_key"] -%}
    {%- set partition_column = adapter.quote(key[0]) -%}
    {%- set order_column = adapter.quote(key[1]) -%}
    {{ _upsert_mart_build(
        "'" ~ arg_dict["target_relation"].identifier ~ "'",
        "false",
        "coalesce(jsonb_object_agg(written.partition_value,"
        ~ " written.first_value), '{}'::jsonb)",
        "from (select " ~ partition_column ~ "::text as partition_value, min("
        ~ order_column ~ ") as first_value from " ~ arg_dict["temp_relation"]
        ~ " group by " ~ partition_column ~ ") as written",
    ) }}
{% endmacro %}


{% macro _upsert_mart_build(model_name, is_full_build, first_written, from_clause) %}
insert into {{ mart_builds_relation() }} as builds (
    model_name, is_full_build, first_written, invocation_id, built_at
)
select
    {{ model_name }},
    {{ is_full_build }},
    {{ first_written }},
    '{{ invocation_id }}',
    now()
{{ from_clause }}
on conflict (model_name) do update
set
    is_full_build = excluded.is_full_build,
    first_written = excluded.first_written,
    invocation_id = excluded.invocation_id,
    built_at = excluded.built_at
{% endmacro %}


{#
    dbt's get_where_subquery (the relation a data test reads), with one
    more `where`: __rows_written_by_latest_build__ (see the top). Any other
    `where` works as in dbt.
#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where == '__rows_written_by_latest_build__' -%}
        {%- do return(rows_written_by_latest_build(relation)) -%}
    {%- elif where -%}
        {%- do return(
            '(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery'
        ) -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}


{#
    The rows of `relation` its latest build wrote (every row after a full
    build or without a record), as a subquery named dbt_subquery. Each
    written symbol is one index range scan of (symbol, ordered column).
#}
{% macro rows_written_by_latest_build(relation) -%}
    {%- set key = _incremental_mart_key(relation) -%}
    {%- if key is none -%}
        {%- do return(relation) -%}
    {%- endif -%}
    {%- set partition_column = adapter.quote(key[0]) -%}
    {%- set order_column = adapter.quote(key[1]) -%}
    {%- set model_name = "'" ~ relation.identifier ~ "'" -%}
    {%- set builds = mart_builds_relation() -%}
    {%- set filtered -%}
    (
        select tested.*
        from {{ builds }} as builds
        cross join lateral jsonb_each_text(builds.first_written)
            as written (partition_value, first_value)
        cross join lateral (
            select *
            from {{ relation }} as mart
            where mart.{{ partition_column }} = written.partition_value
                and mart.{{ order_column }} >= written.first_value::date
            -- a fence: flattened, the planner may hash-join a scan of
            -- the whole mart instead of one index range per symbol
            offset 0
        ) as tested
        where builds.model_name = {{ model_name }}
            and not builds.is_full_build

        union all

        select *
        from {{ relation }}
        where not exists (
            select 1
            from {{ builds }} as builds
            where builds.model_name = {{ model_name }}
                and not builds.is_full_build
        )
    ) dbt_subquery
    {%- endset -%}
    {%- do return(filtered) -%}
{%- endmacro %}


{#
    [partition column, ordered column] of the incremental model built into
    `relation`, or none (not an incremental model, or not executing).
#}
{% macro _incremental_mart_key(relation) -%}
    {%- if not execute -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model'
            and node.schema == relation.schema
            and node.alias == relation.identifier
            and node.config.materialized == 'incremental'
            and node.config.unique_key is not string
            and node.config.unique_key | length == 2 -%}
            {%- do return(node.config.unique_key) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do return(none) -%}
{%- endmacro %}
