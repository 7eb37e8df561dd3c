with

source as (

    select * from {{ source('alpha_vantage', 'daily_prices') }}

),

renamed as (

    select
        ---------- ids
        symbol,

        ---------- dates
        trade_date,

        ---------- numerics (as traded)
        open as open_price,
        high as high_price,
        low as low_price,
        close as close_price,
        volume,

        ---------- numerics (vendor's adjusted series, premium keys only)
        adjusted_close as vendor_adjusted_close_price,
        dividend_amount as vendor_dividend_amount,
        split_coefficient as vendor_split_coefficient,

        ---------- lineage
        source_object,

        ---------- timestamps
        loaded_at,
        updated_at,
        coalesce(updated_at, loaded_at) as changed_at

    from source

)

select * from renamed
