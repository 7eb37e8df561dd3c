{#
    Passes when Postgres itself holds `columns` unique and not null for
    every row: the relation, or the one table a staging view reads, has a
    primary key on exactly those columns. A catalog look-up, so it costs the
    same on ten rows as on ten million, and it fails the day a migration
    drops or changes the key. Returns one row saying what is wrong.
#}
{% test primary_key(model, columns) %}

with

target as (

    select pg_class.oid, pg_class.relkind
    from pg_class
    inner join pg_namespace on pg_namespace.oid = pg_class.relnamespace
    where pg_namespace.nspname = '{{ model.schema }}'
        and pg_class.relname = '{{ model.identifier }}'

),

-- a table is its own base; a view's bases are the tables its rule reads
bases as (

    select target.oid from target where target.relkind in ('r', 'p')
    union
    select pg_depend.refobjid
    from target
    inner join pg_rewrite on pg_rewrite.ev_class = target.oid
    inner join pg_depend
        on pg_depend.objid = pg_rewrite.oid
        and pg_depend.classid = 'pg_rewrite'::regclass
        and pg_depend.refclassid = 'pg_class'::regclass
        and pg_depend.refobjid <> target.oid
    where target.relkind = 'v'

),

keys as (

    select
        bases.oid,
        (
            select array_agg(pg_attribute.attname::text order by pg_attribute.attname)
            from pg_constraint
            inner join pg_attribute
                on pg_attribute.attrelid = pg_constraint.conrelid
                and pg_attribute.attnum = any(pg_constraint.conkey)
            where pg_constraint.conrelid = bases.oid
                and pg_constraint.contype = 'p'
        ) as key_columns
    from bases

),

verdict as (

    select
        case
            when not exists (select from target)
                then 'relation not found'
            when (select count(*) from bases) <> 1
                then 'reads ' || (select count(*) from bases)
                    || ' tables; a primary key needs exactly one'
            when (select key_columns from keys) is null
                then 'no primary key'
            when (select key_columns from keys) <> array[
                {%- for column in columns | sort %}'{{ column }}'{% if not loop.last %}, {% endif %}{% endfor -%}
            ]::text[]
                then 'primary key is (' || array_to_string(
                    (select key_columns from keys), ', '
                ) || ')'
        end as failure

)

select
    '{{ model.schema }}.{{ model.identifier }}' as relation,
    failure
from verdict
where failure is not null

{% endtest %}
