"""Install the provider into a Terraform filesystem mirror so that ``terraform init`` works offline.

Unpacked layout: ``<dir>/registry.terraform.io/poolform/prefect/<version>/<os>_<arch>/
terraform-provider-prefect_v<version>``, a small launcher script whose shebang is
the current interpreter. A bare ``source = "poolform/prefect"`` means
``registry.terraform.io/poolform/prefect``, so that is the address the mirror serves.
The default directory, ``~/.terraform.d/plugins``, is one Terraform searches by
itself when no ``provider_installation`` block is configured. Installing also compiles the
package's modules to bytecode (``compile_package``), so no start of the provider compiles them.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

from reconciler import __version__

HOST, NAMESPACE, TYPE = "registry.terraform.io", "poolform", "prefect"
DEFAULT_DIR = Path("~/.terraform.d/plugins")

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "i386": "386", "i686": "386",
         "armv7l": "arm"}


def os_arch() -> str:
    system = platform.system().lower()
    machine = platform.machine().lower()
    return f"{system}_{_ARCH.get(machine, machine)}"


def interpreter() -> str:
    """This interpreter, spelled the same however it was started (``python`` or ``python3``), so
    that reinstalling gives the same launcher and the lock file's hash stays valid."""
    current = Path(sys.executable)
    plain = current.with_name("python")
    try:
        if plain.exists() and os.path.samefile(plain, current):
            return str(plain)
    except OSError:
        pass
    return str(current)


def launcher_source(python: str | None = None) -> str:
    python = python or interpreter()
    package_root = Path(__file__).resolve().parents[2]
    return (
        f"#!{python}\n"
        "import sys\n"
        f"sys.path.insert(0, {str(package_root)!r})\n"
        "from reconciler.provider.main import main\n"
        "sys.exit(main())\n"
    )


def install(directory: Path | str = DEFAULT_DIR, *, version: str = __version__, python: str | None = None) -> Path:
    """Write the launcher into the mirror under ``directory``; return the executable's path."""
    root = Path(directory).expanduser().resolve()
    target = root / HOST / NAMESPACE / TYPE / version / os_arch()
    target.mkdir(parents=True, exist_ok=True)
    executable = target / f"terraform-provider-{TYPE}_v{version}"
    tmp = executable.with_name(executable.name + ".tmp")
    tmp.write_text(launcher_source(python), encoding="utf-8")
    os.chmod(tmp, 0o755)
    os.replace(tmp, executable)
    if python is None or python == interpreter():
        compile_package()
    return executable


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
    """The CLI configuration (``TF_CLI_CONFIG_FILE`` / ``~/.terraformrc``) that uses the mirror."""
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
