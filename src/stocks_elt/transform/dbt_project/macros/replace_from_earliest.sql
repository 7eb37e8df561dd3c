{#
    Incremental strategy `replace_from_earliest`.

    unique_key names two columns: a partition (symbol) and an ordered column
    (trade_date, week_start_date, month_start_date). For every partition in
    the new batch, the target rows from the batch's earliest value on are
    deleted, then the batch is inserted. A batch that holds a symbol's whole
    history therefore replaces it (a rebuild after a split or dividend); a
    batch of new sessions appends them. The same transaction records the
    batch's first rows for the data tests (record_incremental_build).
#}
{% macro get_incremental_replace_from_earliest_sql(arg_dict) %}
    {%- set key = arg_dict["unique_key"] -%}
    {%- if key is string or key is none or key | length != 2 -%}
        {{ exceptions.raise_compiler_error(
            "incremental_strategy replace_from_earliest needs unique_key = "
            ~ "[partition column, ordered column], got " ~ key
        ) }}
    {%- endif -%}
    {%- set partition_column = adapter.quote(key[0]) -%}
    {%- set order_column = adapter.quote(key[1]) -%}
    {%- set columns = get_quoted_csv(
        arg_dict["dest_columns"] | map(attribute="name")
    ) -%}

    delete from {{ arg_dict["target_relation"] }} as existing
    using (
        select
            {{ partition_column }},
            min({{ order_column }}) as replace_from
        from {{ arg_dict["temp_relation"] }}
        group by {{ partition_column }}
    ) as batch_start
    where existing.{{ partition_column }} = batch_start.{{ partition_column }}
        and existing.{{ order_column }} >= batch_start.replace_from;

    insert into {{ arg_dict["target_relation"] }} ({{ columns }})
    select {{ columns }}
    from {{ arg_dict["temp_relation"] }};

    {{ record_incremental_build(arg_dict) }}
{% endmacro %}


{#
    Incremental strategy `replace_keys`: dbt's delete+insert (the stored rows
    whose unique_key is in the batch are replaced by the batch's), and the
    batch's first row per partition recorded for the data tests.
    unique_key names [partition column, ordered column].
#}
{% macro get_incremental_replace_keys_sql(arg_dict) %}
    {%- set key = arg_dict["unique_key"] -%}
    {%- if key is string or key is none or key | length != 2 -%}
        {{ exceptions.raise_compiler_error(
            "incremental_strategy replace_keys needs unique_key = "
            ~ "[partition column, ordered column], got " ~ key
        ) }}
    {%- endif -%}
    {{ get_incremental_delete_insert_sql(arg_dict) }};

    {{ record_incremental_build(arg_dict) }}
{% endmacro %}
