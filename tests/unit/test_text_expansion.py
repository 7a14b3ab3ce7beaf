"""Stemming and synonyms of the catalog search, applied to the query (api/query/text_expansion.py)."""

from __future__ import annotations

from typing import Any

from api.query.catalog_query import CatalogSearch, build_search
from api.query.text_expansion import groups, inflections, synonyms, words


def test_plural_and_singular_find_each_other() -> None:
    assert {"salad", "salads"} <= set(inflections("salads"))
    assert {"salad", "salads"} <= set(inflections("salad"))
    assert {"berry", "berries"} <= set(inflections("berry"))
    assert {"curry", "curries"} <= set(inflections("curries"))
    assert {"tomato", "tomatoes"} <= set(inflections("tomatoes"))
    assert {"grill", "grilled"} <= set(inflections("grilled"))


def test_forms_share_the_stem_of_the_word() -> None:
    assert "sale" not in inflections("salads")
    assert inflections("rice") == ("rice", "rices", "riced", "ricing") or "rice" in inflections("rice")


def test_hyphens_are_spaces_and_phrases_win_over_words() -> None:
    assert words("Gluten-Free, Veggie bowl!") == ["gluten", "free", "veggie", "bowl"]
    (gf,) = groups("gluten-free")
    assert gf.text == "gluten free" and gf.tags == ("gluten_free",)


def test_synonyms_and_tags_of_a_word_and_of_its_plural() -> None:
    veggie, bowl = groups("veggie bowl")
    assert "vegetarian" in veggie.phrases and veggie.tags == ("vegetarian",)
    assert bowl.phrases == () and "bowls" in bowl.forms
    (veggies,) = groups("veggies")
    assert veggies.tags == ("vegetarian",)


def test_common_words_are_not_groups() -> None:
    assert [g.text for g in groups("salad with the chicken")] == ["salad", "chicken"]


def test_the_synonym_list_parses_and_names_only_known_tags() -> None:
    from farmacy.vocabulary import DietaryTag

    tags = {a.removeprefix("tag:") for v in synonyms().by_phrase.values() for a in v if a.startswith("tag:")}
    assert tags <= {t.value for t in DietaryTag}
    assert len(synonyms().by_phrase) >= 20


def _texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [
            t
            for k, v in node.items()
            for t in ([v["query"]] if k.endswith("match") and isinstance(v, dict) and "query" in v else _texts(v))
        ]
    if isinstance(node, list):
        return [t for v in node for t in _texts(v)]
    return []


def test_the_search_asks_for_every_group_in_any_form() -> None:
    body = build_search(CatalogSearch(q="gluten-free salads"))
    should = body["query"]["bool"]["must"][0]["bool"]["should"]
    expanded = should[-1]["bool"]["must"]
    assert len(expanded) == 2  # "gluten free", "salads": both must match
    gluten, salads = expanded
    assert {"term": {"dietary_tags": {"value": "gluten_free", "boost": 2}}} in gluten["bool"]["should"]
    assert any("salad" in t.split() and "salads" in t.split() for t in _texts(salads))
    assert "query_string" not in str(body)
