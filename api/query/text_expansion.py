"""Stemming and synonyms for the catalog search, done on the query so they work on any Elasticsearch 8
distribution (the local one has no analysis-common module, so no stemmer or synonym filter) and need no reindex.

A query is cut into groups: phrases of ``synonyms.toml`` first ("gluten free", with hyphens read as spaces),
then single words. Each word is expanded into its English inflections that share its Snowball stem ("salads" ->
salad, salads; "berry" -> berry, berries; "grilled" -> grill, grilled, grilling), each group into its synonyms
and the dietary tags they name. A meal matches when every group matches (any of its forms, in name, ingredients
or description, or a tag). Common words ("with", "and") are not groups.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import snowballstemmer

SYNONYMS_FILE = Path(__file__).with_name("synonyms.toml")
STOP_WORDS = frozenset({"a", "an", "and", "the", "with", "of", "in", "on", "for", "to", "or", "&"})
_WORD = re.compile(r"[a-z0-9]+")
_VOWELS = frozenset("aeiou")


@dataclass(frozen=True)
class Group:
    """One word or phrase of the query and what may stand for it."""

    text: str
    forms: tuple[str, ...]  # inflections of a word, or the phrase itself
    phrases: tuple[str, ...] = ()  # synonyms (words or phrases)
    tags: tuple[str, ...] = ()  # dietary tags the group names


@dataclass(frozen=True)
class Synonyms:
    by_phrase: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)

    @cached_property
    def longest(self) -> int:
        return max((len(k) for k in self.by_phrase), default=1)

    @cached_property
    def by_stem(self) -> dict[str, tuple[str, ...]]:
        """The synonyms of each listed single word by its stem (the first listed word of a stem wins)."""
        out: dict[str, tuple[str, ...]] = {}
        for k, v in self.by_phrase.items():
            if len(k) == 1:
                out.setdefault(stem(k[0]), v)
        return out


def words(text: str) -> list[str]:
    """Lower-case words; hyphens, punctuation and spaces all separate."""
    return _WORD.findall(text.lower())


@lru_cache(maxsize=1)
def synonyms() -> Synonyms:
    data = tomllib.loads(SYNONYMS_FILE.read_text())
    return Synonyms({tuple(words(k)): tuple(v) for k, v in data["synonyms"].items()})


@lru_cache(maxsize=1)
def _stemmer() -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=8192)
def stem(word: str) -> str:
    return str(_stemmer().stemWord(word))


@lru_cache(maxsize=4096)
def inflections(word: str) -> tuple[str, ...]:
    """The word and its plural/singular and -ed/-ing forms that have the same stem (candidates from English
    spelling rules, kept only when the Snowball stemmer agrees)."""
    if len(word) < 3 or word.isdigit():
        return (word,)
    candidates = [word]
    if word.endswith("ies"):
        candidates.append(word[:-3] + "y")
    if word.endswith("es"):
        candidates.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss"):
        candidates.append(word[:-1])
    if word.endswith("y") and word[-2] not in _VOWELS:
        candidates.append(word[:-1] + "ies")
    if word.endswith(("s", "x", "z", "ch", "sh", "o")):
        candidates.append(word + "es")
    if not word.endswith("s"):
        candidates.append(word + "s")
    if word.endswith("ed"):
        candidates += [word[:-2], word[:-1]]
    elif word.endswith("ing"):
        candidates += [word[:-3], word[:-3] + "e"]
    else:
        base = word[:-1] if word.endswith("e") else word
        doubled = base + base[-1] if len(base) > 2 and base[-1] not in _VOWELS and base[-2] in _VOWELS else base
        candidates += [base + "ed", base + "ing", doubled + "ed", doubled + "ing"]
    root = stem(word)
    return tuple(dict.fromkeys(c for c in candidates if c and stem(c) == root))


def groups(query: str) -> list[Group]:
    """The query's groups, in order; phrases of the synonym list win over their words."""
    syn = synonyms()
    tokens = words(query)
    out: list[Group] = []
    i = 0
    while i < len(tokens):
        for n in range(min(syn.longest, len(tokens) - i), 0, -1):
            key = tuple(tokens[i : i + n])
            alternatives = syn.by_phrase.get(key)
            if alternatives is None and n == 1:
                # A plural or inflected form of a listed word ("veggies", "noodles") uses the word's synonyms.
                alternatives = syn.by_stem.get(stem(key[0]))
            if alternatives is not None:
                phrases = tuple(a for a in alternatives if not a.startswith("tag:"))
                tags = tuple(a.removeprefix("tag:") for a in alternatives if a.startswith("tag:"))
                forms = inflections(key[0]) if n == 1 else (" ".join(key),)
                out.append(Group(" ".join(key), forms, phrases, tags))
                i += n
                break
        else:
            word = tokens[i]
            if word not in STOP_WORDS:
                out.append(Group(word, inflections(word)))
            i += 1
    return out
