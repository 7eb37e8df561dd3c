{#
    Weekly or monthly bars from adjusted daily bars: first adjusted open,
    highest adjusted high, lowest adjusted low, last adjusted close, summed
    adjusted volume. `period` is 'week' (periods start on Monday) or 'month'.

    Incremental: for each symbol with bars newer than this mart, the periods
    from the one holding the first changed session on are rebuilt from every
    session they hold.
#}
{% macro aggregate_bars_by_period(period) %}
{%- if period not in ('week', 'month') -%}
    {{ exceptions.raise_compiler_error(
        "aggregate_bars_by_period: period must be 'week' or 'month', got " ~ period
    ) }}
{%- endif -%}
{%- set start_column = period ~ '_start_date' -%}
{%- if is_incremental() -%}
    {%- set starts = plan_changed_symbol_starts(
        ref('fct_daily_bars'),
        'min(' ~ period_start_of(period, 'upstream.trade_date') ~ ')'
    ) -%}
{%- endif %}

with

daily_bars as (

    select * from {{ ref('fct_daily_bars') }}

),

{% if is_incremental() -%}

batch_plan as (

    {{ values_relation(starts, [["symbol", "text"], ["from_date", "date"]]) }}

),

sessions as (

    select daily_bars.*
    {{ from_each_plan_start(
        'batch_plan', 'daily_bars', 'trade_date', 'batch_plan.from_date'
    ) }}

),

{%- else -%}

sessions as (

    select * from daily_bars

),

{%- endif %}

periods as (

    select
        symbol,
        {{ period_start_of(period, 'trade_date') }} as {{ start_column }},
        min(trade_date) as first_trade_date,
        max(trade_date) as last_trade_date,
        (array_agg(adjusted_open_price order by trade_date))[1] as open_price,
        max(adjusted_high_price) as high_price,
        min(adjusted_low_price) as low_price,
        (array_agg(adjusted_close_price order by trade_date desc))[1]
            as close_price,
        sum(adjusted_volume) as volume,
        count(*) as session_count,
        max(source_changed_at) as source_changed_at
    from sessions
    group by symbol, {{ start_column }}

),

final as (

    select
        ---------- ids
        {{ surrogate_key(['symbol', start_column]) }} as {{ period }}ly_bar_id,
        symbol,

        ---------- dates
        {{ start_column }},
        first_trade_date,
        last_trade_date,

        ---------- numerics (adjusted)
        open_price,
        high_price,
        low_price,
        close_price,
        volume,
        session_count,

        ---------- timestamps
        source_changed_at

    from periods

)

select * from final
{% endmacro %}


{# The first day of the week (Monday) or month holding the date `column`. #}
{% macro period_start_of(period, column) -%}
    date_trunc('{{ period }}', {{ column }}::timestamp)::date
{%- endmacro %}
