"""The Dockerfile builds from files that exist and runs a declared console script as non-root.

No Docker engine is needed: the Dockerfile is read as text.
"""

from __future__ import annotations

import fnmatch
import json
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def _instructions(text: str) -> list[Instruction]:
    """Instructions with line continuations joined and comment lines dropped."""
    instructions = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, f"Dockerfile ends inside a continued instruction: {pending!r}"
    return instructions


def _stages() -> list[list[Instruction]]:
    stages: list[list[Instruction]] = []
    for instruction in _instructions(DOCKERFILE.read_text()):
        if instruction.keyword == "FROM":
            stages.append([])
        assert stages, f"{instruction.keyword} comes before the first FROM"
        stages[-1].append(instruction)
    return stages


def _words(arguments: str) -> list[str]:
    """The arguments of the exec form (a JSON array) or the shell form."""
    if arguments.startswith("["):
        words: list[str] = json.loads(arguments)
        return words
    return shlex.split(arguments)


def _context_sources() -> list[str]:
    """Sources of every COPY/ADD that reads the build context, not another stage."""
    sources = []
    for stage in _stages():
        for instruction in stage:
            if instruction.keyword not in ("COPY", "ADD"):
                continue
            words = _words(instruction.arguments)
            flags = [word for word in words if word.startswith("--")]
            if any(flag.startswith("--from=") for flag in flags):
                continue
            *copied, _destination = [word for word in words if not word.startswith("--")]
            sources.extend(copied)
    return sources


def test_build_and_runtime_are_separate_stages() -> None:
    assert len(_stages()) >= 2, "the Dockerfile needs a build stage and a runtime stage (>= 2 FROM)"


def test_runtime_stage_runs_as_non_root() -> None:
    users = [i.arguments for i in _stages()[-1] if i.keyword == "USER"]
    assert users, "the final stage has no USER, so the server would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), f"the final stage runs as {users[-1]!r}, which is root"


def test_copied_sources_exist() -> None:
    sources = _context_sources()
    assert sources, "no COPY from the build context found"
    missing = [source for source in sources if not (ROOT / source).exists()]
    assert not missing, f"COPY sources missing from the repository: {missing}"


def test_copied_sources_are_not_dockerignored() -> None:
    # Top-level patterns only, which is all .dockerignore uses here.
    patterns = [
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith(("#", "!"))
    ]
    ignored = [
        (source, pattern)
        for source in _context_sources()
        for pattern in patterns
        if fnmatch.fnmatch(source.rstrip("/"), pattern)
    ]
    assert not ignored, f"COPY sources excluded by .dockerignore (source, pattern): {ignored}"


def test_every_console_scripts_package_is_copied_into_the_build() -> None:
    # A package left out of the build context installs as nothing: its console script
    # would be in the image and fail on its first import.
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    packages = {target.split(":")[0].split(".")[0] for target in scripts.values()}
    copied = {source.rstrip("/").split("/")[0] for source in _context_sources()}
    assert packages <= copied, f"packages of console scripts not copied: {packages - copied}"


def test_entrypoint_is_a_declared_console_script() -> None:
    final = _stages()[-1]
    commands = [i for i in final if i.keyword == "ENTRYPOINT"] or [
        i for i in final if i.keyword == "CMD"
    ]
    assert commands, "the final stage has neither ENTRYPOINT nor CMD"
    program = _words(commands[-1].arguments)[0]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert program in scripts, (
        f"the image runs {program!r}, which is not a console script in pyproject.toml "
        f"[project.scripts] ({sorted(scripts)})"
    )


def test_readme_exists() -> None:
    assert (ROOT / "README.md").is_file(), (
        "README.md is missing, but the Dockerfile copies it into the build stage"
    )


def _runtime_environment() -> dict[str, str]:
    environment: dict[str, str] = {}
    for instruction in _stages()[-1]:
        if instruction.keyword == "ENV":
            for word in shlex.split(instruction.arguments):
                name, _, value = word.partition("=")
                environment[name] = value
    return environment


def test_the_image_serves_tls_and_refuses_plain_text(tmp_path: Path) -> None:
    """The image listens beyond loopback: its settings must pass the server's own rule
    (TLS, or plain text only where a setting allows it), with the files it names."""
    from service.settings import ConfigError, PiiKeys, Settings
    from tests.certificates import CertificateAuthority

    environment = _runtime_environment()
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(PiiKeys.generate().to_json()))
    (tmp_path / "var").mkdir()
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    CertificateAuthority.create("test CA").issue_server(1).write(cert, key)
    mounted = {
        environment["INTEGRITY_TLS_CERT_FILE"]: str(cert),
        environment["INTEGRITY_TLS_KEY_FILE"]: str(key),
    }
    settings = {
        **{name: mounted.get(value, value) for name, value in environment.items()},
        "INTEGRITY_KEYS_FILE": str(keys),
        "INTEGRITY_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'integrity.db'}",
    }
    loaded = Settings.load(settings, serving=True)
    assert loaded.listen_address.startswith("0.0.0.0:")
    assert loaded.tls_files is not None
    # Without the certificate mounted the container stops at start-up, naming the setting.
    try:
        Settings.load(
            {**settings, "INTEGRITY_TLS_CERT_FILE": str(tmp_path / "absent.crt")}, serving=True
        )
    except ConfigError as refused:
        assert "INTEGRITY_TLS_CERT_FILE" in str(refused)
    else:
        raise AssertionError("an image without its certificate must not start")
    healthcheck = next(i for i in _stages()[-1] if i.keyword == "HEALTHCHECK")
    assert "insecure_channel" not in healthcheck.arguments
