{#
    Incremental plans: which symbols an incremental run (re)builds, and from
    where. Each plan is one small query run while the model compiles, so the
    model's SQL carries literal symbols and dates that Postgres pushes down to
    the (symbol, date) indexes.

    Change detection uses `source_changed_at`: every mart row keeps the latest
    raw change (loaded_at, or updated_at for a corrected row) its values may
    depend on, so max(source_changed_at) of a mart is the point up to which
    it has seen raw data.
#}


{#
    The point up to which this mart has seen raw data, max(source_changed_at),
    as a timestamptz literal ('-infinity' for an empty mart). A literal, not a
    subquery, so the planner knows the value when it plans the plan queries:
    it then reads only the changed rows, through raw.daily_prices' BRIN index
    on the change time (warehouse migration 0008) and fct_daily_bars' index on
    source_changed_at, instead of scanning the whole history every day.
#}
{% macro changed_after_literal() %}
    {%- set query -%}
        select coalesce(max(source_changed_at), '-infinity'::timestamptz)::text
            as changed_after
        from {{ this }}
    {%- endset -%}
    {%- set changed_after = run_query(query).rows[0]["changed_after"] -%}
    {{ return("'" ~ changed_after ~ "'::timestamptz") }}
{% endmacro %}


{#
    fct_daily_bars: compare raw with the stored bars.

    Returns {"rebuild": [symbol, ...], "append": [[symbol, from_date], ...]}.
    A symbol is appended when its only changes are sessions after its last
    stored one and no split or dividend falls among them, so every stored row
    stays right and the new sessions' adjustment factor is 1. Anything else
    (a new or corrected split or dividend, a corrected or back-filled
    session, a split or dividend that a new session makes effective, a new
    symbol) rebuilds the symbol's whole history.
#}
{% macro plan_daily_bar_batches() %}
    {%- set changed_after = changed_after_literal() -%}
    {%- set query -%}
        with

        changed_prices as (
            select
                prices.symbol,
                min(prices.trade_date) as first_changed_date,
                max(prices.trade_date) as last_changed_date
            from {{ ref('stg_alpha_vantage__daily_prices') }} as prices
            where prices.changed_at > {{ changed_after }}
            group by prices.symbol
        ),

        changed_actions as (
            select splits.symbol
            from {{ ref('stg_alpha_vantage__splits') }} as splits
            where splits.changed_at > {{ changed_after }}
            union
            select dividends.symbol
            from {{ ref('stg_alpha_vantage__dividends') }} as dividends
            where dividends.changed_at > {{ changed_after }}
        ),

        changed_symbols as (
            select symbol from changed_prices
            union
            select symbol from changed_actions
        ),

        stored as (
            select
                changed_symbols.symbol,
                last_stored.trade_date as last_stored_date
            from changed_symbols
            left join lateral (
                select bars.trade_date
                from {{ this }} as bars
                where bars.symbol = changed_symbols.symbol
                order by bars.trade_date desc
                limit 1
            ) as last_stored on true
        ),

        planned as (
            select
                stored.symbol,
                case
                    when stored.last_stored_date is null
                        or changed_actions.symbol is not null
                        or changed_prices.first_changed_date
                        <= stored.last_stored_date
                        or exists (
                            select 1
                            from {{ ref('stg_alpha_vantage__splits') }} as s
                            where s.symbol = stored.symbol
                                and s.effective_date > stored.last_stored_date
                                and s.effective_date
                                <= changed_prices.last_changed_date
                        )
                        or exists (
                            select 1
                            from {{ ref('stg_alpha_vantage__dividends') }} as d
                            where d.symbol = stored.symbol
                                and d.ex_dividend_date > stored.last_stored_date
                                and d.ex_dividend_date
                                <= changed_prices.last_changed_date
                        )
                        then 'rebuild'
                    else 'append'
                end as build_mode,
                changed_prices.first_changed_date::text as from_date
            from stored
            left join changed_prices on changed_prices.symbol = stored.symbol
            left join changed_actions on changed_actions.symbol = stored.symbol
        )

        select symbol, build_mode, from_date from planned order by symbol
    {%- endset -%}
    {%- set plan = {"rebuild": [], "append": []} -%}
    {%- for row in run_query(query).rows -%}
        {%- if row["build_mode"] == "rebuild" -%}
            {%- do plan["rebuild"].append(row["symbol"]) -%}
        {%- else -%}
            {%- do plan["append"].append([row["symbol"], row["from_date"]]) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do log(
        "plan " ~ this.identifier ~ " rebuild=" ~ plan["rebuild"] | length
        ~ " append=" ~ plan["append"] | length
    ) -%}
    {{ return(plan) }}
{% endmacro %}


{#
    Marts built from fct_daily_bars: the bars rows newer than this mart's
    watermark, per symbol, reduced by `start_expression` (for example
    "min(session_number)"). Returns [[symbol, start as text], ...].
#}
{% macro plan_changed_symbol_starts(upstream, start_expression) %}
    {%- set changed_after = changed_after_literal() -%}
    {%- set query -%}
        select
            upstream.symbol,
            ({{ start_expression }})::text as start_value
        from {{ upstream }} as upstream
        where upstream.source_changed_at > {{ changed_after }}
        group by upstream.symbol
        order by upstream.symbol
    {%- endset -%}
    {%- set starts = [] -%}
    {%- for row in run_query(query).rows -%}
        {%- do starts.append([row["symbol"], row["start_value"]]) -%}
    {%- endfor -%}
    {%- do log("plan " ~ this.identifier ~ " symbols=" ~ starts | length) -%}
    {{ return(starts) }}
{% endmacro %}


{#
    A relation of literal rows: values_relation([["IBM", "2024-01-02"]],
    [["symbol", "text"], ["from_date", "date"]]). No rows gives an empty
    relation with the same columns.
#}
{% macro values_relation(rows, columns) -%}
    {%- if rows | length == 0 -%}
        select
        {%- for name, type in columns %}
            cast(null as {{ type }}) as {{ name }}
            {%- if not loop.last %},{% endif %}
        {%- endfor %}
        where false
    {%- else -%}
        select * from (
            values
            {%- for row in rows %}
            (
                {%- for value in row -%}
                cast('{{ value | string | replace("'", "''") }}' as {{ columns[loop.index0][1] }})
                {%- if not loop.last %}, {% endif -%}
                {%- endfor -%}
            )
            {%- if not loop.last %},{% endif %}
            {%- endfor %}
        ) as literal_rows (
            {%- for name, type in columns -%}
            {{ name }}{% if not loop.last %}, {% endif %}
            {%- endfor -%}
        )
    {%- endif -%}
{%- endmacro %}


{# `column in ('A', 'B')`, or `false` for no values. #}
{% macro in_literals(column, values) -%}
    {%- if values | length == 0 -%}
        false
    {%- else -%}
        {{ column }} in (
            {%- for value in values -%}
            '{{ value | string | replace("'", "''") }}'
            {%- if not loop.last %}, {% endif -%}
            {%- endfor -%}
        )
    {%- endif -%}
{%- endmacro %}


{#
    The FROM clause that reads, for each row of a batch plan, the rows of
    `relation` of the plan's symbol from its start on:

        select daily_bars.*
        {{ from_each_plan_start('batch_plan', 'daily_bars', 'trade_date',
                                'batch_plan.from_date') }}

    One index range per planned symbol, whatever the history's length. The
    `offset 0` is a fence: flattened into a join, the planner prices the
    plan's unknown bounds as a third of the relation and hash-joins a scan of
    the whole history (measured: 0.6 s of a 1.1 s daily fct_daily_indicators
    at 100 symbols x 25 years, growing with the years).

    The marts that use it run incremental builds with jit off (their
    pre_hook, jit_off_when_incremental): the planner
    cannot tell how few rows an index range holds, so its cost estimate of
    the lateral reads passes jit_above_cost and Postgres spent 1.6 s
    compiling a query that ran in 0.3 s.
#}
{% macro from_each_plan_start(plan, relation, column, start_expression) -%}
    from {{ plan }}
    cross join lateral (
        select *
        from {{ relation }}
        where {{ relation }}.symbol = {{ plan }}.symbol
            and {{ relation }}.{{ column }} >= {{ start_expression }}
        offset 0
    ) as {{ relation }}
{%- endmacro %}


{#
    Pre-hook of the incremental marts: jit off for an incremental build (see
    from_each_plan_start); a full build keeps the server's setting, under
    which its window passes over the whole history ran faster.
#}
{% macro jit_off_when_incremental() -%}
    {%- if is_incremental() -%}
        set local jit = off
    {%- endif -%}
{%- endmacro %}
