{# Fails on rows where the column is below zero (nulls pass). #}
{% test is_not_negative(model, column_name) %}

select *
from {{ model }}
where {{ column_name }} < 0

{% endtest %}
