"""Where claims of queued batch items resume: above the highest id claimed, below it again
for items put back here at once, and for others at most once a rescan interval."""

from __future__ import annotations

from service.adapters.storage.queue_cursors import QueueCursors


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_claims_resume_above_the_highest_id_claimed_per_batch() -> None:
    cursors = QueueCursors()
    assert cursors.after("a") == 0
    cursors.claimed("a", [3, 9, 4])
    cursors.claimed("a", [])
    cursors.claimed("b", [20])
    assert (cursors.after("a"), cursors.after("b")) == (9, 20)
    cursors.claimed("a", [5])  # found below: the cursor does not move back
    assert cursors.after("a") == 9


def test_nothing_to_look_below_before_the_first_claim() -> None:
    assert not QueueCursors().may_look_below("a")


def test_items_put_back_here_are_found_by_the_next_claim() -> None:
    ticks = Ticks()
    cursors = QueueCursors(rescan_seconds=1.0, monotonic=ticks)
    cursors.claimed("a", [10])
    cursors.looked_below("a", found=0)
    assert not cursors.may_look_below("a")
    cursors.put_back("a", [7, 4])
    assert cursors.after("a") == 3
    cursors.put_back("a", [12])  # above the cursor already
    assert cursors.after("a") == 3


def test_looking_below_is_held_back_after_it_found_nothing() -> None:
    ticks = Ticks()
    cursors = QueueCursors(rescan_seconds=1.0, monotonic=ticks)
    cursors.claimed("a", [10])
    assert cursors.may_look_below("a")
    cursors.looked_below("a", found=2)
    assert cursors.may_look_below("a")
    cursors.looked_below("a", found=0)
    ticks.now += 0.999
    assert not cursors.may_look_below("a")
    assert cursors.may_look_below("b") is False  # never claimed from
    ticks.now += 0.001
    assert cursors.may_look_below("a")
