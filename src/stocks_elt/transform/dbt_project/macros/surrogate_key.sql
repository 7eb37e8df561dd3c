{#
    A stable text key from the given columns (md5 of their text, separated
    by "|"), like dbt_utils.generate_surrogate_key without the package.
#}
{% macro surrogate_key(columns) -%}
    md5(
        {%- for column in columns %}
        coalesce(cast({{ column }} as text), '')
        {%- if not loop.last %} || '|' ||{% endif %}
        {%- endfor %}
    )
{%- endmacro %}
