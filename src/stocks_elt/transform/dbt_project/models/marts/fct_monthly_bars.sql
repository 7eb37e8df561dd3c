{{
    config(
        unique_key=['symbol', 'month_start_date'],
        indexes=[
            {'columns': ['symbol', 'month_start_date'], 'unique': True},
            {'columns': ['source_changed_at']},
        ],
    )
}}

{{ aggregate_bars_by_period('month') }}
