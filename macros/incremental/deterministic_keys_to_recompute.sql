{#
    The keys whose deterministic edges a build recomputes: every email,
    phone and loyalty id of a record int_identity_records wrote this run date
    (it writes each delivered record and every record of a group one joined
    or left, so the keys a record left are among them), and every device
    whose logins or records may have changed: devices with app events
    delivered, device records delivered, and devices signed in to an account
    delivered or written. A key's edges depend only on the records holding
    it, so recomputing a key whole, from every record holding it, is exact.
#}
{% macro deterministic_keys_to_recompute() -%}
    {%- set identity_records = ref('int_identity_records') -%}
    {%- set events = ref('stg_mobile_app__events') -%}
    select email_token as match_key
    from {{ identity_records }}
    where recomputed_on = {{ run_date_literal() }} and email_token is not null
    union
    select phone_token as match_key
    from {{ identity_records }}
    where recomputed_on = {{ run_date_literal() }} and phone_token is not null
    union
    select loyalty_id as match_key
    from {{ identity_records }}
    where recomputed_on = {{ run_date_literal() }} and loyalty_id is not null
    union
    select 'mobile_app_devices:' || device_id as match_key
    from {{ events }}
    where {{ loaded_this_run() }}
    union
    select record_key as match_key
    from {{ identity_records }}
    where recomputed_on = {{ run_date_literal() }} and source_table = 'mobile_app_devices'
    union
    select changed.source_table || ':' || changed.source_record_id as match_key
    from ({{ identity_records_loaded_this_run() }}) as changed
    where changed.source_table = 'mobile_app_devices'
    union
    select 'mobile_app_devices:' || events.device_id as match_key
    from {{ events }} as events
    where 'ecommerce_customers:' || events.customer_account_id in (
        {{ identity_records_written_this_run() }}
    )
{%- endmacro %}

{#
    Pre-hook: the edges of the keys recomputed this run are written again,
    and every edge of a record written or delivered this run goes: it may
    rest on a key the record no longer holds (one that none of the keys to
    recompute names).
#}
{% macro delete_deterministic_edges_to_recompute() -%}
    {%- if is_incremental() -%}
        {%- set identity_records = ref('int_identity_records') -%}
        delete from {{ this }}
        where
            match_key in ({{ deterministic_keys_to_recompute() }})
            or record_key_a in ({{ identity_records_written_this_run() }})
            or record_key_b in ({{ identity_records_written_this_run() }})
    {%- endif -%}
{%- endmacro %}

{# Record keys int_identity_records wrote this run date, or that a load of it delivered. #}
{% macro identity_records_written_this_run() -%}
    select record_key from {{ ref('int_identity_records') }}
    where recomputed_on = {{ run_date_literal() }}
    union all
    select changed.source_table || ':' || changed.source_record_id
    from ({{ identity_records_loaded_this_run() }}) as changed
{%- endmacro %}

{# On an incremental build, only the rows of the keys to recompute. #}
{% macro recompute_only(key_expression) -%}
    {%- if is_incremental() %}
        and {{ key_expression }} in (select keys_to_recompute.match_key from keys_to_recompute)
    {%- endif -%}
{%- endmacro %}
