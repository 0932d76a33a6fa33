"""`python -m bench.eligibility [options]`: see bench/README.md."""

from __future__ import annotations

import sys

from bench.eligibility.ops_setup import SetupFailed
from bench.eligibility.options import parse
from bench.eligibility.postgres import PostgresUnavailable
from bench.eligibility.processes import ProcessFailed
from bench.eligibility.run import main
from bench.eligibility.sampling import SampleFailed


def entry() -> None:
    options = parse()
    try:
        sys.exit(main(options))
    except SetupFailed as error:
        sys.exit(f"setup failed: {error}")
    except PostgresUnavailable as error:
        sys.exit(f"PostgreSQL: {error}")
    except ProcessFailed as error:
        sys.exit(f"a server did not start: {error}")
    except SampleFailed as error:
        sys.exit(
            "B does not answer CheckEligibility with a decision, so there is nothing to "
            f"measure: {error}"
        )


if __name__ == "__main__":
    entry()
