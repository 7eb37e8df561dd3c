with

source as (

    select * from {{ source('alpha_vantage', 'dividends') }}

),

renamed as (

    select
        ---------- ids
        symbol,

        ---------- dates
        ex_dividend_date,
        declaration_date,
        record_date,
        payment_date,

        ---------- numerics
        amount as dividend_amount,

        ---------- lineage
        source_object,

        ---------- timestamps
        loaded_at,
        updated_at,
        coalesce(updated_at, loaded_at) as changed_at

    from source

)

select * from renamed
