{#
    The backtest marts' helpers: listing windows and incremental plans of
    fct_universe_membership (fct_forward_returns uses
    plan_changed_symbol_starts of incremental_plans.sql).
#}


{#
    One row per symbol with at least one daily bar: the first and last
    session on which it counts as listed (see _marts__backtest.yml).

        first_listed_date  ipo_date, else the first bar
        last_listed_date   delisting_date; null (through the newest session)
                           for a symbol whose status is Active; else the
                           last bar (no listing data: no evidence it traded
                           on)

    `symbols` is a relation with dim_symbols' columns.
#}
{% macro listing_windows(symbols) -%}
    select
        symbol,
        ipo_date,
        delisting_date,
        status,
        coalesce(ipo_date, first_trade_date) as first_listed_date,
        case
            when delisting_date is not null then delisting_date
            when lower(status) = 'active' then null
            else last_trade_date
        end as last_listed_date
    from {{ symbols }}
    where first_trade_date is not null
{%- endmacro %}


{#
    fct_universe_membership: which symbols an incremental run rebuilds, and
    from which session. Returns [[symbol, from_date], ...]; from_date
    '-infinity' rebuilds the whole window.

    A symbol is rebuilt
    * wholly when its listing row (LISTING_STATUS, OVERVIEW) changed: its
      window may have moved;
    * from its first changed price row otherwise (has_daily_bar, and the
      window of a symbol without listing data, follow its own bars);
    * from the first new session of the market (a date no stored row has)
      when its window reaches that session: a normal day appends the new
      session to every listed symbol, bar or no bar;
    * from the newest stored session when its window ends between that
      session and the newest one now: its last listed session is known only
      now (a delisting date that is no session, or a listing that named it
      before the bars reached it), so is_last_listed_session may flip.
#}
{% macro plan_membership_batches() %}
    {%- set changed_after = changed_after_literal() -%}
    {%- set query -%}
        with

        watermark as (
            select max(trade_date) as stored_through
            from {{ this }}
        ),

        data_through as (
            select max(last_trade_date) as trade_date
            from {{ ref('dim_symbols') }}
        ),

        changed_prices as materialized (
            select prices.symbol, prices.trade_date
            from {{ ref('stg_alpha_vantage__daily_prices') }} as prices
            where prices.changed_at > {{ changed_after }}
        ),

        changed_listings as (
            select listings.symbol, '-infinity'::date as from_date
            from {{ ref('stg_alpha_vantage__symbols') }} as listings
            where listings.changed_at > {{ changed_after }}
        ),

        first_changed_prices as (
            select symbol, min(trade_date) as from_date
            from changed_prices
            group by symbol
        ),

        new_sessions as (
            select min(changed.trade_date) as from_date
            from (select distinct trade_date from changed_prices) as changed
            where not exists (
                select 1
                from {{ this }} as stored
                where stored.trade_date = changed.trade_date
            )
        ),

        windows as (
            {{ listing_windows(ref('dim_symbols')) }}
        ),

        reached_by_new_sessions as (
            select windows.symbol, new_sessions.from_date
            from windows
            cross join new_sessions
            where new_sessions.from_date is not null
                and (
                    windows.last_listed_date is null
                    or windows.last_listed_date >= new_sessions.from_date
                )
        ),

        closed_by_new_sessions as (
            select windows.symbol, watermark.stored_through as from_date
            from windows
            cross join watermark
            cross join data_through
            where windows.last_listed_date >= watermark.stored_through
                and windows.last_listed_date < data_through.trade_date
        ),

        starts as (
            select symbol, from_date from changed_listings
            union all
            select symbol, from_date from closed_by_new_sessions
            union all
            select symbol, from_date from first_changed_prices
            union all
            select symbol, from_date from reached_by_new_sessions
        )

        select starts.symbol, min(starts.from_date)::text as from_date
        from starts
        where starts.symbol in (select symbol from windows)
        group by starts.symbol
        order by starts.symbol
    {%- endset -%}
    {%- set starts = [] -%}
    {%- for row in run_query(query).rows -%}
        {%- do starts.append([row["symbol"], row["from_date"]]) -%}
    {%- endfor -%}
    {%- do log("plan " ~ this.identifier ~ " symbols=" ~ starts | length) -%}
    {{ return(starts) }}
{% endmacro %}


{#
    fct_universe_membership's post-hook: drop stored rows that fall outside
    their symbol's window. replace_from_earliest rewrites a symbol from the
    first row of its batch on, so a window that starts later than before (a
    corrected IPO date) or holds no session any more would otherwise keep
    its old rows. One index probe per symbol when nothing is to be dropped.
#}
{% macro delete_memberships_outside_listing_windows() %}
    {%- if execute and is_incremental() -%}
        delete from {{ this }} as membership
        using ({{ listing_windows(ref('dim_symbols')) }}) as windows
        where membership.symbol = windows.symbol
            and membership.trade_date < windows.first_listed_date;

        delete from {{ this }} as membership
        using ({{ listing_windows(ref('dim_symbols')) }}) as windows
        where membership.symbol = windows.symbol
            and membership.trade_date > windows.last_listed_date
    {%- endif -%}
{% endmacro %}
