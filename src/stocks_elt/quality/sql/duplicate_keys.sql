-- Keys that occur more than once among the rows in scope (the primary keys
-- forbid it; this holds the loader to it should a key ever be dropped).
-- One row per symbol: observed = surplus rows.
with

price_duplicates as (

    select
        symbol,
        count(*) - count(distinct trade_date) as surplus,
        'daily_prices' as table_name
    from pg_temp.gate_prices
    group by symbol
    having count(*) > count(distinct trade_date)

),

split_duplicates as (

    select
        splits.symbol,
        count(*) - count(distinct splits.effective_date) as surplus,
        'splits' as table_name
    from pg_temp.gate_scope as scope
    inner join raw.splits as splits on splits.symbol = scope.symbol
    group by splits.symbol
    having count(*) > count(distinct splits.effective_date)

),

dividend_duplicates as (

    select
        dividends.symbol,
        count(*) - count(distinct dividends.ex_dividend_date) as surplus,
        'dividends' as table_name
    from pg_temp.gate_scope as scope
    inner join raw.dividends as dividends on dividends.symbol = scope.symbol
    group by dividends.symbol
    having count(*) > count(distinct dividends.ex_dividend_date)

),

found as (

    select * from price_duplicates
    union all
    select * from split_duplicates
    union all
    select * from dividend_duplicates

)

select
    symbol,
    sum(surplus) as observed,
    string_agg(table_name || ': ' || surplus, ', ') as details
from found
group by symbol
