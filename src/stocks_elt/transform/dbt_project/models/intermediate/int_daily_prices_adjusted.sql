{#
    As-traded daily prices with their backward-adjustment factors and
    adjusted OHLCV.

    The factor of a session is the product of the factors of every effective
    action dated after it. Sessions and actions are put in one list per
    symbol, newest first, and a running product over that list gives each
    session the product of the actions before it in the list, that is after
    it in time (an action on the session's own date comes after the session
    in the list, so it does not count). One sort, one pass.
#}
with

prices as (

    select * from {{ ref('stg_alpha_vantage__daily_prices') }}

),

actions as (

    select * from {{ ref('int_corporate_actions_unioned') }}

),

events as (

    select
        symbol,
        trade_date as event_date,
        0 as event_order,
        open_price,
        high_price,
        low_price,
        close_price,
        volume,
        cast(null as double precision) as price_factor,
        cast(null as numeric) as volume_factor,
        changed_at as price_changed_at,
        cast(null as timestamptz) as action_changed_at
    from prices

    union all

    select
        symbol,
        action_date as event_date,
        case action_type when 'split' then 1 else 2 end as event_order,
        null as open_price,
        null as high_price,
        null as low_price,
        null as close_price,
        null as volume,
        case when is_effective then price_factor end as price_factor,
        case when is_effective then volume_factor end as volume_factor,
        null as price_changed_at,
        changed_at as action_changed_at
    from actions

),

factored as (

    select
        events.*,
        {{ fn('float8_product') }}(price_factor) over later_actions
            as price_adjustment_factor,
        {{ fn('numeric_product') }}(volume_factor) over later_actions
            as volume_adjustment_factor,
        max(action_changed_at) over symbol_events as actions_changed_at
    from events
    window
        later_actions as (
            partition by symbol
            order by event_date desc, event_order
            rows between unbounded preceding and current row
        ),
        symbol_events as (partition by symbol)

),

adjusted as (

    select
        ---------- ids
        symbol,

        ---------- dates
        event_date as trade_date,

        ---------- numerics (as traded)
        open_price,
        high_price,
        low_price,
        close_price,
        volume,

        ---------- numerics (adjustment)
        price_adjustment_factor,
        volume_adjustment_factor,
        open_price::double precision * price_adjustment_factor
            as adjusted_open_price,
        high_price::double precision * price_adjustment_factor
            as adjusted_high_price,
        low_price::double precision * price_adjustment_factor
            as adjusted_low_price,
        close_price::double precision * price_adjustment_factor
            as adjusted_close_price,
        volume * volume_adjustment_factor as adjusted_volume,

        ---------- timestamps
        price_changed_at,
        actions_changed_at

    from factored
    where event_order = 0

)

select * from adjusted
