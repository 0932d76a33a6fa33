"""The re-verification benchmark's own code path on a small batch: every item done, the
simulator counting no limit violation, with one worker process and with two."""

from __future__ import annotations

from pathlib import Path

from bench.reverification.run import benchmark


async def test_a_small_benchmark_run_finishes_every_item_within_the_limits(
    tmp_path: Path,
) -> None:
    lines: list[str] = []
    results = await benchmark(60, [1, 2], tmp_path, echo=lines.append)
    assert [r.workers for r in results] == [1, 2]
    for result in results:
        assert result.done == result.items == 60
        assert result.violations == 0
        assert 0 < result.served <= 60  # at most one question per enterprise
        # Every answer waited out its drawn latency (20-80 ms) in flight.
        assert result.mean_served_ms >= 20
    assert lines[0].startswith("seeded 60 verifications")
