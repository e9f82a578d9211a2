"""Install the provider for Terraform: a filesystem mirror, or a network mirror's files.

The provider package is the same bytes on every machine for a given version: a POSIX ``sh``
launcher that holds no path of the installing machine. It runs ``$POOLFORM_PROVIDER`` when set
(the path of an executable, e.g. ``/opt/poolform/bin/terraform-provider-prefect``), else the
``terraform-provider-prefect`` entry point of the poolform found on ``PATH``. So its checksum, and
the ``h1:``/``zh:`` hashes of every ``.terraform.lock.hcl``, do not depend on where poolform is
installed, and one package serves every platform of :data:`PLATFORMS` (``terraform providers lock
-platform=…`` works offline). The launcher passes its version to the provider, which refuses to
run as another version (``reconciler.provider.main``).

* :func:`install` writes the unpacked filesystem-mirror layout,
  ``<dir>/registry.terraform.io/poolform/prefect/<version>/<os>_<arch>/terraform-provider-prefect_v<version>``.
  A bare ``source = "poolform/prefect"`` means ``registry.terraform.io/poolform/prefect``. The default
  directory, ``~/.terraform.d/plugins``, is one Terraform searches by itself. It also compiles the
  package's modules to bytecode (``compile_package``), so no start of the provider compiles them.
* :func:`install_network_mirror` writes the files of Terraform's provider network mirror protocol
  (``<dir>/registry.terraform.io/poolform/prefect/index.json``, ``<version>.json`` and one zip per
  platform with its ``h1:`` and ``zh:`` hashes), for any static HTTPS server or artifact store. The
  zips are stored, not deflated, with fixed timestamps, so they are byte-identical everywhere.

Must not: write any path, interpreter or user of this machine into a package.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import platform
import zipfile
from pathlib import Path

from reconciler import __version__
from reconciler.errors import InstallError
from reconciler.provider.main import VERSION_ENV

HOST, NAMESPACE, TYPE = "registry.terraform.io", "poolform", "prefect"
DEFAULT_DIR = Path("~/.terraform.d/plugins")
ENTRY_POINT = f"terraform-provider-{TYPE}"
"""The console script (pyproject ``[project.scripts]``) the launcher runs."""
COMMAND_ENV = "POOLFORM_PROVIDER"
"""Names the executable the launcher runs instead of the ``terraform-provider-prefect`` on PATH."""
PLATFORMS = ("darwin_amd64", "darwin_arm64", "linux_amd64", "linux_arm64")
"""Written by every install: a POSIX launcher runs on each, and a lock file lists them all."""

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "i386": "386", "i686": "386",
         "armv7l": "arm"}
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def os_arch() -> str:
    system = platform.system().lower()
    machine = platform.machine().lower()
    return f"{system}_{_ARCH.get(machine, machine)}"


def platforms() -> tuple[str, ...]:
    """The platforms an install writes: :data:`PLATFORMS`, plus this one if it is another POSIX system."""
    here = os_arch()
    return PLATFORMS if here in PLATFORMS or here.startswith("windows") else tuple(sorted((*PLATFORMS, here)))


def executable_name(version: str = __version__) -> str:
    return f"terraform-provider-{TYPE}_v{version}"


def launcher_source(version: str = __version__) -> str:
    """The provider executable: the same text on every machine for one version."""
    return (
        "#!/bin/sh\n"
        f"# Terraform provider {NAMESPACE}/{TYPE} {version}, written by `poolform terraform install`.\n"
        "# It holds no path of any machine, so its checksum (and .terraform.lock.hcl) is the same everywhere.\n"
        f"# It runs ${COMMAND_ENV} if set (the path of an executable, e.g. /opt/poolform/bin/{ENTRY_POINT}),\n"
        f"# else the {ENTRY_POINT} of the poolform found on PATH.\n"
        f"{VERSION_ENV}={version}\n"
        f"export {VERSION_ENV}\n"
        f'if [ -n "${{{COMMAND_ENV}:-}}" ]; then\n'
        f'  exec "${{{COMMAND_ENV}}}" "$@"\n'
        "fi\n"
        f"if command -v {ENTRY_POINT} >/dev/null 2>&1; then\n"
        f'  exec {ENTRY_POINT} "$@"\n'
        "fi\n"
        f"echo \"{NAMESPACE}/{TYPE} {version}: no {ENTRY_POINT} on PATH. Install poolform {version} "
        f"(pip install 'poolform=={version}') and put its bin directory on PATH (activate its virtual "
        f"environment), or set {COMMAND_ENV} to the path of its {ENTRY_POINT}.\" >&2\n"
        "exit 1\n"
    )


def install(directory: Path | str = DEFAULT_DIR, *, version: str = __version__) -> Path:
    """Write the launcher into the unpacked filesystem mirror under ``directory`` for every platform of
    :func:`platforms`; return this platform's executable."""
    root = Path(directory).expanduser().resolve()
    source = launcher_source(version).encode()
    written = {}
    for target in platforms():
        folder = root / HOST / NAMESPACE / TYPE / version / target
        folder.mkdir(parents=True, exist_ok=True)
        executable = folder / executable_name(version)
        tmp = executable.with_name(executable.name + ".tmp")
        tmp.write_bytes(source)
        os.chmod(tmp, 0o755)
        os.replace(tmp, executable)
        written[target] = executable
    compile_package()
    here = os_arch()
    return written.get(here, written[PLATFORMS[-2]])


def package_zip(version: str = __version__) -> bytes:
    """The zipped package of one version: the launcher, executable, stored with a fixed timestamp."""
    info = zipfile.ZipInfo(executable_name(version), date_time=_ZIP_TIME)
    info.create_system = 3  # unix, so that the mode below is honoured
    info.external_attr = (0o100755 & 0xFFFF) << 16
    info.compress_type = zipfile.ZIP_STORED
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(info, launcher_source(version))
    return buffer.getvalue()


def h1_hash(files: dict[str, bytes]) -> str:
    """Terraform's ``h1:`` hash of a package's contents (Go's dirhash Hash1: the SHA-256 of the sorted
    lines ``<sha256 hex>  <name>``), the same for the unpacked directory and its zip."""
    summary = "".join(f"{hashlib.sha256(files[name]).hexdigest()}  {name}\n" for name in sorted(files))
    return "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()


def zh_hash(archive: bytes) -> str:
    """Terraform's ``zh:`` hash: the SHA-256 of the zip file itself, in hex."""
    return "zh:" + hashlib.sha256(archive).hexdigest()


def package_hashes(version: str = __version__) -> list[str]:
    """The hashes a lock file records for this provider version (every platform has the same)."""
    return [h1_hash({executable_name(version): launcher_source(version).encode()}), zh_hash(package_zip(version))]


def install_network_mirror(directory: Path | str, *, version: str = __version__) -> Path:
    """Write the provider network mirror files of ``version`` under ``directory``; other versions
    already listed in its ``index.json`` stay listed. Return the provider's folder."""
    folder = Path(directory).expanduser().resolve() / HOST / NAMESPACE / TYPE
    folder.mkdir(parents=True, exist_ok=True)
    archive = package_zip(version)
    hashes = package_hashes(version)
    archives = {}
    for target in platforms():
        name = f"terraform-provider-{TYPE}_{version}_{target}.zip"
        _write(folder / name, archive)
        archives[target] = {"url": name, "hashes": hashes}
    _write(folder / f"{version}.json", _json({"archives": archives}))
    index = folder / "index.json"
    versions: dict[str, dict] = {}
    if index.exists():
        try:
            listed = json.loads(index.read_text(encoding="utf-8"))["versions"]
            if not isinstance(listed, dict):
                raise TypeError("versions is not an object")
        except (ValueError, KeyError, TypeError) as exc:
            raise InstallError(f"{index}: not a network mirror index ({exc}); expected "
                               '{"versions": {"<version>": {}}}. Fix or remove it, then install again.') from None
        versions.update({str(v): {} for v in listed})
    versions[version] = {}
    _write(index, _json({"versions": dict(sorted(versions.items()))}))
    return folder


def _json(value: object) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def compile_package() -> bool:
    """Compile the package's modules to bytecode now, as ``pip install`` does, for a checkout or an
    editable install (where nothing else may, e.g. under ``PYTHONDONTWRITEBYTECODE``): Terraform
    starts the provider three times a plan, and compiling its modules each time cost a sixth of
    a start. False when the directory is not writable (an installed package has its bytecode)."""
    import compileall

    package = Path(__file__).resolve().parents[1]
    try:
        return bool(compileall.compile_dir(str(package), quiet=2, workers=1))
    except OSError:
        return False


def cli_config(directory: Path | str) -> str:
    """The CLI configuration (``TF_CLI_CONFIG_FILE`` / ``~/.terraformrc``) that uses the filesystem mirror."""
    root = Path(directory).expanduser().resolve()
    address = f"{HOST}/{NAMESPACE}/{TYPE}"
    return (
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = \"{root}\"\n"
        f"    include = [\"{address}\"]\n"
        "  }\n"
        "  direct {\n"
        f"    exclude = [\"{address}\"]\n"
        "  }\n"
        "}\n"
    )


def network_cli_config(url: str = "https://mirror.example.com/terraform/providers/") -> str:
    """The CLI configuration that installs the provider from a network mirror served at ``url``."""
    address = f"{HOST}/{NAMESPACE}/{TYPE}"
    return (
        "provider_installation {\n"
        "  network_mirror {\n"
        f"    url     = \"{url}\"\n"
        f"    include = [\"{address}\"]\n"
        "  }\n"
        "  direct {\n"
        f"    exclude = [\"{address}\"]\n"
        "  }\n"
        "}\n"
    )
