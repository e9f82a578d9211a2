"""Pure parts of the provider: wire codec, planning rules, schema file, launcher and install."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import msgpack
import pytest
from click.testing import CliRunner

from reconciler.provider import codec, schema
from reconciler.provider.codec import UNKNOWN, Diags, ProviderError
from reconciler.provider.config import ProviderState, endpoint_api_url
from reconciler.provider.resources import WorkPool, WorkQueue

# -- codec ------------------------------------------------------------------------------

REFINED_PAYLOAD = msgpack.packb({1: True, 2: "prefix-"})  # "not null", string prefix refinements


@pytest.mark.parametrize(
    "raw, expected",
    [
        (msgpack.packb(None), None),
        (msgpack.packb({"a": 1, "b": "x"}), {"a": 1, "b": "x"}),
        (b"\xd4\x00\x00", UNKNOWN),
        (msgpack.packb(msgpack.ExtType(12, REFINED_PAYLOAD)), UNKNOWN),
        (msgpack.packb({"t": msgpack.ExtType(12, REFINED_PAYLOAD), "n": 3}), {"t": UNKNOWN, "n": 3}),
    ],
    ids=["null", "object", "unknown-ext0", "refined-unknown-ext12", "refined-inside-object"],
)
def test_decode(raw, expected):
    assert codec.decode(raw) == expected


def test_unknown_round_trips_as_extension_zero():
    assert codec.encode(UNKNOWN) == b"\xd4\x00\x00"
    assert codec.decode(codec.encode({"x": UNKNOWN, "y": None})) == {"x": UNKNOWN, "y": None}


def test_other_extension_types_are_refused():
    with pytest.raises(ValueError, match="extension type 5"):
        codec.decode(msgpack.packb(msgpack.ExtType(5, b"\x00")))


# -- planning rules (no server needed) ----------------------------------------------------

T1 = json.dumps({"job_configuration": {"c": "{{ c }}"}, "variables": {"properties": {"c": {}}}})
T1_REFORMATTED = json.dumps({"variables": {"properties": {"c": {}}}, "job_configuration": {"c": "{{ c }}"}}, indent=3)
T2 = json.dumps({"job_configuration": {"c": "{{ c }}", "d": 1}, "variables": {"properties": {"c": {}}}})

POOL_PRIOR = {"id": "i", "created": "c", "updated": "u", "account_id": None, "workspace_id": None, "name": "p",
              "description": "d", "type": "process", "paused": False, "concurrency_limit": 5,
              "default_queue_id": "q", "base_job_template": T1}


def _config(**over):
    cfg = {k: None for k in schema.WORK_POOL.names}
    cfg.update({"name": "p", "type": "process", "description": "d", "concurrency_limit": 5,
                "base_job_template": T1})
    cfg.update(over)
    return cfg


def _proposed(cfg, prior):
    out = dict(cfg)
    for a in schema.WORK_POOL.attributes:
        if a.computed and (not a.optional or cfg.get(a.name) is None):
            out[a.name] = prior.get(a.name) if prior else None
    return out


@pytest.mark.parametrize(
    "config, expect",
    [
        (_config(), {"base_job_template": T1, "updated": "u", "id": "i"}),
        (_config(base_job_template=T1_REFORMATTED), {"base_job_template": T1, "updated": "u"}),
        (_config(base_job_template=None), {"base_job_template": T1, "updated": "u"}),
        (_config(base_job_template=T2), {"base_job_template": T2, "updated": UNKNOWN, "id": "i", "created": "c"}),
        (_config(base_job_template=UNKNOWN), {"base_job_template": UNKNOWN, "updated": UNKNOWN, "id": "i"}),
        (_config(description=None), {"description": None, "updated": UNKNOWN, "default_queue_id": "q"}),
        (_config(paused=None), {"paused": False, "updated": "u"}),
    ],
    ids=["same", "reformatted-keeps-prior-text", "unmanaged-keeps-server", "changed", "unknown",
         "removed-description-clears", "paused-default"],
)
def test_pool_plan(config, expect):
    planned, replace = WorkPool(ProviderState({})).plan(POOL_PRIOR, _proposed(config, POOL_PRIOR), config, Diags())
    assert replace == []
    assert {k: planned[k] for k in expect} == expect


def test_pool_plan_create_and_replace():
    pool = WorkPool(ProviderState({}))
    cfg = _config(base_job_template=None, type=None)
    planned, _ = pool.plan(None, _proposed(cfg, None), cfg, Diags())
    assert planned["type"] == "prefect-agent"
    assert planned["base_job_template"] is UNKNOWN and planned["id"] is UNKNOWN
    cfg = _config(type="kubernetes")
    planned, replace = pool.plan(POOL_PRIOR, _proposed(cfg, POOL_PRIOR), cfg, Diags())
    assert replace == ["type"]


@pytest.mark.parametrize(
    "import_id, state",
    [("pool,queue", ("pool", "queue")), ("pool,queue,8b0e3a5c-7a42-4b8c-9d7c-1d3f5c9a2b11", ("pool", "queue"))],
    ids=["pool-queue", "with-workspace-id"],
)
def test_queue_import_ids(import_id, state):
    got = WorkQueue(ProviderState({})).import_(import_id, Diags())
    assert (got["work_pool_name"], got["name"]) == state


@pytest.mark.parametrize("import_id", ["pool", "a,b,c", ",q"], ids=["no-comma", "three-parts", "empty-pool"])
def test_queue_import_id_errors(import_id):
    with pytest.raises(ProviderError, match="Invalid import ID"):
        WorkQueue(ProviderState({})).import_(import_id, Diags())


@pytest.mark.parametrize(
    "endpoint, api_url",
    [("http://h:4200", "http://h:4200/api"), ("http://h:4200/api", "http://h:4200/api"),
     ("http://h:4200/api/", "http://h:4200/api"), ("https://h/prefix", "https://h/prefix/api")],
    ids=["bare", "api", "api-slash", "prefix"],
)
def test_endpoint_with_or_without_api(endpoint, api_url):
    assert endpoint_api_url(endpoint) == api_url
    state = ProviderState({})
    state.configure({"endpoint": endpoint}, Diags())
    assert state.api_url == api_url


def test_configure_reads_env_and_attributes_win():
    state = ProviderState({"PREFECT_API_URL": "http://env:1/api", "PREFECT_API_KEY": "k",
                           "PREFECT_BASIC_AUTH_KEY": "u:p"})
    state.configure({}, Diags())
    assert state.api_url == "http://env:1/api"
    assert state._settings.authorization.startswith("Basic ")
    state.configure({"endpoint": "http://attr:2", "api_key": "attr-key"}, Diags())
    assert state.api_url == "http://attr:2/api" and state._settings.api_key == "attr-key"


def test_unknown_provider_config_is_a_clear_error_at_first_use():
    state = ProviderState({})
    state.configure({"endpoint": UNKNOWN}, Diags())
    with pytest.raises(ProviderError, match="not known yet"):
        state.client()


# -- schema file ---------------------------------------------------------------------------


def test_provider_schema_file_is_fresh():
    assert schema.SCHEMA_FILE.read_text() == schema.render_schema_file(), (
        "provider-schema/provider.schema.json is stale: run `python -m reconciler.provider.schema`")


# -- entry point and install ---------------------------------------------------------------


def test_launcher_refuses_to_run_outside_terraform(tmp_path):
    from reconciler.provider.install import install

    exe = install(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("TF_PLUGIN_MAGIC_COOKIE", "POOLFORM_PROVIDER")}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    proc = subprocess.run([str(exe)], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert "not meant to be run directly" in proc.stderr and proc.stdout == ""


def test_install_command_writes_mirror_and_prints_cli_config(tmp_path):
    from reconciler.cli.terraform import terraform
    from reconciler.provider.install import PLATFORMS, launcher_source

    result = CliRunner().invoke(terraform, ["install", "--dir", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    version_dir = tmp_path / "m" / "registry.terraform.io" / "poolform" / "prefect" / "0.1.0"
    for platform in PLATFORMS:
        exe = version_dir / platform / "terraform-provider-prefect_v0.1.0"
        assert os.access(exe, os.X_OK)
        assert exe.read_text() == launcher_source()
    assert f'path    = "{tmp_path / "m"}"' in result.output
    assert 'include = ["registry.terraform.io/poolform/prefect"]' in result.output


def test_install_into_unwritable_dir_is_a_clear_error(tmp_path):
    from reconciler.cli.terraform import terraform

    blocker = tmp_path / "file"
    blocker.write_text("")
    result = CliRunner().invoke(terraform, ["install", "--dir", str(blocker / "sub")])
    assert result.exit_code == 1
    assert "cannot write the provider" in result.output and "Traceback" not in result.output


def test_startup_path_keeps_heavy_libraries_unloaded():
    code = ("import sys; import reconciler.provider.main, reconciler.provider.servicer; "
            "s = reconciler.provider.servicer.ProviderServicer(); "
            "print(sorted(m for m in ('httpx', 'pydantic', 'jsonschema', 'fastapi', 'rich') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# -- coalesced reads -----------------------------------------------------------------------


def test_batch_reader_coalesces_concurrent_reads_and_expires():
    import threading

    from reconciler.provider.reads import BatchReader

    calls: list[list[str]] = []
    now = [0.0]

    def fetch(keys):
        calls.append(sorted(keys))
        return {k: k.upper() for k in keys if k != "missing"}

    reader = BatchReader(fetch, window=0.05, ttl=1.0, clock=lambda: now[0])
    results = {}
    threads = [threading.Thread(target=lambda k=k: results.__setitem__(k, reader.get(k)))
               for k in ("a", "b", "c", "missing")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {"a": "A", "b": "B", "c": "C", "missing": None}
    assert len(calls) < 4 and sorted(k for c in calls for k in c) == ["a", "b", "c", "missing"]
    before = len(calls)
    assert reader.get("a") == "A" and len(calls) == before, "fresh answers are reused"
    now[0] = 5.0
    assert reader.get("a") == "A" and len(calls) == before + 1, "stale answers are fetched again"
    reader.invalidate()
    reader.get("a")
    assert len(calls) == before + 2


def test_batch_reader_hands_a_failed_fetch_to_every_reader():
    from reconciler.provider.reads import BatchReader

    def fetch(keys):
        raise RuntimeError("server down")

    reader = BatchReader(fetch, window=0.0)
    for _ in range(2):
        with pytest.raises(RuntimeError, match="server down"):
            reader.get("a")


# -- plan-time template checks ---------------------------------------------------------------

_UNDECLARED = {"job_configuration": {"image": "{{ image }}"}, "variables": {"type": "object", "properties": {}}}
_BAD_SCHEMA = {"job_configuration": {"n": "{{ n }}"}, "variables": {"type": "object", "properties": {"n": {"type": "nope"}}}}
_BAD_DEFAULT = {"job_configuration": {"n": "{{ n }}"},
                "variables": {"type": "object", "properties": {"n": {"type": "integer", "default": "x"}}}}
_GOOD = {"job_configuration": {"n": "{{ n }}"}, "variables": {"type": "object", "properties": {"n": {"type": "integer"}}}}


@pytest.mark.parametrize(
    "value, needle",
    [
        (json.dumps(_UNDECLARED), "image"),
        (json.dumps(_BAD_SCHEMA), "schema"),
        (json.dumps(_BAD_DEFAULT), "default"),
        ("{not json", "not valid JSON"),
    ],
    ids=["undeclared-placeholder", "invalid-schema", "invalid-default", "not-json"],
)
def test_template_problems_are_errors_on_the_attribute(value, needle):
    diags = Diags()
    WorkPool(ProviderState({})).validate({"name": "p", "base_job_template": value}, diags)
    errors = [d for d in diags if d[0] == "error"]
    assert errors, diags
    assert all(d[3] == ("base_job_template",) for d in errors)
    assert any(needle.lower() in (d[1] + " " + d[2]).lower() for d in errors), errors


@pytest.mark.parametrize("value", [json.dumps(_GOOD), UNKNOWN, None, "{}"], ids=["valid", "unknown", "unset", "empty"])
def test_valid_unknown_or_unset_templates_pass(value):
    diags = Diags()
    WorkPool(ProviderState({})).validate({"name": "p", "base_job_template": value}, diags)
    assert not diags.has_errors, diags


# -- every handler wrapped -------------------------------------------------------------------


def test_handler_exceptions_become_diagnostics_not_crashes(monkeypatch):
    from tf.gen import tfplugin_pb2 as pb

    from reconciler.provider import resources
    from reconciler.provider.servicer import ProviderServicer

    servicer = ProviderServicer()

    def boom(self, current, diags):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(resources.WorkPool, "read", boom)
    state = pb.DynamicValue(msgpack=codec.encode({n: None for n in schema.WORK_POOL.names} | {"name": "p"}))
    response = servicer.ReadResource(pb.ReadResource.Request(type_name="prefect_work_pool", current_state=state), None)
    assert len(response.diagnostics) == 1
    assert response.diagnostics[0].severity == pb.Diagnostic.ERROR
    assert "kaboom" in response.diagnostics[0].detail

    response = servicer.ImportResourceState(pb.ImportResourceState.Request(type_name="prefect_nothing", id="x"), None)
    assert "Unknown resource type" in response.diagnostics[0].summary


def test_handshake_path_loads_only_what_the_handshake_needs():
    """Terraform starts the provider three times a plan: up to the handshake line, nothing of the
    service (codec, msgpack, schemas, provider state, the generated gRPC stubs and protobuf), nor the
    transport (ssl, hpack; grpc never), nor
    cryptography's x509/serialization layers nor its OpenSSL backend module (RSA, padding) loads, and
    the certificate it prints is a valid self-signed one for its key (its signature checked with
    cryptography's own ECDSA(SHA256()))."""
    code = ("import sys; import reconciler.provider.main, reconciler.provider.server as s; "
            "from reconciler.provider import tls; key, pem, der = tls.certificate(); s._OnFirstCall(); "
            "sys.stdout.buffer.write(key + b'\\0' + pem + b'\\0'); "
            "print(sorted(m for m in ('msgpack', 'reconciler.provider.codec', 'reconciler.provider.schema', "
            "'reconciler.provider.config', 'reconciler.provider.servicer', 'cryptography.x509', "
            "'cryptography.hazmat.primitives.serialization', 'cryptography.hazmat.backends.openssl.backend', "
            "'cryptography.hazmat.primitives.asymmetric.rsa', 'tempfile', 'httpx', 'pydantic', 'tf.gen.tfplugin_pb2', "
            "'tf.gen.grpc_controller_pb2', 'google.protobuf', 'grpc', 'h2', 'hpack', 'ssl') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    key_pem, cert_pem, loaded = out.stdout.split(b"\0")
    assert loaded.decode().strip() == "[]"
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = serialization.load_pem_private_key(key_pem, None)
    cert = x509.load_pem_x509_certificate(cert_pem)
    assert cert.public_key() == key.public_key() and cert.issuer == cert.subject
    cert.public_key().verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName) == ["localhost"]
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).total_seconds() > 86400
