"""The provider as Terraform runs it: a process that prints the go-plugin handshake line, serves
tfplugin6 over TLS on a unix socket, and exits when the controller's Shutdown arrives.

Terraform starts it three times a plan and waits for each exit, so what a start loads and how it
ends matter; speed itself is measured in ``bench/terraform_plan.py``, not asserted here.
"""

from __future__ import annotations

import base64
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import grpc
import pytest

from reconciler.provider.main import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def short_tmp():
    """A short temporary directory for the socket (a unix socket path has at most 107 characters)."""
    path = tempfile.mkdtemp(prefix="tfp-", dir="/tmp")
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


def _start(socket_dir: Path, **env: str) -> tuple[subprocess.Popen, str, bytes]:
    environ = {**os.environ, MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE, "PLUGIN_PROTOCOL_VERSIONS": "6",
               "TMPDIR": str(socket_dir), **env}
    environ.pop("POOLFORM_PROVIDER_VERSION", None)
    proc = subprocess.Popen([sys.executable, "-m", "reconciler.provider.main"], env=environ, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if not line:
        proc.kill()
        pytest.fail(f"no handshake line: {proc.communicate(timeout=30)[1].decode()}")
    core, version, network, address, protocol, cert = line.strip().split("|")
    assert (core, version, network, protocol) == ("1", "6", "unix", "grpc"), line
    der = base64.b64decode(cert + "=" * (-len(cert) % 4))
    pem = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n"
    return proc, address, pem


def _channel(address: str, pem: bytes) -> grpc.Channel:
    credentials = grpc.ssl_channel_credentials(root_certificates=pem)
    return grpc.secure_channel(f"unix:{address}", credentials,
                               options=[("grpc.ssl_target_name_override", "localhost")])


def _shut_down(proc: subprocess.Popen, channel: grpc.Channel) -> None:
    """The controller's Shutdown, as Terraform sends it; the process must then exit 0."""
    from tf.gen import grpc_controller_pb2 as controller_pb
    from tf.gen import grpc_controller_pb2_grpc as controller_rpc

    controller_rpc.GRPCControllerStub(channel).Shutdown(controller_pb.Empty(), timeout=60)
    assert proc.wait(timeout=60) == 0


def _reap(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate(timeout=30)


def test_serves_over_tls_then_exits_on_shutdown_and_removes_its_socket(short_tmp):
    """GetMetadata and GetProviderSchema answer over the TLS channel the handshake line announces; both
    say the schema call is optional (Terraform then serves the plan's second and third starts from its
    cache); Shutdown ends the process with status 0 and its private socket directory is gone."""
    from tf.gen import tfplugin_pb2 as pb
    from tf.gen import tfplugin_pb2_grpc as rpc

    proc, address, pem = _start(short_tmp)
    try:
        assert oct(os.stat(os.path.dirname(address)).st_mode & 0o777) == "0o700"
        with _channel(address, pem) as channel:
            provider = rpc.ProviderStub(channel)
            metadata = provider.GetMetadata(pb.GetMetadata.Request(), timeout=60)
            assert metadata.server_capabilities.get_provider_schema_optional
            assert {r.type_name for r in metadata.resources} == {"prefect_work_pool", "prefect_work_queue"}
            schema = provider.GetProviderSchema(pb.GetProviderSchema.Request(), timeout=60)
            assert schema.server_capabilities.get_provider_schema_optional
            assert set(schema.resource_schemas) == {"prefect_work_pool", "prefect_work_queue"}
            _shut_down(proc, channel)
    finally:
        _reap(proc)
    assert not os.path.exists(os.path.dirname(address))


def test_profile_variable_writes_a_cprofile_of_every_thread(tmp_path, short_tmp):
    """POOLFORM_PROVIDER_PROFILE=DIR: at exit, DIR/provider-<pid>.pstats holds the start (main thread)
    and the RPCs (gRPC's worker threads); a directory that cannot be written is said on stderr, and the
    provider still exits cleanly."""
    from tf.gen import grpc_controller_pb2 as controller_pb
    from tf.gen import grpc_controller_pb2_grpc as controller_rpc
    from tf.gen import tfplugin_pb2 as pb
    from tf.gen import tfplugin_pb2_grpc as rpc

    out = tmp_path / "profiles"
    out.mkdir()
    for directory in (out, tmp_path / "missing"):
        proc, address, pem = _start(short_tmp, POOLFORM_PROVIDER_PROFILE=str(directory))
        with _channel(address, pem) as channel:
            rpc.ProviderStub(channel).GetMetadata(pb.GetMetadata.Request(), timeout=60)
            controller_rpc.GRPCControllerStub(channel).Shutdown(controller_pb.Empty(), timeout=60)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr.decode()
        if directory == out:
            [written] = list(out.iterdir())
            assert written.name == f"provider-{proc.pid}.pstats"
            functions = {name for _, _, name in pstats.Stats(str(written)).stats}  # type: ignore[attr-defined]
            assert {"serve", "GetMetadata"} <= functions
        else:
            assert "POOLFORM_PROVIDER_PROFILE: cannot write" in stderr.decode()


def test_lean_imports_keep_httpx_command_line_client_out():
    """The provider's client imports httpx without httpx's CLI (click, rich, pygments), and httpx works."""
    code = textwrap.dedent("""
        import sys
        from reconciler.provider.main import lean_imports
        lean_imports()
        import httpx
        import reconciler.api.client
        transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"ok": True}))
        assert httpx.Client(transport=transport).get("http://x/").json() == {"ok": True}
        print(sorted(m for m in ("click", "rich", "pygments") if sys.modules.get(m) is not None))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("kept, expected", [(False, "['httpx', 'jsonschema'] True"), (True, "['httpx'] True")])
def test_configure_warms_up_the_client_and_the_template_validator(tmp_path, kept, expected):
    """ConfigureProvider (a plan's or an apply's start, never the schema or validate start) loads the
    HTTP client in the background, and jsonschema unless template checks are kept between starts
    (``checkcache``: the validation start has checked the templates), so the reads and pool plans
    that follow do not wait for those imports; a configuration with errors starts nothing."""
    code = textwrap.dedent("""
        import sys, threading
        from tf.gen import tfplugin_pb2 as pb
        from reconciler.provider import codec, schema
        from reconciler.provider.servicer import ProviderServicer

        def configure(endpoint):
            servicer = ProviderServicer()
            config = {n: None for n in schema.PROVIDER.names} | {"endpoint": endpoint}
            request = pb.ConfigureProvider.Request(config=pb.DynamicValue(msgpack=codec.encode(config)))
            response = servicer.ConfigureProvider(request, None)
            for thread in threading.enumerate():
                if thread.name == "warm-up":
                    thread.join(60)
            return servicer, response

        servicer, response = configure("ftp://nowhere")
        assert response.diagnostics, "an invalid endpoint is an error"
        print(sorted(m for m in ("httpx", "jsonschema") if m in sys.modules))
        servicer, response = configure("http://127.0.0.1:9/api")
        assert not response.diagnostics, response.diagnostics
        print(sorted(m for m in ("httpx", "jsonschema") if m in sys.modules), servicer.state._client is not None)
    """)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    env.pop("POOLFORM_PROVIDER_CACHE", None)
    if kept:
        (tmp_path / "poolform" / "template-checks").mkdir(parents=True, mode=0o700)
    else:
        env["POOLFORM_PROVIDER_CACHE"] = "off"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["[]", expected]


def test_a_tmpdir_too_deep_for_a_unix_socket_falls_back_to_tmp(tmp_path):
    """pytest's and CI's temporary directories can be deeper than a unix socket address allows
    (~107 bytes): the provider then makes its private directory in /tmp instead of dying in gRPC's
    bind with a traceback."""
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    proc, address, pem = _start(deep)
    try:
        assert address.startswith("/tmp/tfprefect-") and len(address.encode()) <= 103, address
        with _channel(address, pem) as channel:
            _shut_down(proc, channel)
    finally:
        _reap(proc)
    assert not os.path.exists(os.path.dirname(address))


def test_a_tmpdir_too_deep_without_a_usable_tmp_is_a_clear_error(monkeypatch):
    from reconciler.provider import server

    monkeypatch.setenv("TMPDIR", "/" + "x" * 200)
    monkeypatch.setattr(server.os, "access", lambda path, mode: False)
    with pytest.raises(OSError, match="TMPDIR=.* is too long for the provider's unix socket .*set TMPDIR"):
        server._private_directory()
