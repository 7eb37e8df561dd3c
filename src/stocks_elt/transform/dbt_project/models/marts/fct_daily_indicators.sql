{{
    config(
        unique_key=['symbol', 'trade_date'],
        indexes=[
            {'columns': ['symbol', 'trade_date'], 'unique': True},
            {'columns': ['source_changed_at']},
        ],
        pre_hook="{{ record_full_build() }}",
        post_hook="{{ add_primary_key() }}",
    )
}}

{#
    Technical indicators on adjusted closes, TA-Lib's definitions.

    Windowed indicators (SMA, Bollinger, volatility) are numeric window
    aggregates: exact sums, so the same frame gives the same value whatever
    row an incremental run starts from. Recursive ones (EMA, MACD, Wilder's
    RSI averages) are the aggregates of create_indicator_functions, run as
    window functions: one pass per symbol.

    Incremental: for each symbol with bars newer than this mart, sessions are
    recomputed from the first changed one (from_session). The run reads the
    {{ var('indicator_lookback_sessions') }} sessions before it again, so
    every window is complete, and the stored row just before it resumes the
    recursive states (EMA values, Wilder averages, running peak). When fewer
    sessions precede it, the symbol starts from its first session.
#}
{%- set lookback = var('indicator_lookback_sessions') -%}
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

stored_indicators as (

    select * from {{ this }}

),

batch_plan as (

    {{ values_relation(
        starts, [["symbol", "text"], ["from_session", "bigint"]]
    ) }}

),

sessions as (

    select
        daily_bars.symbol,
        daily_bars.trade_date,
        daily_bars.session_number,
        daily_bars.adjusted_close_price,
        daily_bars.log_return,
        daily_bars.source_changed_at,
        daily_bars.session_number >= batch_plan.from_session as is_output,
        daily_bars.session_number = batch_plan.from_session - 1 as is_resumed
    from daily_bars
    inner join batch_plan
        on daily_bars.symbol = batch_plan.symbol
        and daily_bars.session_number
        >= greatest(batch_plan.from_session - {{ lookback }}, 1)

),

resumable_sessions as (

    select
        sessions.*,
        stored.ema_12 as resume_ema_12,
        stored.ema_26 as resume_ema_26,
        stored.macd_fast_ema as resume_macd_fast_ema,
        stored.macd_signal as resume_macd_signal,
        stored.rsi_average_gain as resume_rsi_average_gain,
        stored.rsi_average_loss as resume_rsi_average_loss,
        stored.peak_adjusted_close_price as resume_peak_adjusted_close_price
    from sessions
    left join stored_indicators as stored
        on sessions.is_resumed
        and stored.symbol = sessions.symbol
        and stored.trade_date = sessions.trade_date

),

{%- else -%}

resumable_sessions as (

    select
        symbol,
        trade_date,
        session_number,
        adjusted_close_price,
        log_return,
        source_changed_at,
        true as is_output,
        cast(null as double precision) as resume_ema_12,
        cast(null as double precision) as resume_ema_26,
        cast(null as double precision) as resume_macd_fast_ema,
        cast(null as double precision) as resume_macd_signal,
        cast(null as double precision) as resume_rsi_average_gain,
        cast(null as double precision) as resume_rsi_average_loss,
        cast(null as double precision) as resume_peak_adjusted_close_price
    from daily_bars

),

{%- endif %}

windowed as (

    select
        symbol,
        trade_date,
        session_number,
        adjusted_close_price,
        source_changed_at,
        is_output,
        resume_macd_signal,

        ---------- moving windows (numeric: exact sums)
        case when session_number >= 20 then
            avg(adjusted_close_price::numeric) over last_20_sessions
        end as sma_20_numeric,
        case when session_number >= 50 then
            avg(adjusted_close_price::numeric) over last_50_sessions
        end as sma_50_numeric,
        case when session_number >= 200 then
            avg(adjusted_close_price::numeric) over last_200_sessions
        end as sma_200_numeric,
        case when session_number >= 20 then
            stddev_pop(adjusted_close_price::numeric) over last_20_sessions
        end as stddev_20_numeric,
        case when session_number >= 21 then
            stddev_samp(log_return::numeric) over last_20_sessions
        end as log_return_stddev_20_numeric,

        ---------- recursive (one pass per symbol)
        ({{ fn('ta_ema') }}(adjusted_close_price, 12, resume_ema_12)
            over all_sessions)[3] as ema_12,
        ({{ fn('ta_ema') }}(adjusted_close_price, 26, resume_ema_26)
            over all_sessions)[3] as ema_26,
        -- TA-Lib's MACD seeds its fast EMA 26 - 12 sessions late, so that
        -- both EMAs start on the same session (the 26th)
        ({{ fn('ta_ema') }}(adjusted_close_price, 12, resume_macd_fast_ema)
            filter (where session_number >= 15)
            over all_sessions)[3] as macd_fast_ema,
        {{ fn('ta_wilder') }}(
            adjusted_close_price,
            14,
            resume_rsi_average_gain,
            resume_rsi_average_loss
        ) over all_sessions as rsi_state,
        max(coalesce(resume_peak_adjusted_close_price, adjusted_close_price))
            over all_sessions as peak_adjusted_close_price

    from resumable_sessions
    window
        all_sessions as (
            partition by symbol
            order by session_number
            rows between unbounded preceding and current row
        ),
        last_20_sessions as (
            partition by symbol
            order by session_number
            rows between 19 preceding and current row
        ),
        last_50_sessions as (
            partition by symbol
            order by session_number
            rows between 49 preceding and current row
        ),
        last_200_sessions as (
            partition by symbol
            order by session_number
            rows between 199 preceding and current row
        )

),

signalled as (

    select
        windowed.*,
        macd_fast_ema - ema_26 as macd_line,
        ({{ fn('ta_ema') }}(macd_fast_ema - ema_26, 9, resume_macd_signal)
            over all_sessions)[3] as macd_signal
    from windowed
    window all_sessions as (
        partition by symbol
        order by session_number
        rows between unbounded preceding and current row
    )

),

final as (

    select
        ---------- ids
        {{ surrogate_key(['symbol', 'trade_date']) }} as daily_indicator_id,
        symbol,

        ---------- dates
        trade_date,
        session_number,

        ---------- prices
        adjusted_close_price,

        ---------- trend
        sma_20_numeric::double precision as sma_20,
        sma_50_numeric::double precision as sma_50,
        sma_200_numeric::double precision as sma_200,
        ema_12,
        ema_26,
        case when macd_signal is not null then macd_line end as macd,
        macd_signal,
        case when macd_signal is not null then macd_line - macd_signal end
            as macd_histogram,

        ---------- momentum
        {{ fn('ta_rsi') }}(rsi_state, 14) as rsi_14,

        ---------- volatility
        sma_20_numeric::double precision as bollinger_middle,
        sma_20_numeric::double precision
        + 2.0::double precision * stddev_20_numeric::double precision
            as bollinger_upper,
        sma_20_numeric::double precision
        - 2.0::double precision * stddev_20_numeric::double precision
            as bollinger_lower,
        sqrt(252.0::double precision)
        * log_return_stddev_20_numeric::double precision as volatility_20,

        ---------- risk
        adjusted_close_price / peak_adjusted_close_price - 1 as drawdown,
        peak_adjusted_close_price,

        ---------- recursive state (resumes the next incremental run)
        macd_fast_ema,
        case when rsi_state[1] > 14 then rsi_state[3] end as rsi_average_gain,
        case when rsi_state[1] > 14 then rsi_state[4] end as rsi_average_loss,

        ---------- timestamps
        source_changed_at

    from signalled
    where is_output

)

select * from final
