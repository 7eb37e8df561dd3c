{#
    Post-hook of the incremental marts: make the model's unique_key
    (symbol and date) the table's primary key, so Postgres holds uniqueness
    for every row while the data tests read only the new ones.

    The unique index the model declares in `indexes` becomes the key (no
    second index); without one, the key builds its own. Nothing to do once
    the table has a primary key, so an incremental run pays one catalog
    look-up.
#}
{% macro add_primary_key() %}
    {%- set key = config.get('unique_key') -%}
    {%- set table = this.include(database=false) -%}
    {%- set columns = [] -%}
    {%- for column in key -%}
        {%- do columns.append(adapter.quote(column)) -%}
    {%- endfor -%}
do $add_primary_key$
declare
    key_index text;
begin
    if exists (
        select 1
        from pg_constraint
        where conrelid = '{{ table }}'::regclass and contype = 'p'
    ) then
        return;
    end if;
    select index_class.relname into key_index
    from pg_index
    inner join pg_class as index_class
        on index_class.oid = pg_index.indexrelid
    where pg_index.indrelid = '{{ table }}'::regclass
        and pg_index.indisunique
        and pg_index.indisvalid
        and pg_index.indpred is null
        and pg_index.indexprs is null
        and pg_index.indkey::text = array_to_string(array(
            select attnum
            from unnest(array[
                {%- for column in key -%}
                '{{ column }}'
                {%- if not loop.last %}, {% endif -%}
                {%- endfor -%}
            ]::text[]) with ordinality as wanted (name, position)
            inner join pg_attribute
                on pg_attribute.attrelid = '{{ table }}'::regclass
                and pg_attribute.attname = wanted.name
            order by wanted.position
        ), ' ')
    limit 1;
    if key_index is null then
        alter table {{ table }} add primary key ({{ columns | join(', ') }});
    else
        execute format(
            'alter table {{ table }} add primary key using index %I',
            key_index
        );
    end if;
end
$add_primary_key$
{% endmacro %}
