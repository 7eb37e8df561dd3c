{{
    config(
        unique_key=['symbol', 'trade_date'],
        incremental_strategy='replace_keys',
        indexes=[
            {'columns': ['symbol', 'trade_date'], 'unique': True},
            {'columns': ['source_changed_at']},
        ],
        pre_hook=["{{ record_full_build() }}", "{{ jit_off_when_incremental() }}"],
        post_hook="{{ add_primary_key() }}",
    )
}}

{#
    Look-ahead labels: the simple return of the adjusted close from a
    session to 1, 5 and 21 sessions later (the symbol's own sessions in
    fct_daily_bars). Null while those sessions do not exist yet.

    A row reads the bars of its session and of the sessions 1, 5 and 21
    later; its source_changed_at is the newest of theirs (the bars' own is a
    running maximum, so the furthest existing one). Incremental: for each
    symbol with bars newer than this mart, the rows from 21 sessions before
    the first changed bar are computed and only those whose
    source_changed_at is newer than the mart's are written (replace_keys:
    the stored rows with those keys are replaced). A new session therefore
    rewrites exactly the rows whose future it completes: itself and the
    sessions 1, 5 and 21 before it. A rebuilt symbol (a split, a dividend,
    a correction) rewrites every row that reads a changed bar.
#}
{%- set horizons = [1, 5, 21] -%}
{%- if is_incremental() -%}
    {%- set starts = plan_changed_symbol_starts(
        ref('fct_daily_bars'), 'min(upstream.session_number)'
    ) -%}
{%- endif %}

with

daily_bars as (

    select * from {{ ref('fct_daily_bars') }}

),

{% if is_incremental() -%}

watermark as (

    select
        coalesce(max(source_changed_at), '-infinity'::timestamptz)
            as changed_after
    from {{ this }}

),

batch_plan as (

    {{ values_relation(
        starts, [["symbol", "text"], ["from_session", "bigint"]]
    ) }}

),

sessions as (

    select daily_bars.*
    {{ from_each_plan_start(
        'batch_plan', 'daily_bars', 'session_number',
        'batch_plan.from_session - ' ~ (horizons | max)
    ) }}

),

{%- else -%}

sessions as (

    select * from daily_bars

),

{%- endif %}

looked_ahead as (

    select
        daily_bar_id,
        symbol,
        trade_date,
        session_number,
        adjusted_close_price,
        {%- for n in horizons %}
        lead(adjusted_close_price, {{ n }}) over later_sessions
            as adjusted_close_price_{{ n }},
        lead(trade_date, {{ n }}) over later_sessions as end_date_{{ n }},
        lead(source_changed_at, {{ n }}) over later_sessions
            as source_changed_at_{{ n }},
        {%- endfor %}
        source_changed_at
    from sessions
    window later_sessions as (partition by symbol order by session_number)

),

labelled as (

    select
        ---------- ids
        -- the bar's key: the same md5 of symbol and trade_date
        daily_bar_id as forward_return_id,
        symbol,

        ---------- dates
        trade_date,
        session_number,

        ---------- prices
        adjusted_close_price,

        ---------- labels (look-ahead: never use as features)
        {%- for n in horizons %}
        adjusted_close_price_{{ n }} / nullif(adjusted_close_price, 0) - 1
            as label_forward_return_{{ n }},
        {%- endfor %}
        {%- for n in horizons %}
        end_date_{{ n }} as label_end_date_{{ n }},
        {%- endfor %}

        ---------- timestamps
        coalesce(
            {%- for n in horizons | reverse %}
            source_changed_at_{{ n }},
            {%- endfor %}
            source_changed_at
        ) as source_changed_at

    from looked_ahead

),

final as (

    select labelled.*
    from labelled
    {%- if is_incremental() %}
    cross join watermark
    where labelled.source_changed_at > watermark.changed_after
    {%- endif %}

)

select * from final
