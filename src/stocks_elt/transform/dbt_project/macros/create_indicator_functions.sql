{#
    The aggregate functions the indicator marts call, created (or replaced) in
    the intermediate schema by the on-run-start hook. Each state is one
    double precision value, so a step costs one plain function call.

    ta_ema(value, seen, period, alpha)
        TA-Lib's EMA: the first `period` values are summed and their mean is
        the seed; from then on ema = (value - ema) * alpha + ema, alpha =
        2 / (period + 1) (TA-Lib's order of operations, so the values are
        TA-Lib's to the bit). `seen` is the value's position in the series
        (1 for the first); before `period` the state is a partial sum, which
        the model does not show. Strict: null values are skipped, and the
        first non-null value becomes the state as it is; an incremental run
        feeds the stored EMA there and continues exactly.

    ta_wilder(value, seen, period)
        A Wilder average of TA-Lib's RSI (run once on the gains, once on the
        losses): the mean of the first `period` values, then avg = (avg *
        (period - 1) + value) / period. Strict, like ta_ema.

    moving_sum(value)
        A sum with an inverse step, so a moving window frame adds the new
        value and takes away the one that left instead of summing the frame
        again: TA-Lib's own running sums. The model restarts it every 400
        sessions (fct_daily_indicators), so a value depends only on the
        closes since the restart, not on where a run starts.

    float8_product(value), numeric_product(value)
        Products in input order (null inputs skipped, 1 for none); the running
        products of corporate-action factors.
#}
{% macro create_indicator_functions() %}
{%- set schema = indicator_function_schema() -%}
create schema if not exists {{ schema }};

-- the array-state versions of earlier releases
drop aggregate if exists {{ schema }}.ta_ema(
    double precision, integer, double precision
);
drop aggregate if exists {{ schema }}.ta_wilder(
    double precision, integer, double precision, double precision
);
drop function if exists {{ schema }}.ta_ema_step(
    double precision[], double precision, integer, double precision
);
drop function if exists {{ schema }}.ta_wilder_step(
    double precision[], double precision, integer, double precision,
    double precision
);
drop function if exists {{ schema }}.ta_rsi(double precision[], integer);

create or replace function {{ schema }}.ta_ema_step(
    state double precision,
    value double precision,
    seen bigint,
    period integer,
    alpha double precision
) returns double precision
language plpgsql strict immutable parallel safe as $body$
begin
    if seen > period then
        return (value - state) * alpha + state;
    elsif seen < period then
        return state + value;
    end if;
    return (state + value) / period;
end;
$body$;

create or replace aggregate {{ schema }}.ta_ema(
    double precision, bigint, integer, double precision
) (
    sfunc = {{ schema }}.ta_ema_step,
    stype = double precision,
    parallel = safe
);

create or replace function {{ schema }}.ta_wilder_step(
    state double precision,
    value double precision,
    seen bigint,
    period integer
) returns double precision
language plpgsql strict immutable parallel safe as $body$
begin
    if seen > period then
        return (state * (period - 1) + value) / period;
    elsif seen < period then
        return state + value;
    end if;
    return (state + value) / period;
end;
$body$;

create or replace aggregate {{ schema }}.ta_wilder(
    double precision, bigint, integer
) (
    sfunc = {{ schema }}.ta_wilder_step,
    stype = double precision,
    parallel = safe
);

create or replace aggregate {{ schema }}.moving_sum(double precision) (
    sfunc = float8pl,
    stype = double precision,
    msfunc = float8pl,
    minvfunc = float8mi,
    mstype = double precision,
    parallel = safe
);

create or replace aggregate {{ schema }}.float8_product(double precision) (
    sfunc = float8mul,
    stype = double precision,
    initcond = '1',
    parallel = safe
);

create or replace aggregate {{ schema }}.numeric_product(numeric) (
    sfunc = numeric_mul,
    stype = numeric,
    initcond = '1',
    parallel = safe
);
{% endmacro %}


{# The schema that holds the functions above (the intermediate schema). #}
{% macro indicator_function_schema() -%}
    {{ generate_schema_name('intermediate', none) }}
{%- endmacro %}


{# A function created above, schema-qualified: {{ fn('ta_ema') }}. #}
{% macro fn(name) -%}
    {{ indicator_function_schema() }}.{{ name }}
{%- endmacro %}
