-- depends_on: {{ ref('stg_alpha_vantage__daily_prices') }}
-- depends_on: {{ ref('stg_alpha_vantage__splits') }}
-- depends_on: {{ ref('stg_alpha_vantage__dividends') }}

{{
    config(
        unique_key=['symbol', 'trade_date'],
        indexes=[
            {'columns': ['symbol', 'trade_date'], 'unique': True},
            {'columns': ['symbol', 'session_number'], 'unique': True},
            {'columns': ['source_changed_at']},
        ],
        pre_hook=["{{ record_full_build() }}", "set local jit = off"],
        post_hook="{{ add_primary_key() }}",
    )
}}

{#
    jit is off: the planner prices the dividends' fallback look-up of a
    reference close (int_corporate_actions_unioned) as a scan of every
    earlier session, so it would JIT-compile, for about a second, a query
    whose look-ups take milliseconds.

    Incremental: see plan_daily_bar_batches. A rebuilt symbol takes its whole
    history from int_daily_prices_adjusted; an appended symbol takes only its
    new sessions (adjustment factor 1: no effective action follows them) plus
    its last stored row, which seeds the previous close, the session number
    and source_changed_at.
#}
{%- if is_incremental() -%}
    {%- set plan = plan_daily_bar_batches() -%}
{%- endif %}

with

adjusted_prices as (

    select * from {{ ref('int_daily_prices_adjusted') }}

),

{% if is_incremental() -%}

prices as (

    select * from {{ ref('stg_alpha_vantage__daily_prices') }}

),

stored_bars as (

    select * from {{ this }}

),

append_plan as (

    {{ values_relation(
        plan["append"], [["symbol", "text"], ["from_date", "date"]]
    ) }}

),

{%- endif %}

rebuilt_sessions as (

    select
        symbol,
        trade_date,
        open_price,
        high_price,
        low_price,
        close_price,
        volume,
        price_adjustment_factor,
        volume_adjustment_factor,
        adjusted_open_price,
        adjusted_high_price,
        adjusted_low_price,
        adjusted_close_price,
        adjusted_volume,
        greatest(price_changed_at, actions_changed_at) as changed_at,
        cast(null as bigint) as stored_session_number,
        false as is_stored
    from adjusted_prices
    {%- if is_incremental() %}
    where {{ in_literals('symbol', plan["rebuild"]) }}
    {%- endif %}

),

{% if is_incremental() -%}

appended_sessions as (

    select
        prices.symbol,
        prices.trade_date,
        prices.open_price,
        prices.high_price,
        prices.low_price,
        prices.close_price,
        prices.volume,
        1.0::double precision as price_adjustment_factor,
        1::numeric as volume_adjustment_factor,
        prices.open_price::double precision * 1.0::double precision
            as adjusted_open_price,
        prices.high_price::double precision * 1.0::double precision
            as adjusted_high_price,
        prices.low_price::double precision * 1.0::double precision
            as adjusted_low_price,
        prices.close_price::double precision * 1.0::double precision
            as adjusted_close_price,
        prices.volume * 1::numeric as adjusted_volume,
        prices.changed_at,
        cast(null as bigint) as stored_session_number,
        false as is_stored
    {{ from_each_plan_start(
        'append_plan', 'prices', 'trade_date', 'append_plan.from_date'
    ) }}

),

last_stored_sessions as (

    select
        stored.symbol,
        stored.trade_date,
        null::numeric as open_price,
        null::numeric as high_price,
        null::numeric as low_price,
        null::numeric as close_price,
        null::bigint as volume,
        null::double precision as price_adjustment_factor,
        null::numeric as volume_adjustment_factor,
        null::double precision as adjusted_open_price,
        null::double precision as adjusted_high_price,
        null::double precision as adjusted_low_price,
        stored.adjusted_close_price,
        null::numeric as adjusted_volume,
        stored.source_changed_at as changed_at,
        stored.session_number as stored_session_number,
        true as is_stored
    from append_plan
    cross join lateral (
        select *
        from stored_bars
        where stored_bars.symbol = append_plan.symbol
            and stored_bars.trade_date < append_plan.from_date
        order by stored_bars.trade_date desc
        limit 1
    ) as stored

),

{%- endif %}

sessions as (

    select * from rebuilt_sessions
    {%- if is_incremental() %}
    union all
    select * from appended_sessions
    union all
    select * from last_stored_sessions
    {%- endif %}

),

sequenced as (

    select
        sessions.*,
        lag(adjusted_close_price) over symbol_sessions
            as previous_adjusted_close_price,
        row_number() over symbol_sessions - 1
        + coalesce(min(stored_session_number) over (partition by symbol), 1)
            as session_number,
        max(changed_at) over symbol_sessions as source_changed_at
    from sessions
    window symbol_sessions as (
        partition by symbol
        order by trade_date
        rows between unbounded preceding and current row
    )

),

final as (

    select
        ---------- ids
        {{ surrogate_key(['symbol', 'trade_date']) }} as daily_bar_id,
        symbol,

        ---------- dates
        trade_date,
        session_number,

        ---------- numerics (as traded)
        open_price,
        high_price,
        low_price,
        close_price,
        volume,

        ---------- numerics (adjusted)
        price_adjustment_factor,
        volume_adjustment_factor,
        adjusted_open_price,
        adjusted_high_price,
        adjusted_low_price,
        adjusted_close_price,
        adjusted_volume,

        ---------- returns
        adjusted_close_price / nullif(previous_adjusted_close_price, 0) - 1
            as daily_return,
        case
            when adjusted_close_price > 0 and previous_adjusted_close_price > 0
                then ln(adjusted_close_price / previous_adjusted_close_price)
        end as log_return,

        ---------- timestamps
        source_changed_at

    from sequenced
    where not is_stored

)

select * from final
