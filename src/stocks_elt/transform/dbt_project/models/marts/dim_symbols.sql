{#
    One row per symbol: in the universe (raw.symbols) or traded (any bar).
    Built from staging, not from a fact, so the facts' relationship tests
    to this dimension check something. Rebuilt on every run from index
    look-ups on raw.daily_prices' primary key (symbol, trade_date): a few
    probes per symbol and one index-only count, not a sort of the bars.
#}
with

symbols as (

    select * from {{ ref('stg_alpha_vantage__symbols') }}

),

-- not materialized: every look-up below must reach the bars' primary key
daily_bars as not materialized (

    select symbol, trade_date
    from {{ ref('stg_alpha_vantage__daily_prices') }}

),

-- the distinct symbols of the bars, one index probe each (a "skip scan")
traded_symbols as materialized (

    with recursive next_symbol as (
        select min(symbol) as symbol from daily_bars
        union all
        select (
            select min(daily_bars.symbol)
            from daily_bars
            where daily_bars.symbol > next_symbol.symbol
        )
        from next_symbol
        where next_symbol.symbol is not null
    )

    select symbol from next_symbol where symbol is not null

),

all_symbols as (

    select symbol from symbols
    union
    select symbol from traded_symbols

),

sessions as (

    select
        all_symbols.symbol,
        first_bar.trade_date as first_trade_date,
        last_bar.trade_date as last_trade_date,
        bar_count.session_count
    from all_symbols
    left join lateral (
        select daily_bars.trade_date
        from daily_bars
        where daily_bars.symbol = all_symbols.symbol
        order by daily_bars.trade_date
        limit 1
    ) as first_bar on true
    left join lateral (
        select daily_bars.trade_date
        from daily_bars
        where daily_bars.symbol = all_symbols.symbol
        order by daily_bars.trade_date desc
        limit 1
    ) as last_bar on true
    cross join lateral (
        select count(*) as session_count
        from daily_bars
        where daily_bars.symbol = all_symbols.symbol
    ) as bar_count

),

final as (

    select
        ---------- ids
        {{ surrogate_key(['sessions.symbol']) }} as symbol_id,
        sessions.symbol,

        ---------- text
        symbols.name,
        symbols.exchange,
        symbols.asset_type,
        symbols.currency,
        symbols.country,
        symbols.sector,
        symbols.industry,
        symbols.status,

        ---------- dates
        symbols.ipo_date,
        symbols.delisting_date,
        sessions.first_trade_date,
        sessions.last_trade_date,

        ---------- numerics
        sessions.session_count

    from sessions
    left join symbols on symbols.symbol = sessions.symbol

)

select * from final
