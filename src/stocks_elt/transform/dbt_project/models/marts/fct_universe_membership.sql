{{
    config(
        unique_key=['symbol', 'trade_date'],
        indexes=[
            {'columns': ['symbol', 'trade_date'], 'unique': True},
            {'columns': ['trade_date']},
            {'columns': ['source_changed_at']},
        ],
        pre_hook=["{{ record_full_build() }}", "{{ jit_off_when_incremental() }}"],
        post_hook=[
            "{{ delete_memberships_outside_listing_windows() }}",
            "{{ add_primary_key() }}",
        ],
    )
}}

{#
    Point-in-time membership: one row per symbol and session on which it was
    listed, IPO <= session <= delisting (listing_windows in
    backtest_plans.sql). Sessions are the market's as the warehouse knows
    them: every date on which at least one symbol has a bar.

    Incremental: see plan_membership_batches. A rebuilt symbol takes the
    sessions of its window from its from_date on; replace_from_earliest
    replaces its stored rows from there, and the post-hook drops rows a
    narrowed window no longer holds.
#}
{%- if is_incremental() -%}
    {%- set plan = plan_membership_batches() -%}
{%- endif %}

with

symbols as (

    select * from {{ ref('dim_symbols') }}

),

listings as (

    select * from {{ ref('stg_alpha_vantage__symbols') }}

),

-- not materialized: the bar look-ups below must reach the raw index
prices as not materialized (

    select * from {{ ref('stg_alpha_vantage__daily_prices') }}

),

windows as (

    {{ listing_windows('symbols') }}

),

data_through as (

    select max(last_trade_date) as trade_date from symbols

),

{% if is_incremental() -%}

batch_plan as (

    {{ values_relation(plan, [["symbol", "text"], ["from_date", "date"]]) }}

),

planned_windows as (

    select
        windows.*,
        greatest(windows.first_listed_date, batch_plan.from_date) as from_date
    from windows
    inner join batch_plan on batch_plan.symbol = windows.symbol

),

sessions as (

    select distinct prices.trade_date
    from prices
    where prices.trade_date >= (select min(from_date) from planned_windows)

),

{%- else -%}

planned_windows as (

    select
        windows.*,
        windows.first_listed_date as from_date
    from windows

),

sessions as (

    select distinct trade_date from prices

),

{%- endif %}

listed_sessions as (

    select
        planned_windows.symbol,
        sessions.trade_date,
        planned_windows.delisting_date,
        data_through.trade_date as data_through_date
    from planned_windows
    cross join data_through
    inner join sessions
        on sessions.trade_date >= planned_windows.from_date
        and sessions.trade_date <= coalesce(
            planned_windows.last_listed_date, data_through.trade_date
        )

),

with_bars as (

    select
        listed_sessions.*,
        bar.changed_at as bar_changed_at,
        listing.changed_at as listing_changed_at
    from listed_sessions
    {%- if is_incremental() %}
    left join lateral (
        -- a day's few listed sessions: one primary-key look-up each; joined,
        -- the planner hash-joined a scan of every bar (a fence: see
        -- from_each_plan_start)
        select prices.changed_at
        from prices
        where prices.symbol = listed_sessions.symbol
            and prices.trade_date = listed_sessions.trade_date
        offset 0
    ) as bar on true
    {%- else %}
    -- every session of every symbol: one join of the whole tables
    left join prices as bar
        on bar.symbol = listed_sessions.symbol
        and bar.trade_date = listed_sessions.trade_date
    {%- endif %}
    left join listings as listing
        on listing.symbol = listed_sessions.symbol

),

final as (

    select
        ---------- ids
        {{ surrogate_key(['symbol', 'trade_date']) }} as universe_membership_id,
        symbol,

        ---------- dates
        trade_date,

        ---------- flags
        bar_changed_at is not null as has_daily_bar,
        coalesce(
            delisting_date <= data_through_date
            and trade_date = max(trade_date) over (partition by symbol),
            false
        ) as is_last_listed_session,

        ---------- timestamps
        greatest(listing_changed_at, bar_changed_at) as source_changed_at

    from with_bars

)

select * from final
