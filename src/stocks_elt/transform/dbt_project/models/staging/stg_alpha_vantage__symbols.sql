with

source as (

    select * from {{ source('alpha_vantage', 'symbols') }}

),

renamed as (

    select
        ---------- ids
        symbol,

        ---------- text
        name,
        exchange,
        asset_type,
        currency,
        country,
        sector,
        industry,
        status,

        ---------- dates
        ipo_date,
        delisting_date,

        ---------- lineage
        source_object,

        ---------- timestamps
        loaded_at,
        updated_at,
        coalesce(updated_at, loaded_at) as changed_at

    from source

)

select * from renamed
