"""integrity-worker's command line: what it takes, and how it refuses bad settings."""

from __future__ import annotations

from click.testing import CliRunner

from service.cli.worker import main


def test_the_worker_documents_its_options() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for option in ("--database-url", "--keys-file", "--concurrency", "--until-idle"):
        assert option in result.output
    # For tests only, so not offered to operators.
    assert "--test-clock-start" not in result.output


def test_bad_settings_are_each_named_and_exit_2() -> None:
    result = CliRunner().invoke(
        main,
        ["--concurrency", "0", "--database-url", "mysql://x"],
        env={"INTEGRITY_KEYS_FILE": ""},
    )
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert all(line.startswith("integrity-worker: ") for line in lines)
    assert any("INTEGRITY_BATCH_CONCURRENCY" in line for line in lines)
    assert any("INTEGRITY_DATABASE_URL" in line for line in lines)
    assert any("no PII keys" in line for line in lines)
