-- Store sales, each with the customer holding the card today; sales paid
-- without a card have no customer.
{{
    config(
        unique_key='transaction_id',
        pre_hook="{{ delete_activity_deleted_this_run('stg_pos__transactions', 'transaction_id') }}",
    )
}}
with

pos_transactions as (

    select * from {{ ref('stg_pos__transactions') }}
    where not is_deleted{{ activity_to_rebuild(
        'transaction_id', 'card_number', 'pos_card_holders'
    ) }}

),

memberships as (

    select * from {{ ref('int_customer_memberships') }}
    where source_table = 'pos_card_holders'

),

final as (

    select
        pos_transactions.transaction_id,
        memberships.customer_id,
        pos_transactions.card_number,
        pos_transactions.store_id,
        pos_transactions.txn_ts as transacted_at,
        pos_transactions.amount
    from pos_transactions
    left join memberships on pos_transactions.card_number = memberships.source_record_id

)

select * from final
