{{
    config(
        unique_key=['symbol', 'trade_date'],
        indexes=[
            {'columns': ['symbol', 'trade_date'], 'unique': True},
            {'columns': ['source_changed_at']},
        ],
        pre_hook=["{{ record_full_build() }}", "{{ jit_off_when_incremental() }}"],
        post_hook="{{ add_primary_key() }}",
    )
}}

{#
    Technical indicators on adjusted closes, TA-Lib's definitions.

    Recursive indicators (EMA, MACD, Wilder's RSI averages) are the scalar
    aggregates of create_indicator_functions run as window functions in one
    pass per symbol, with TA-Lib's order of operations. Moving windows (SMA,
    Bollinger, volatility) are moving_sum frames: add the new value, take
    away the one that left, as TA-Lib does. Those sums restart every 400
    sessions, on two staggered grids (A from session 1, B from session 201)
    so that every frame of up to 200 sessions lies inside one stretch of one
    of them: a value depends only on the closes since its restart, never on
    where a run starts.

    Incremental: for each symbol with bars newer than this mart, sessions are
    recomputed from the first changed one (from_session). The run reads the
    399 sessions before it again (the var indicator_lookback_sessions),
    which hold every restart the new rows use, and the stored row just before it
    resumes the recursive states (EMA values, Wilder averages, running
    peak). When fewer sessions precede it, the symbol starts from its first
    session.
#}
{%- set window_restart = 400 -%}
{%- set lookback = var('indicator_lookback_sessions') -%}
{%- if lookback < window_restart - 1 -%}
    {{ exceptions.raise_compiler_error(
        "indicator_lookback_sessions must be at least "
        ~ (window_restart - 1) ~ ", got " ~ lookback
    ) }}
{%- endif -%}
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

read_plan as (

    select
        symbol,
        from_session,
        greatest(from_session - {{ lookback }}, 1) as read_from_session
    from batch_plan

),

planned_sessions as (

    select
        daily_bars.daily_bar_id,
        daily_bars.symbol,
        daily_bars.trade_date,
        daily_bars.session_number,
        daily_bars.adjusted_close_price,
        daily_bars.log_return,
        daily_bars.source_changed_at,
        daily_bars.session_number >= read_plan.from_session as is_output,
        -- resuming: the stored states of the session before from_session
        -- seed the recursive aggregates; earlier sessions feed them nothing
        read_plan.read_from_session > 1
        and daily_bars.session_number = read_plan.from_session - 1
            as is_resumed,
        read_plan.read_from_session = 1
        or daily_bars.session_number >= read_plan.from_session
            as feeds_recursion
    {{ from_each_plan_start(
        'read_plan', 'daily_bars', 'session_number',
        'read_plan.read_from_session'
    ) }}

),

sessions as (

    select
        planned_sessions.*,
        stored.ema_12 as resume_ema_12,
        stored.ema_26 as resume_ema_26,
        stored.macd_fast_ema as resume_macd_fast_ema,
        stored.macd_signal as resume_macd_signal,
        stored.rsi_average_gain as resume_rsi_average_gain,
        stored.rsi_average_loss as resume_rsi_average_loss,
        stored.peak_adjusted_close_price as resume_peak_adjusted_close_price
    from planned_sessions
    left join lateral (
        -- one index look-up per resumed symbol (a fence: see
        -- from_each_plan_start)
        select *
        from stored_indicators
        where planned_sessions.is_resumed
            and stored_indicators.symbol = planned_sessions.symbol
            and stored_indicators.trade_date = planned_sessions.trade_date
        offset 0
    ) as stored on true

),

{%- else -%}

sessions as (

    select
        daily_bar_id,
        symbol,
        trade_date,
        session_number,
        adjusted_close_price,
        log_return,
        source_changed_at,
        true as is_output,
        false as is_resumed,
        true as feeds_recursion,
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

changes as (

    select
        sessions.*,
        adjusted_close_price
        - lag(adjusted_close_price) over symbol_sessions as close_change
    from sessions
    window symbol_sessions as (partition by symbol order by session_number)

),

---------- recursive (one pass per symbol, TA-Lib's arithmetic)
recursive_states as (

    select
        changes.*,
        {{ fn('ta_ema') }}(
            case
                when is_resumed then resume_ema_12
                when feeds_recursion then adjusted_close_price
            end,
            session_number, 12, 2.0::double precision / 13
        ) over all_sessions as ema_12_state,
        {{ fn('ta_ema') }}(
            case
                when is_resumed then resume_ema_26
                when feeds_recursion then adjusted_close_price
            end,
            session_number, 26, 2.0::double precision / 27
        ) over all_sessions as ema_26_state,
        -- TA-Lib's MACD seeds its fast EMA 26 - 12 sessions late, so that
        -- both EMAs start on the same session (the 26th)
        {{ fn('ta_ema') }}(
            case
                when is_resumed then resume_macd_fast_ema
                when feeds_recursion and session_number >= 15
                    then adjusted_close_price
            end,
            session_number - 14, 12, 2.0::double precision / 13
        ) over all_sessions as macd_fast_state,
        -- Wilder's averages of the gains and losses (a change counts as a
        -- gain of 0 or a loss of 0 on the other side, as in TA-Lib)
        {{ fn('ta_wilder') }}(
            case
                when is_resumed then resume_rsi_average_gain
                when feeds_recursion and close_change > 0 then close_change
                when feeds_recursion then 0
            end,
            session_number - 1, 14
        ) over all_sessions as rsi_gain_state,
        {{ fn('ta_wilder') }}(
            case
                when is_resumed then resume_rsi_average_loss
                when feeds_recursion and close_change < 0 then -close_change
                when feeds_recursion then 0
            end,
            session_number - 1, 14
        ) over all_sessions as rsi_loss_state,
        max(coalesce(resume_peak_adjusted_close_price, adjusted_close_price))
            over all_sessions as peak_adjusted_close_price
    from changes
    window all_sessions as (
        partition by symbol
        order by session_number
        rows between unbounded preceding and current row
    )

),

signalled as (

    select
        recursive_states.*,
        -- the MACD line exists from session 26; its EMA(9) from session 34
        {{ fn('ta_ema') }}(
            case
                when is_resumed then resume_macd_signal
                when feeds_recursion and session_number >= 26
                    then macd_fast_state - ema_26_state
            end,
            session_number - 25, 9, 2.0::double precision / 10
        ) over all_sessions as macd_signal_state
    from recursive_states
    window all_sessions as (
        partition by symbol
        order by session_number
        rows between unbounded preceding and current row
    )

),

---------- moving windows, restart grid A: sessions 1, 401, 801, ...
{%- set grids = [
    ('a', '(session_number - 1) / ' ~ window_restart),
    ('b', '(session_number - 1 + ' ~ window_restart // 2 ~ ') / '
        ~ window_restart),
] %}
{%- for grid, stretch in grids %}

{{ 'grid_a' if grid == 'a' else 'grid_b' }} as (

    select
        {{ 'signalled' if grid == 'a' else 'grid_a' }}.*,
        {{ fn('moving_sum') }}(adjusted_close_price) over last_20
            as {{ grid }}_close_sum_20,
        {{ fn('moving_sum') }}(adjusted_close_price * adjusted_close_price)
            over last_20 as {{ grid }}_close_square_sum_20,
        {{ fn('moving_sum') }}(log_return) over last_20
            as {{ grid }}_log_return_sum_20,
        {{ fn('moving_sum') }}(log_return * log_return) over last_20
            as {{ grid }}_log_return_square_sum_20,
        {{ fn('moving_sum') }}(adjusted_close_price) over last_50
            as {{ grid }}_close_sum_50,
        {{ fn('moving_sum') }}(adjusted_close_price) over last_200
            as {{ grid }}_close_sum_200
    from {{ 'signalled' if grid == 'a' else 'grid_a' }}
    window
        last_20 as (
            partition by symbol, {{ stretch }}
            order by session_number
            rows between 19 preceding and current row
        ),
        last_50 as (
            partition by symbol, {{ stretch }}
            order by session_number
            rows between 49 preceding and current row
        ),
        last_200 as (
            partition by symbol, {{ stretch }}
            order by session_number
            rows between 199 preceding and current row
        )

),
{%- if grid == 'a' %}

---------- moving windows, restart grid B: sessions 201, 601, 1001, ...
{%- endif %}
{%- endfor %}

-- a frame of n sessions comes from grid A when it lies inside A's current
-- stretch (at least n - 1 sessions since the restart), else from grid B
windowed as (

    select
        *,
        {%- for column, frame in [
            ('close_sum_20', 20),
            ('close_square_sum_20', 20),
            ('log_return_sum_20', 20),
            ('log_return_square_sum_20', 20),
            ('close_sum_50', 50),
            ('close_sum_200', 200),
        ] %}
        case
            when (session_number - 1) % {{ window_restart }} >= {{ frame - 1 }}
                then a_{{ column }}
            else b_{{ column }}
        end as {{ column }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from grid_b

),

averaged as (

    select
        windowed.*,
        close_sum_20 / 20 as mean_20,
        -- population variance, TA-Lib's: mean of squares - square of mean
        close_square_sum_20 / 20 - (close_sum_20 / 20) * (close_sum_20 / 20)
            as variance_20,
        -- sample variance (n - 1) of the log returns
        (
            log_return_square_sum_20
            - log_return_sum_20 * log_return_sum_20 / 20
        ) / 19 as log_return_variance_20
    from windowed

),

final as (

    select
        ---------- ids
        -- the bar's key: the same md5 of symbol and trade_date
        daily_bar_id as daily_indicator_id,
        symbol,

        ---------- dates
        trade_date,
        session_number,

        ---------- prices
        adjusted_close_price,

        ---------- trend
        case when session_number >= 20 then mean_20 end as sma_20,
        case when session_number >= 50 then close_sum_50 / 50 end as sma_50,
        case when session_number >= 200 then close_sum_200 / 200 end
            as sma_200,
        case when session_number >= 12 then ema_12_state end as ema_12,
        case when session_number >= 26 then ema_26_state end as ema_26,
        case when session_number >= 34 then macd_fast_state - ema_26_state end
            as macd,
        case when session_number >= 34 then macd_signal_state end
            as macd_signal,
        case
            when session_number >= 34
                then macd_fast_state - ema_26_state - macd_signal_state
        end as macd_histogram,

        ---------- momentum (TA-Lib: 0 when gain + loss is within 1e-8 of 0)
        case
            when session_number < 15 then null
            when abs(rsi_gain_state + rsi_loss_state) < 1e-8::double precision
                then 0
            else
                100.0::double precision
                * (rsi_gain_state / (rsi_gain_state + rsi_loss_state))
        end as rsi_14,

        ---------- volatility
        case when session_number >= 20 then mean_20 end as bollinger_middle,
        case
            when session_number >= 20
                then mean_20
                + 2.0::double precision * sqrt(greatest(variance_20, 0))
        end as bollinger_upper,
        case
            when session_number >= 20
                then mean_20
                - 2.0::double precision * sqrt(greatest(variance_20, 0))
        end as bollinger_lower,
        case
            when session_number >= 21
                then sqrt(252.0::double precision)
                * sqrt(greatest(log_return_variance_20, 0))
        end as volatility_20,

        ---------- risk
        adjusted_close_price / peak_adjusted_close_price - 1 as drawdown,
        peak_adjusted_close_price,

        ---------- recursive state (resumes the next incremental run)
        case when session_number >= 26 then macd_fast_state end
            as macd_fast_ema,
        case when session_number >= 15 then rsi_gain_state end
            as rsi_average_gain,
        case when session_number >= 15 then rsi_loss_state end
            as rsi_average_loss,

        ---------- timestamps
        source_changed_at

    from averaged
    where is_output

)

select * from final
