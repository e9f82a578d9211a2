"""The provider package is the same on every machine: launcher, lock files, network mirror.

The two-machine test installs from this virtual environment (A) and from a second one made here
(B, another ``sys.prefix`` and interpreter path, which is what the old launcher wrote into the
package); B sees poolform through a ``.pth`` file rather than a copy, which keeps the test fast
and changes nothing the package may depend on. ``terraform init`` in B with A's lock file and
without ``-upgrade`` must succeed and the plan must be empty. The network mirror is served over
HTTPS by a static file server with a self-signed certificate (``SSL_CERT_FILE``).
"""

from __future__ import annotations

import datetime
import functools
import http.server
import ipaddress
import json
import os
import shutil
import ssl
import subprocess
import sys
import sysconfig
import threading
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.provider import install as inst

from .conftest import HEADER, VENV_BIN

pytestmark = pytest.mark.terraform

PLATFORM_FLAGS = [f"-platform={p}" for p in inst.PLATFORMS]
SYSTEM_PATH = os.pathsep.join(["/usr/local/bin", "/usr/bin", "/bin"])


def _lock_hashes(workdir: Path) -> list[str]:
    text = (workdir / ".terraform.lock.hcl").read_text()
    assert 'provider "registry.terraform.io/poolform/prefect"' in text, text
    return sorted(line.strip().strip('",') for line in text.splitlines() if line.strip().startswith(('"h1:', '"zh:')))


def _terraform(binary: str, workdir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([binary, *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=300)


def _env(home: Path, path: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "PREFECT_", "POOLFORM_PROVIDER"))}
    env.update({"HOME": str(home), "PATH": path, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1", **extra})
    return env


# -- the package itself -------------------------------------------------------------------


def test_package_holds_no_path_of_the_installing_machine(tmp_path):
    text = inst.launcher_source()
    for local in {sys.executable, sys.prefix, sys.base_prefix, str(Path(inst.__file__).parents[2]), str(Path.home())}:
        assert local not in text
    assert text.startswith("#!/bin/sh\n")
    first, second = inst.install(tmp_path / "a"), inst.install(tmp_path / "deeper" / "b")
    assert first.read_bytes() == second.read_bytes()
    for platform in inst.PLATFORMS:
        assert (first.parents[1] / platform / first.name).read_bytes() == first.read_bytes()
    archive = inst.package_zip()
    assert archive == inst.package_zip()
    with zipfile.ZipFile(__import__("io").BytesIO(archive)) as z:
        (info,) = z.infolist()
        assert info.filename == first.name and (info.external_attr >> 16) & 0o777 == 0o755
        assert z.read(info) == first.read_bytes()
    assert inst.package_hashes() != inst.package_hashes("0.0.1"), "the version is part of the package"


def test_launcher_runs_the_named_provider_or_says_what_to_do(tmp_path):
    exe = inst.install(tmp_path)
    bare = _env(tmp_path, SYSTEM_PATH)
    proc = subprocess.run([str(exe)], env=bare, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert "no terraform-provider-prefect on PATH" in proc.stderr and "POOLFORM_PROVIDER" in proc.stderr

    named = {**bare, "POOLFORM_PROVIDER": str(Path(VENV_BIN) / inst.ENTRY_POINT)}
    proc = subprocess.run([str(exe)], env=named, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and "not meant to be run directly" in proc.stderr

    other = tmp_path / "other-version"
    other.write_text(inst.launcher_source("9.9.9"))
    other.chmod(0o755)
    from reconciler.provider.main import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE

    in_terraform = {**_env(tmp_path, VENV_BIN + os.pathsep + SYSTEM_PATH), MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE}
    proc = subprocess.run([str(other)], env=in_terraform, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "Terraform selected poolform/prefect 9.9.9, but the poolform that runs it is 0.1.0" in proc.stderr


def test_network_mirror_index_lists_every_version_and_a_broken_index_is_an_error(tmp_path):
    from reconciler.cli.terraform import terraform

    folder = inst.install_network_mirror(tmp_path, version="0.0.9")
    result = CliRunner().invoke(terraform, ["install", "--format", "network-mirror", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert json.loads((folder / "index.json").read_text()) == {"versions": {"0.0.9": {}, "0.1.0": {}}}
    listing = json.loads((folder / "0.1.0.json").read_text())["archives"]
    assert sorted(listing) == sorted(inst.PLATFORMS)
    for platform, entry in listing.items():
        assert entry == {"url": f"terraform-provider-prefect_0.1.0_{platform}.zip", "hashes": inst.package_hashes()}
        assert (folder / entry["url"]).read_bytes() == inst.package_zip()
    assert "network_mirror {" in result.output and " ".join(inst.package_hashes()) in result.output

    (folder / "index.json").write_text('{"versions": ["0.1.0"]')
    result = CliRunner().invoke(terraform, ["install", "--format", "network-mirror", "--dir", str(tmp_path)])
    assert result.exit_code == 1 and "not a network mirror index" in result.output
    assert str(folder / "index.json") in result.output and "Traceback" not in result.output

    result = CliRunner().invoke(terraform, ["install", "--format", "network-mirror"])
    assert result.exit_code != 0 and "needs --dir" in result.output


# -- with terraform -------------------------------------------------------------------------


def _second_venv(root: Path) -> Path:
    """A virtual environment at another path whose interpreter sees this one's packages (a .pth)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    python = root / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    here = sysconfig.get_paths()["purelib"]
    (Path(purelib) / "poolform-under-test.pth").write_text(f"import site; site.addsitedir({here!r})\n")
    entry = root / "bin" / inst.ENTRY_POINT  # what pip writes for the console script
    entry.write_text(f"#!{python}\nimport sys\nfrom reconciler.provider.main import main\nsys.exit(main())\n")
    entry.chmod(0o755)
    return python


def test_lock_file_made_from_one_install_is_valid_for_another(terraform_bin, server, names, tmp_path):
    pool = names()
    config = HEADER + f'resource "prefect_work_pool" "pool" {{\n  name = "{pool}"\n  type = "process"\n}}\n'

    # machine A: this virtual environment
    mirror_a = tmp_path / "a" / "mirror"
    subprocess.run([sys.executable, "-m", "reconciler.cli.main", "terraform", "install", "--dir", str(mirror_a)],
                   check=True, capture_output=True, timeout=120)
    (tmp_path / "a.tfrc").write_text(inst.cli_config(mirror_a))
    work_a = tmp_path / "a" / "work"
    work_a.mkdir(parents=True)
    (work_a / "main.tf").write_text(config)
    env_a = _env(tmp_path / "a", VENV_BIN + os.pathsep + SYSTEM_PATH, TF_CLI_CONFIG_FILE=str(tmp_path / "a.tfrc"),
                 PREFECT_API_URL=server.api_url)
    for args in (["init", "-input=false", "-no-color"], ["apply", "-auto-approve", "-input=false", "-no-color"],
                 ["providers", "lock", "-no-color", f"-fs-mirror={mirror_a}", *PLATFORM_FLAGS]):
        proc = _terraform(terraform_bin, work_a, env_a, *args)
        assert proc.returncode == 0, f"terraform {args[0]}: {proc.stdout}{proc.stderr}"
    lock = (work_a / ".terraform.lock.hcl").read_text()
    assert _lock_hashes(work_a) == [inst.package_hashes()[0]], "four platforms, one package, one hash"

    # machine B: another virtual environment at another path, another mirror directory
    venv_b = tmp_path / "elsewhere" / "venv-b"
    python_b = _second_venv(venv_b)
    assert Path(python_b) != Path(sys.executable)
    mirror_b = tmp_path / "b" / "plugins"
    proc = subprocess.run([str(python_b), "-m", "reconciler.cli.main", "terraform", "install", "--dir", str(mirror_b)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    (tmp_path / "b.tfrc").write_text(inst.cli_config(mirror_b))
    work_b = tmp_path / "b" / "checkout"
    work_b.mkdir(parents=True)
    for name in ("main.tf", ".terraform.lock.hcl", "terraform.tfstate"):
        shutil.copy(work_a / name, work_b / name)
    env_b = _env(tmp_path / "b", str(venv_b / "bin") + os.pathsep + SYSTEM_PATH,
                 TF_CLI_CONFIG_FILE=str(tmp_path / "b.tfrc"), PREFECT_API_URL=server.api_url)
    proc = _terraform(terraform_bin, work_b, env_b, "init", "-input=false", "-no-color")
    assert proc.returncode == 0, f"init with A's lock file, without -upgrade: {proc.stdout}{proc.stderr}"
    assert (work_b / ".terraform.lock.hcl").read_text() == lock
    proc = _terraform(terraform_bin, work_b, env_b, "plan", "-detailed-exitcode", "-input=false", "-no-color")
    assert proc.returncode == 0, f"the plan on B is not empty: {proc.stdout}{proc.stderr}"


@pytest.fixture
def https_files(tmp_path):
    """A static HTTPS file server over ``tmp_path / "site"`` with a self-signed certificate for 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    site = tmp_path / "site"
    site.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {"site": site, "url": f"https://127.0.0.1:{httpd.server_address[1]}/", "cert": cert_file}
    httpd.shutdown()
    httpd.server_close()


def test_network_mirror_served_over_https_installs_with_verified_hashes(terraform_bin, server, https_files, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "reconciler.cli.main", "terraform", "install", "--format",
                           "network-mirror", "--dir", str(https_files["site"])],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    (tmp_path / "net.tfrc").write_text(inst.network_cli_config(https_files["url"]))
    env = _env(tmp_path, VENV_BIN + os.pathsep + SYSTEM_PATH, TF_CLI_CONFIG_FILE=str(tmp_path / "net.tfrc"),
               SSL_CERT_FILE=str(https_files["cert"]), PREFECT_API_URL=server.api_url)
    listing = https_files["site"] / inst.HOST / inst.NAMESPACE / inst.TYPE / "0.1.0.json"
    h1, zh = inst.package_hashes()
    for kept in ([h1, zh], [zh]):  # only zh: terraform checks the zip against it
        body = json.loads(listing.read_text())
        for entry in body["archives"].values():
            entry["hashes"] = kept
        listing.write_text(json.dumps(body))
        work = tmp_path / f"work-{len(kept)}"
        work.mkdir()
        (work / "main.tf").write_text(HEADER + 'data "prefect_work_pools" "all" {}\noutput "n" { value = length(data.prefect_work_pools.all.work_pools) >= 0 }\n')
        proc = _terraform(terraform_bin, work, env, "init", "-input=false", "-no-color")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "Installed poolform/prefect v0.1.0 (verified checksum)" in proc.stdout, proc.stdout
        assert _lock_hashes(work) == [h1]
        proc = _terraform(terraform_bin, work, env, "plan", "-input=false", "-no-color")
        assert proc.returncode == 0, proc.stdout + proc.stderr

    for entry in body["archives"].values():
        entry["hashes"] = ["zh:" + "0" * 64]
    listing.write_text(json.dumps(body))
    work = tmp_path / "work-wrong"
    work.mkdir()
    (work / "main.tf").write_text(HEADER)
    proc = _terraform(terraform_bin, work, env, "init", "-input=false", "-no-color")
    assert proc.returncode == 1 and "doesn't match the expected checksum" in " ".join(proc.stderr.split())
