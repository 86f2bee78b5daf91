-- Latest image of each ecommerce_customers record, contract columns typed.
-- No PII normalization here yet: values are as the source holds them.
with

source as (

    select * from {{ source('ecommerce', 'ecommerce_customers') }}

),

ranked as (

    select
        customer_account_id,
        email,
        first_name,
        last_name,
        phone,
        street_address,
        city,
        state,
        postal_code,
        country,
        date_of_birth,
        marketing_opt_in,
        created_at,
        updated_at,
        _op,
        _dt,
        _extracted_at,
        _loaded_at,
        _source_file,
        row_number() over (
            partition by customer_account_id
            order by
                _dt desc,
                {{ safe_cast('_extracted_at', dbt.type_timestamp()) }} desc nulls last,
                _loaded_at desc,
                _source_file desc
        ) as recency_rank
    from source

),

final as (

    select
        customer_account_id,
        email,
        first_name,
        last_name,
        phone,
        street_address,
        city,
        state,
        postal_code,
        country,
        {{ safe_cast('date_of_birth', 'date') }} as date_of_birth,
        {{ safe_cast('marketing_opt_in', dbt.type_boolean()) }} as marketing_opt_in,
        {{ safe_cast('created_at', dbt.type_timestamp()) }} as created_at,
        {{ safe_cast('updated_at', dbt.type_timestamp()) }} as updated_at,
        coalesce(_op = 'D', false) as is_deleted,
        _dt,
        {{ safe_cast('_extracted_at', dbt.type_timestamp()) }} as _extracted_at,
        _loaded_at,
        _source_file
    from ranked
    where recency_rank = 1

)

select * from final
