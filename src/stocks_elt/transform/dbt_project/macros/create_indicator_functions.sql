{#
    The aggregate functions the indicator marts call, created (or replaced) in
    the intermediate schema by the on-run-start hook.

    ta_ema(value, period, resume)
        TA-Lib's EMA: alpha = 2 / (period + 1), seeded with the simple average
        of the first `period` values; null until then. Used as a window
        function over a symbol's sessions, so one pass per symbol. The state is
        {values seen, running sum while seeding, ema}; read the EMA as `[3]`.
        A non-null `resume` restarts the state at that value: an incremental
        run feeds the last stored EMA there and continues exactly.
        Null values are skipped (the MACD line starts late).

    ta_wilder(value, period, resume_gain, resume_loss)
        The average gain and loss of TA-Lib's RSI: the first averages are the
        plain means of the first `period` changes, later ones follow Wilder,
        avg = (avg * (period - 1) + change) / period, with TA-Lib's order of
        operations. State {values seen, previous value, gain, loss}.

    ta_rsi(state, period)
        100 * gain / (gain + loss) from a ta_wilder state; 0 when gain + loss
        is within 1e-8 of zero (TA-Lib's TA_IS_ZERO); null before the first
        `period` changes.

    float8_product(value), numeric_product(value)
        Products in input order (null inputs skipped, 1 for none); the running
        products of corporate-action factors.
#}
{% macro create_indicator_functions() %}
{%- set schema = indicator_function_schema() -%}
create schema if not exists {{ schema }};

create or replace function {{ schema }}.ta_ema_step(
    state double precision[],
    value double precision,
    period integer,
    resume double precision
) returns double precision[]
language plpgsql immutable parallel safe as $body$
declare
    seen double precision := state[1] + 1;
begin
    if resume is not null then
        return array[period, null, resume];
    elsif value is null then
        return state;
    elsif seen < period then
        return array[seen, state[2] + value, null];
    elsif seen = period then
        return array[seen, null, (state[2] + value) / period];
    end if;
    return array[
        seen,
        null,
        (value - state[3]) * (2.0::double precision / (period + 1)) + state[3]
    ];
end;
$body$;

create or replace aggregate {{ schema }}.ta_ema(
    double precision, integer, double precision
) (
    sfunc = {{ schema }}.ta_ema_step,
    stype = double precision[],
    initcond = '{0,0,NULL}',
    parallel = safe
);

create or replace function {{ schema }}.ta_wilder_step(
    state double precision[],
    value double precision,
    period integer,
    resume_gain double precision,
    resume_loss double precision
) returns double precision[]
language plpgsql immutable parallel safe as $body$
declare
    seen double precision := state[1] + 1;
    change double precision;
    gain double precision := state[3];
    loss double precision := state[4];
begin
    if resume_gain is not null then
        return array[period + 1, value, resume_gain, resume_loss];
    elsif value is null then
        return state;
    elsif seen = 1 then
        return array[1, value, 0, 0];
    end if;
    change := value - state[2];
    if seen <= period + 1 then
        -- the first `period` changes: plain sums, then their means
        if change < 0 then
            loss := loss - change;
        else
            gain := gain + change;
        end if;
        if seen = period + 1 then
            gain := gain / period;
            loss := loss / period;
        end if;
        return array[seen, value, gain, loss];
    end if;
    loss := loss * (period - 1);
    gain := gain * (period - 1);
    if change < 0 then
        loss := loss - change;
    else
        gain := gain + change;
    end if;
    return array[seen, value, gain / period, loss / period];
end;
$body$;

create or replace aggregate {{ schema }}.ta_wilder(
    double precision, integer, double precision, double precision
) (
    sfunc = {{ schema }}.ta_wilder_step,
    stype = double precision[],
    initcond = '{0,NULL,0,0}',
    parallel = safe
);

create or replace function {{ schema }}.ta_rsi(
    state double precision[],
    period integer
) returns double precision
language sql immutable parallel safe as $body$
    select
        case
            when state[1] <= period then null
            when abs(state[3] + state[4]) < 1e-8::double precision then 0
            else 100.0::double precision * (state[3] / (state[3] + state[4]))
        end
$body$;

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
