"""Generate the Python code and type stubs for protos/ into gen/.

Also fills build/proto-deps with the google/api and google/type files that
googleapis-common-protos ships, so `buf lint` resolves imports without a
registry. Run with --out DIR to generate elsewhere (the staleness test does).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
DEPS = ROOT / "build" / "proto-deps"
GOOGLE_DEPS = (
    "google/api/field_behavior.proto",
    "google/api/resource.proto",
    "google/type/date.proto",
)


def _googleapis_root() -> Path:
    import google.api.field_behavior_pb2 as marker

    return Path(marker.__file__).resolve().parent.parent.parent


def _tool(name: str) -> Path:
    # The mypy-protobuf plugins sit beside the interpreter, which may not be on PATH.
    return Path(sys.executable).parent / name


def copy_dependencies(target: Path = DEPS) -> Path:
    source = _googleapis_root()
    for relative in GOOGLE_DEPS:
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / relative, destination)
    return target


def generate(out: Path) -> None:
    deps = copy_dependencies()
    well_known = resources.files("grpc_tools") / "_proto"
    sources = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    out.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{PROTOS}",
        f"-I{deps}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--plugin=protoc-gen-mypy={_tool('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={_tool('protoc-gen-mypy_grpc')}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        *sources,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for package in {Path(s).parent for s in sources}:
        for level in [package, *package.parents]:
            if str(level) != ".":
                (out / level / "__init__.py").touch()
    (out / "integrity" / "py.typed").touch()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "gen")
    args = parser.parse_args()
    if args.out == ROOT / "gen":
        shutil.rmtree(args.out / "integrity", ignore_errors=True)
    generate(args.out)


if __name__ == "__main__":
    sys.exit(main())
