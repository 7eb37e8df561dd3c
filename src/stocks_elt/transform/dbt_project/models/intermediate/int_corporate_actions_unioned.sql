{#
    Splits and dividends as one list of price and volume factors.

    Backward adjustment (DESIGN.md): a split of ratio r on day t divides the
    prices before t by r and multiplies the volumes before t by r; a cash
    dividend D with ex-date t multiplies the prices before t by
    1 - D / (as-traded close of the last session before t).

    An action counts (is_effective) once the symbol has a session on or after
    its date; a dividend also needs a session before its ex-date. changed_at
    is the latest change among the action's own row and, for a dividend, the
    price row its factor reads.
#}
with

-- not materialized: the look-ups below must reach the raw index (the staging
-- view is not flattened into this query, so an ORDER BY ... LIMIT 1 would
-- read a symbol's whole history instead of one index entry)
prices as not materialized (

    select * from {{ ref('stg_alpha_vantage__daily_prices') }}

),

splits as (

    select * from {{ ref('stg_alpha_vantage__splits') }}

),

dividends as (

    select * from {{ ref('stg_alpha_vantage__dividends') }}

),

split_actions as (

    select
        symbol,
        effective_date as action_date,
        'split' as action_type,
        split_factor,
        cast(null as numeric) as dividend_amount,
        cast(null as date) as reference_trade_date,
        cast(null as numeric) as reference_close_price,
        1.0::double precision / split_factor::double precision as price_factor,
        split_factor::numeric as volume_factor,
        changed_at
    from splits

),

dividend_actions as (

    select
        dividends.symbol,
        dividends.ex_dividend_date as action_date,
        'dividend' as action_type,
        cast(null as numeric) as split_factor,
        dividends.dividend_amount,
        reference.trade_date as reference_trade_date,
        reference.close_price as reference_close_price,
        1.0::double precision
        - dividends.dividend_amount::double precision
        / reference.close_price::double precision as price_factor,
        1::numeric as volume_factor,
        greatest(dividends.changed_at, reference.changed_at) as changed_at
    from dividends
    left join prices as reference
        on reference.symbol = dividends.symbol
        and reference.trade_date = coalesce(
            -- the last session before the ex-date: look in the two weeks
            -- before it first (a few index entries), then anywhere before
            (
                select max(prices.trade_date)
                from prices
                where prices.symbol = dividends.symbol
                    and prices.trade_date < dividends.ex_dividend_date
                    and prices.trade_date >= dividends.ex_dividend_date - 14
            ),
            (
                select max(prices.trade_date)
                from prices
                where prices.symbol = dividends.symbol
                    and prices.trade_date < dividends.ex_dividend_date
            )
        )

),

unioned as (

    select
        symbol, action_date, action_type, split_factor, dividend_amount,
        reference_trade_date, reference_close_price, price_factor, volume_factor,
        changed_at
    from split_actions
    union all
    select
        symbol, action_date, action_type, split_factor, dividend_amount,
        reference_trade_date, reference_close_price, price_factor, volume_factor,
        changed_at
    from dividend_actions

),

flagged as (

    select
        {{ surrogate_key(['symbol', 'action_date', 'action_type']) }}
            as corporate_action_id,
        unioned.*,
        (
            unioned.price_factor is not null
            and exists (
                select 1
                from prices
                where prices.symbol = unioned.symbol
                    and prices.trade_date >= unioned.action_date
            )
        ) as is_effective
    from unioned

)

select * from flagged
