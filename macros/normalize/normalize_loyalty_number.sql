{#
    A loyalty number as typed at a till (l004812345, 004 812 345, L-004-812-345,
    4812345) back to the loyalty programme's id: letters and digits only, the
    programme prefix and lost leading zeros restored. The id's shape is the
    deployment's: vars loyalty_id_prefix and loyalty_id_digits.
#}
{% macro normalize_loyalty_number(column) -%}
    {%- set prefix = var('loyalty_id_prefix') -%}
    {%- set width = var('loyalty_id_digits') -%}
    {%- set digits = regexp_replace_all("upper(" ~ column ~ ")", '[^0-9]', '') -%}
    case
        when length({{ digits }}) between 1 and {{ width }}
            and {{ regexp_like('upper(trim(' ~ column ~ '))', '^' ~ prefix ~ '?[-0-9 ]+$') }}
            then '{{ prefix }}' || lpad({{ digits }}, {{ width }}, '0')
    end
{%- endmacro %}
