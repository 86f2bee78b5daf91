{#
    The normalized PII columns every identity staging model exposes, in one
    shape whatever the source holds, so identity records of six systems union
    without per-source special cases. Arguments name the source's raw columns
    (the contract's usual names by default); a field passed as none, which
    the source does not hold, becomes a typed null. Only e-commerce holds a
    country: country_iso names a column with its country_code() (none
    elsewhere); it tells the phone's numbering plan and the postal code's
    country, and a state can tell the latter too.
#}
{% macro normalized_pii(
    email='email', phone='phone', first_name='first_name', last_name='last_name',
    street_address='street_address', city='city', state='state', postal_code='postal_code',
    country_iso=none
) -%}
    {{ normalize_email(email) if email else 'cast(null as ' ~ dbt.type_string() ~ ')' }} as email_normalized,
    {{ normalize_phone(phone, country_iso) if phone else 'cast(null as ' ~ dbt.type_string() ~ ')' }} as phone_e164,
    {{ name_title(first_name) if first_name else 'cast(null as ' ~ dbt.type_string() ~ ')' }} as name_title,
    {{ normalize_name(first_name) if first_name else 'cast(null as ' ~ dbt.type_string() ~ ')' }}
        as first_name_normalized,
    {{ normalize_name(last_name) if last_name else 'cast(null as ' ~ dbt.type_string() ~ ')' }}
        as last_name_normalized,
    {% if last_name and first_name -%}
        coalesce({{ name_suffix(last_name) }}, {{ name_suffix(first_name) }})
    {%- elif first_name -%}
        {{ name_suffix(first_name) }}
    {%- else -%}
        cast(null as {{ dbt.type_string() }})
    {%- endif %} as name_suffix,
    {{ normalize_street(street_address) if street_address else 'cast(null as ' ~ dbt.type_string() ~ ')' }}
        as street_address_normalized,
    {{ normalize_city(city) if city else 'cast(null as ' ~ dbt.type_string() ~ ')' }}
        as city_normalized,
    {{ "nullif(upper(trim(" ~ state ~ ")), '')" if state else 'cast(null as ' ~ dbt.type_string() ~ ')' }}
        as state_normalized,
    {{ normalize_postal_code(postal_code, country_iso, state) if postal_code else 'cast(null as ' ~ dbt.type_string() ~ ')' }}
        as postal_code_normalized
{%- endmacro %}
