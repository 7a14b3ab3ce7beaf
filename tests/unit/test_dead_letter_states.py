"""Which dead letters are current (ops/dead_letters.classify): those whose change still holds the view (its source
coordinates among the holds of the sync document) and that are the latest letter of that change."""

from __future__ import annotations

from ops.dead_letters import DeadLetter, classify


def letter(offset: int, source_offset: int | None, failed_at: str = "2026-12-01T10:00:00+00:00") -> DeadLetter:
    headers = {"dlq.failed_at": failed_at, "dlq.error.class": "PoisonEvent"}
    if source_offset is not None:
        headers |= {"dlq.topic": "farmacy.inventory.stock", "dlq.partition": "1", "dlq.offset": str(source_offset)}
    return DeadLetter(partition=0, offset=offset, key=b"k", value=b"{}", headers=headers)


def states(letters: list[DeadLetter], held: set[str]) -> list[tuple[int, bool]]:
    return [(s.letter.offset, s.current) for s in classify(letters, held)]


def test_a_letter_is_current_while_its_change_holds_the_view() -> None:
    held = {"farmacy.inventory.stock[1]@7"}
    assert states([letter(0, 7), letter(1, 8)], held) == [(0, True), (1, False)]


def test_a_letter_is_resolved_once_nothing_is_held() -> None:
    assert states([letter(0, 7), letter(1, 8)], set()) == [(0, False), (1, False)]


def test_a_change_dead_lettered_again_leaves_only_its_latest_letter_current() -> None:
    """A re-drive that failed again writes a new letter of the same change: the older one is resolved."""
    letters = [
        letter(0, 7, "2026-12-01T10:00:00+00:00"),
        letter(1, 7, "2026-12-01T10:05:00+00:00"),
        letter(2, 9, "2026-12-01T10:06:00+00:00"),
    ]
    held = {"farmacy.inventory.stock[1]@7", "farmacy.inventory.stock[1]@9"}
    assert states(letters, held) == [(0, False), (1, True), (2, True)]


def test_a_record_without_a_source_is_never_current() -> None:
    assert letter(0, None).origin is None
    assert states([letter(0, None)], {"farmacy.inventory.stock[1]@7"}) == [(0, False)]
