"""The two request variants: what h2load sends, and what the answers must weigh.

hot:    one USCC in every request, the enterprise chosen in setup (in business, licence
        valid): after the first call, whatever the service or the database caches is warm.
spread: the USCC is rewritten in the body file every ~200 us (rotator.py), walking the
        shuffled registry, so nearly every request asks about another enterprise: the
        working set is the whole registry.

The expected answer size is measured, not assumed: the service is asked first with the
real client (the hot USCC 27 times over a second; 1,000 random USCCs for spread), and the
baseline is given a response of the mean size, so both send the same bytes (see
expectation.py for the check).
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.eligibility import h2load, messages, rotator
from bench.eligibility.expectation import AnswerSizes
from bench.eligibility.measure import Load, Rotation
from bench.eligibility.options import Options
from bench.eligibility.processes import pinned
from bench.eligibility.rotation_probe import ProbeResult, probe_rotation
from bench.eligibility.sampling import sample_answers
from bench.eligibility.subjects import Subject

SIZING_SAMPLES = 1000
HOT_SIZING_SAMPLES = 27
DESCRIPTIONS = {
    "hot": "one USCC in every request (the cached path, if the service caches)",
    "spread": "the USCC rewritten in the body every ~200 us, walking the whole registry",
}


class RotationUnusable(RuntimeError):
    pass


@dataclass(frozen=True)
class VariantSetup:
    load: Load
    baseline_response: bytes
    baseline_sizes: AnswerSizes
    service_sizes: AnswerSizes
    bytes_floor: float
    notes: tuple[str, ...]


def prepare_variant(
    options: Options,
    variant: str,
    subject: Subject,
    service_port: int,
    h2load_path: str,
    cores: tuple[str | None, str | None],
    log_dir: Path,
    work_dir: Path,
    say: Callable[[str], None],
) -> VariantSetup:
    server_cores, load_cores = cores
    rng = random.Random(variant)
    if variant == "hot":
        # Spread over a second: the answer's decide_time takes 4 or 5 bytes depending on
        # its nanoseconds, and calls made in a row all land in the same part of a second.
        sizing = [subject.hot_uscc] * HOT_SIZING_SAMPLES
        answers = sample_answers(service_port, subject.token, sizing, pause=0.037)
    else:
        sizing = rng.sample(subject.pool, min(SIZING_SAMPLES, len(subject.pool)))
        answers = sample_answers(service_port, subject.token, sizing)
    sizes = [answer.ByteSize() for answer in answers]
    mean_size = statistics.fmean(sizes)
    spread = statistics.pstdev(sizes)
    size = round(mean_size)
    template = messages.closest_template(answers, size)
    baseline_response = messages.response_of_size(template, size).SerializeToString()
    notes = [
        f"{len(sizes)} sampled answers: {min(sizes)}-{max(sizes)} bytes, mean {mean_size:.1f}, "
        f"sd {spread:.1f}; the baseline answers {size} bytes (+5 prefix on the wire)"
    ]
    say(f"   {notes[0]}")

    first = subject.hot_uscc if variant == "hot" else subject.pool[0]
    body = messages.grpc_frame(messages.request_message(first))
    body_file = work_dir / f"body-{variant}.bin"
    body_file.write_bytes(body)
    headers = (
        "content-type: application/grpc",
        "te: trailers",
        f"authorization: Bearer {subject.token}",
    )
    rotation: Rotation | None = None
    if variant == "spread":
        rotation = _spread_rotation(options, subject, body, first, body_file, load_cores)
        probe_body = work_dir / "body-probe.bin"
        probe_body.write_bytes(body)
        probe_walk = _spread_rotation(options, subject, body, first, probe_body, load_cores)

        def probe_shape(shape: h2load.LoadShape) -> ProbeResult:
            return probe_rotation(
                lambda port: h2load.H2loadRun(
                    h2load_path, port, probe_body, headers, shape, 1.5, load_cores
                ),
                probe_walk.command(0),
                frozenset(subject.pool),
                baseline_response,
                server_cores,
                log_dir,
                options.cpu_policy,
            )

        def repeats(shape: h2load.LoadShape) -> float:
            result = probe_shape(shape)
            say(f"   {result.describe()} ({shape.describe()})")
            return result.requests_per_uscc

        shape = h2load.LoadShape(options.connections, options.streams)
        probe = probe_shape(shape)
        say(f"   {probe.describe()}")
        if not probe.ok:
            raise RotationUnusable(f"{probe.describe()}: {probe.why_not()}")
        assert rotation is not None
        rotation.probe = repeats
        rotation.requests_per_uscc[shape.describe()] = probe.requests_per_uscc
        notes.append(probe.describe() + " (at no-op speed, full load)")
        notes.append(
            f"the walk through the {len(subject.pool):,} USCCs starts at {rotation.position:,}"
        )

    load = Load(
        h2load=h2load_path,
        body=body_file,
        headers=headers,
        cores=load_cores,
        token=subject.token,
        sample_usccs=(subject.hot_uscc,) if variant == "hot" else subject.pool,
        rotation=rotation,
        work_dir=log_dir,
        keep_request_logs=options.keep_request_logs,
        database_command=subject.database_command,
    )
    return VariantSetup(
        load=load,
        baseline_response=baseline_response,
        baseline_sizes=AnswerSizes(size, 0.0, len(sizes)),
        service_sizes=AnswerSizes(mean_size, spread, len(sizes)),
        bytes_floor=(
            options.bytes_tolerance if variant == "hot" else options.spread_bytes_tolerance
        ),
        notes=tuple(notes),
    )


def _spread_rotation(
    options: Options,
    subject: Subject,
    body: bytes,
    first: str,
    body_file: Path,
    load_cores: str | None,
) -> Rotation:
    offset = messages.uscc_offset(body, first)
    longest = 3 * (options.warmup + options.duration) + 120

    def command(start: int) -> tuple[str, ...]:
        walk = rotator.command(
            body_file, offset, subject.pool_file, start, options.rotate_interval_us, longest
        )
        return tuple(pinned(walk, load_cores))

    # Each run starts its walk somewhere else: no cache kept from an earlier run helps.
    return Rotation(command, offset, random.randrange(len(subject.pool)))
