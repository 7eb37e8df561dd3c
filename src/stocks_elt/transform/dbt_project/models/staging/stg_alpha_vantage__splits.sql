with

source as (

    select * from {{ source('alpha_vantage', 'splits') }}

),

renamed as (

    select
        ---------- ids
        symbol,

        ---------- dates
        effective_date,

        ---------- numerics
        split_factor,

        ---------- lineage
        source_object,

        ---------- timestamps
        loaded_at,
        updated_at,
        coalesce(updated_at, loaded_at) as changed_at

    from source

)

select * from renamed
