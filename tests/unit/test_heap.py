"""The long-running processes freeze what start-up left before their steady work."""

from __future__ import annotations

import gc

from service.cli import heap


def test_settling_freezes_the_objects_start_up_left() -> None:
    assert gc.get_freeze_count() == 0
    try:
        heap.settle_after_start()
        assert gc.get_freeze_count() > 0
        # Frozen objects are left out of collections from then on.
        assert gc.get_count()[0] < 100
    finally:
        gc.unfreeze()
