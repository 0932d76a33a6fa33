"""The API contract: protos lint clean, gen/ matches them, every RPC is served and wrapped."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import integrity.v1
import pytest
from google.protobuf.descriptor import FileDescriptor, MethodDescriptor, ServiceDescriptor

import service.api as service_api
from clients import AsyncIntegrityClient, IntegrityClient
from service.api.callers import METHOD_SCOPES
from service.bootstrap import SERVICE_NAMES

ROOT = Path(__file__).resolve().parent.parent
BUF = ROOT / "node_modules" / ".bin" / "buf"
CODEGEN = ROOT / "scripts" / "codegen.py"
GENERATED = ROOT / "gen" / "integrity"


def _load_codegen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("codegen", CODEGEN)
    assert spec is not None and spec.loader is not None, f"cannot load {CODEGEN}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_protos_pass_buf_lint() -> None:
    assert BUF.exists(), f"{BUF} is missing: run `make bootstrap` to install the pinned buf"
    # The workspace's second module (google/api, google/type) is filled, not committed.
    _load_codegen().copy_dependencies()
    result = subprocess.run(
        [str(BUF), "lint", "--path", "protos/integrity"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, (
        f"buf lint failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
    )


def _generated_files(root: Path) -> dict[Path, bytes]:
    return {
        path.relative_to(root): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_generated_code_matches_protos(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(CODEGEN), "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"codegen failed:\n{result.stdout}{result.stderr}"
    committed = _generated_files(GENERATED)
    fresh = _generated_files(tmp_path / "integrity")
    advice = "gen/ is stale: run `make codegen` and commit the result"
    assert committed.keys() == fresh.keys(), (
        f"{advice}; only in gen/: {sorted(map(str, committed.keys() - fresh.keys()))}, "
        f"missing from gen/: {sorted(map(str, fresh.keys() - committed.keys()))}"
    )
    differing = sorted(str(path) for path in committed if committed[path] != fresh[path])
    assert not differing, f"{advice}; these files differ: {differing}"


def _proto_modules() -> list[ModuleType]:
    return [
        importlib.import_module(f"{integrity.v1.__name__}.{info.name}")
        for info in pkgutil.iter_modules(integrity.v1.__path__)
        if info.name.endswith("_pb2")
    ]


Rpc = tuple[ModuleType, ServiceDescriptor, MethodDescriptor]


def _rpcs() -> list[Rpc]:
    rpcs: list[Rpc] = []
    for module in _proto_modules():
        file: FileDescriptor = module.DESCRIPTOR
        for service in file.services_by_name.values():
            rpcs.extend((module, service, method) for method in service.methods)
    return rpcs


RPCS = _rpcs()


def _snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _servicer_modules() -> list[ModuleType]:
    return [
        importlib.import_module(f"{service_api.__name__}.{info.name}")
        for info in pkgutil.iter_modules(service_api.__path__)
        if info.name.endswith("_servicer")
    ]


def _generated_servicer(module: ModuleType, service: ServiceDescriptor) -> type:
    grpc_module = importlib.import_module(f"{module.__name__}_grpc")
    base: type = getattr(grpc_module, f"{service.name}Servicer")
    return base


def test_rpcs_are_found() -> None:
    assert RPCS, f"no RPCs found in any {integrity.v1.__name__}.*_pb2 module"


def test_snake_case() -> None:
    assert _snake_case("CreateVerification") == "create_verification"
    assert _snake_case("GetHTTPStatus") == "get_http_status"


@pytest.mark.parametrize(
    ("module", "service", "method"),
    RPCS,
    ids=[f"{service.name}.{method.name}" for _, service, method in RPCS],
)
def test_rpc_is_served_and_wrapped(
    module: ModuleType, service: ServiceDescriptor, method: MethodDescriptor
) -> None:
    rpc = f"{service.full_name}/{method.name}"
    assert service.full_name in SERVICE_NAMES, (
        f"{service.full_name} is not in service.bootstrap.SERVICE_NAMES"
    )

    base = _generated_servicer(module, service)
    servicers = [
        cls
        for servicer_module in _servicer_modules()
        for _, cls in inspect.getmembers(servicer_module, inspect.isclass)
        if issubclass(cls, base) and cls is not base
    ]
    assert servicers, f"no subclass of {base.__name__} in service.api.*_servicer"
    implementing = [
        cls for cls in servicers if getattr(cls, method.name) is not getattr(base, method.name)
    ]
    assert implementing, (
        f"{rpc} is not implemented: none of {[cls.__name__ for cls in servicers]} "
        f"overrides {method.name}"
    )

    assert f"/{rpc}" in METHOD_SCOPES, (
        f"{rpc} has no scope in service.api.callers.METHOD_SCOPES, so every call is refused"
    )

    client_method = _snake_case(method.name)
    for client in (AsyncIntegrityClient, IntegrityClient):
        assert callable(getattr(client, client_method, None)), (
            f"{rpc} is not wrapped: {client.__name__} has no method {client_method}"
        )
