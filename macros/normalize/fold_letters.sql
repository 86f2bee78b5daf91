{#
    Text folded to plain Latin letters for comparison: lower case, then the
    letters that are not an accent on a base letter spelled out (Groß ->
    gross, Søren -> soren, Łukasz -> lukasz, Þór -> thor), then accents
    stripped (José -> jose). strip_accents alone keeps ß, ø, æ, ł and their
    kin, and the rules after it (names keep only a-z) would drop them.
#}
{% macro fold_letters(expression) -%}
    {%- set ns = namespace(folded=translate_letters("lower(" ~ expression ~ ")")) -%}
    {#- Letters spelled with two. -#}
    {%- for letter, spelling in [('ß', 'ss'), ('æ', 'ae'), ('œ', 'oe'), ('þ', 'th'), ('ĳ', 'ij')] -%}
        {%- set ns.folded = "replace(" ~ ns.folded ~ ", '" ~ letter ~ "', '" ~ spelling ~ "')" -%}
    {%- endfor -%}
    {{ remove_accents(ns.folded) }}
{%- endmacro %}

{#
    The letters spelled with one plain letter (ø ł đ ð ı ħ ŧ ŀ ſ ŋ ĸ ŉ), in one
    translate; `also` / `into` map more characters in the same pass (the
    street rules turn punctuation into spaces here: every nested call counts
    against sqlfluff's parser, and the street rules nest twenty).
#}
{% macro translate_letters(expression, also='', into='') -%}
    translate({{ expression }}, 'øłđðıħŧŀſŋĸŉ{{ also }}', 'olddihtlsnkn{{ into }}')
{%- endmacro %}

{#
    Accents off lower-case text (é -> e, ñ -> n). DuckDB has strip_accents;
    Spark has no such function, so it maps the accented lower-case letters of
    Latin-1 and Latin Extended-A (the letters European names and places use).
#}
{% macro remove_accents(expression) -%}
    {{ return(adapter.dispatch('remove_accents', 'c360')(expression)) }}
{%- endmacro %}

{% macro default__remove_accents(expression) -%}
    strip_accents({{ expression }})
{%- endmacro %}

{% macro spark__remove_accents(expression) -%}
    translate(
        {{ expression }},
        'àáâãäåçèéêëìíîïñòóôõöùúûüýÿāăąćĉċčďēĕėęěĝğġģĥĩīĭįĵķĺļľńņňōŏőŕŗřśŝşšţťũūŭůűųŵŷźżž',
        'aaaaaaceeeeiiiinooooouuuuyyaaaccccdeeeeegggghiiiijklllnnnooorrrssssttuuuuuuwyzzz'
    )
{%- endmacro %}
