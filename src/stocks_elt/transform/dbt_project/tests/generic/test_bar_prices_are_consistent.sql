{#
    Fails on rows whose low is above the open or the close, or whose high is
    below them: low <= least(open, close) <= greatest(open, close) <= high.
#}
{% test bar_prices_are_consistent(model, open_column, high_column, low_column, close_column) %}

select *
from {{ model }}
where {{ low_column }} > least({{ open_column }}, {{ close_column }})
    or {{ high_column }} < greatest({{ open_column }}, {{ close_column }})

{% endtest %}
