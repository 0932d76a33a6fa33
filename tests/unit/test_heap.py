"""The long-running processes freeze what start-up left before their steady work."""

from __future__ import annotations

import gc

from service.cli import heap


def test_settling_freezes_the_objects_start_up_left() -> None:
    # Another test in this process may have run a command that settled already.
    before = gc.get_freeze_count()
    left_by_start_up = [[n] for n in range(1000)]  # tracked by the collector, as lists are
    gc.collect()
    try:
        heap.settle_after_start()
        assert gc.get_freeze_count() >= before + len(left_by_start_up)
        # Collected first: nothing left for the youngest generation to look at.
        assert gc.get_count()[0] < 100
    finally:
        gc.unfreeze()
