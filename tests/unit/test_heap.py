"""The long-running processes freeze what start-up left before their steady work."""

from __future__ import annotations

import gc

from service.cli import heap


def test_settling_freezes_the_objects_start_up_left() -> None:
    # Another test in this process may have run a command that settled already.
    before = gc.get_freeze_count()
    left_by_start_up = [[n] for n in range(1000)]  # tracked by the collector, as lists are
    gc.collect()
    threshold = gc.get_threshold()
    try:
        heap.settle_after_start()
        assert gc.get_freeze_count() >= before + len(left_by_start_up)
        # Collected first: nothing left for the youngest generation to look at.
        assert gc.get_count()[0] < 100
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def test_settling_collects_the_youngest_generation_less_often() -> None:
    """A unit of work's few thousand short-lived objects die before a collection finds
    them, rather than surviving into the older generations."""
    threshold = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython's own
    try:
        heap.settle_after_start()
        assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, 10, 10)
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()
