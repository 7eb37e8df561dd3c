{{
    config(
        unique_key=['symbol', 'week_start_date'],
        indexes=[
            {'columns': ['symbol', 'week_start_date'], 'unique': True},
            {'columns': ['source_changed_at']},
        ],
    )
}}

{{ aggregate_bars_by_period('week') }}
