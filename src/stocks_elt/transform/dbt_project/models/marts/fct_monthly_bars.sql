{{
    config(
        unique_key=['symbol', 'month_start_date'],
        indexes=[
            {'columns': ['symbol', 'month_start_date'], 'unique': True},
            {'columns': ['source_changed_at']},
        ],
        pre_hook=["{{ record_full_build() }}", "{{ jit_off_when_incremental() }}"],
        post_hook="{{ add_primary_key() }}",
    )
}}

{{ aggregate_bars_by_period('month') }}
