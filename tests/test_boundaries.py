"""The layering rules of docs/architecture.md, checked from the code's own imports.

* ``plan/`` is pure: it imports neither ``api/``, ``apply/``, ``views/``, ``cli/`` nor any HTTP or
  rendering library;
* ``views/`` read plan JSON only: no ``api/``, ``apply/`` or ``plan.planner``;
* ``api/`` reports (``ClientEvents``) but never renders: no ``click`` or ``rich``;
* ``ci/`` (GitHub and GitLab comments, labels, drift issues) speaks only the forges' APIs: it
  neither plans, renders, reads config nor talks to Prefect;
* the server and the client side share only the HTTP contract, the base job template rules and
  the scheduling core: nothing under ``reconciler/server/`` imports the rest of the package but
  ``reconciler.template_rules``, ``reconciler.scheduling`` and ``reconciler.explain``, nothing
  outside it (the ``server`` command aside) imports the server, and ``template_rules`` imports
  nothing of the package; it is the only module that uses jsonschema for templates, so neither side
  can grow its own copy of the rules, and both use it (``check_policy`` uses it too, for the
  repository's policy rules, which are not templates);
* the scheduling core is pure and shared: ``reconciler/scheduling.py`` imports only the standard
  library, ``reconciler/explain.py`` only that and ``scheduling``; the server's polls and claims
  and the client's ``explain`` and ``status`` all call it, and nothing else calls ``select_runs``;
* the server's domain (``server/domain/``) speaks no HTTP: no web framework, no routes, no status
  codes; the pure modules (``scheduling``, ``orchestration``) import only the standard library;
* the rules of one pool or queue live in ``model/rules.py`` only, which the config loader and the
  Terraform provider both import;
* ``poolform --version`` stays light: the CLI entry imports no heavy library;
* ``poolform server start`` keeps out of its process what serving does not need (its resident
  memory is bench/server_memory.py's figure): ``pydantic.v1``, the other store's driver, the
  other commands' shared CLI module, the status page's and the explain routes' modules until one
  is asked for; the app makes each route once, when a request first reaches it, and builds a
  request model on its first use;
* the plan's step operations are spelled in one place, ``reconciler/plan/steps.py``: no other
  module of the package holds an operation's name as a string literal.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "reconciler"


def imports_of(path: Path) -> set[str]:
    """Every module name an ``import`` or ``from ... import`` in the file names (relative ones resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: -node.level]
                names.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                names.add(node.module)
    return names


def files_under(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


RULES = [
    ("plan", ("reconciler.api", "reconciler.apply", "reconciler.views", "reconciler.cli", "reconciler.server",
              "reconciler.provider", "httpx", "rich", "click")),
    ("views", ("reconciler.api", "reconciler.apply", "reconciler.cli", "reconciler.server", "reconciler.plan.planner",
               "httpx")),
    ("model", ("reconciler.api", "reconciler.apply", "reconciler.plan", "reconciler.cli", "reconciler.server", "httpx")),
    ("apply", ("reconciler.cli", "reconciler.views", "reconciler.server")),
    ("api", ("reconciler.plan", "reconciler.apply", "reconciler.cli", "reconciler.views", "reconciler.server",
             "click", "rich")),
    ("config", ("reconciler.api", "reconciler.apply", "reconciler.plan", "reconciler.cli", "reconciler.server", "httpx")),
    ("ci", ("reconciler.api", "reconciler.apply", "reconciler.plan", "reconciler.views", "reconciler.cli",
            "reconciler.server", "reconciler.config", "click", "rich")),
]


@pytest.mark.parametrize(("folder", "forbidden"), RULES, ids=[rule[0] for rule in RULES])
def test_layer_does_not_import_what_it_must_not(folder: str, forbidden: tuple[str, ...]) -> None:
    offences = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in files_under(folder)
        for name in imports_of(path)
        if any(name == bad or name.startswith(bad + ".") for bad in forbidden)
    ]
    assert not offences, "\n".join(offences)


SHARED = "reconciler.template_rules"
SHARED_WITH_SERVER = {SHARED, "reconciler.scheduling", "reconciler.explain"}


def test_server_shares_only_the_http_contract() -> None:
    inside = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in files_under("server")
        for name in imports_of(path)
        if name.startswith("reconciler") and not name.startswith("reconciler.server") and name not in SHARED_WITH_SERVER
    ]
    assert not inside, "the server must not import the rest of the package:\n" + "\n".join(inside)
    outside = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if "server" not in path.relative_to(PACKAGE).parts[:1] and path.name != "server.py"
        for name in imports_of(path)
        if name.startswith("reconciler.server")
    ]
    assert not outside, "only `poolform server` may import the server:\n" + "\n".join(outside)


def test_template_rules_are_one_module_both_sides_import() -> None:
    rules = PACKAGE / "template_rules.py"
    own = sorted(name for name in imports_of(rules) if name == "reconciler" or name.startswith("reconciler."))
    assert own == [], f"template_rules must depend on nothing else in the package: {own}"
    users = {
        str(path.relative_to(PACKAGE.parent))
        for path in sorted(PACKAGE.rglob("*.py"))
        if any(name == "jsonschema" or name.startswith("jsonschema.") for name in imports_of(path))
    }
    assert users == {"reconciler/template_rules.py", "reconciler/check_policy.py"}, (
        f"only template_rules (templates) and check_policy (the repository's own rules) may validate schemas: "
        f"{sorted(users)}")
    importers = {
        str(path.relative_to(PACKAGE.parent))
        for path in sorted(PACKAGE.rglob("*.py"))
        if any(name == SHARED or (name == "reconciler" and _imports_name(path, "template_rules")) for name in imports_of(path))
    }
    assert "reconciler/templates.py" in importers, "the reconciler's template checks must use template_rules"
    assert any(p.startswith("reconciler/server/") for p in importers), "the server's template checks must use template_rules"


def test_object_rules_are_one_module_the_loader_and_the_provider_import() -> None:
    """``model/rules.py`` holds the rules of one pool or queue; the config loader and the Terraform
    provider both call it, and neither spells a rule of its own (no name pattern, no 2**31 bound)."""
    rules = PACKAGE / "model" / "rules.py"
    own = sorted(name for name in imports_of(rules) if name.startswith("reconciler"))
    assert own == ["reconciler.model.worker_types"], f"model/rules.py must stand on worker_types only: {own}"
    for user in ("config/load.py", "provider/resources.py", "provider/siblings.py"):
        assert "reconciler.model.rules" in imports_of(PACKAGE / user) or "reconciler.model" in imports_of(PACKAGE / user), user
    copies = [
        f"{path.relative_to(PACKAGE.parent)}: {needle}"
        for path in [*files_under("config"), *files_under("provider")]
        for needle in ("[/%&><]", "2**31", "2 ** 31", "2147483647", "both have priority", "is reserved")
        if needle in path.read_text(encoding="utf-8")
    ]
    assert not copies, "a rule spelled outside model/rules.py:\n" + "\n".join(copies)


def _imports_name(path: Path, name: str) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(isinstance(node, ast.ImportFrom) and node.module == "reconciler" and any(a.name == name for a in node.names)
               for node in ast.walk(tree))


WEB = ("fastapi", "starlette", "uvicorn", "reconciler.server.routes", "reconciler.server.app")


def test_server_domain_speaks_no_http() -> None:
    offences = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in files_under("server/domain")
        for name in imports_of(path)
        if any(name == bad or name.startswith(bad + ".") for bad in WEB)
    ]
    codes = [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno} has the number {node.value}"
        for path in files_under("server/domain")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and type(node.value) is int and 400 <= node.value < 600
    ]
    assert not offences + codes, "the domain returns decisions; routes map them to status codes:\n" + "\n".join(offences + codes)


@pytest.mark.parametrize("module", ["scheduling.py", "server/orchestration.py", "explain.py"])
def test_pure_modules_import_only_the_standard_library(module: str) -> None:
    allowed = {"reconciler.scheduling"} if module == "explain.py" else set()
    names = imports_of(PACKAGE / module)
    assert all(name.split(".")[0] in sys.stdlib_module_names or name == "__future__" or name in allowed
               for name in names), names


def test_the_scheduling_core_is_one_module_both_sides_call() -> None:
    """``select_runs`` is called by the server's polls and by ``explain`` only: no side grows its own waterfall."""
    callers = {
        str(path.relative_to(PACKAGE.parent))
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "scheduling.py" and "select_runs(" in path.read_text(encoding="utf-8")
    }
    assert callers == {"reconciler/server/domain/polls.py", "reconciler/explain.py"}, callers
    importers = {
        str(path.relative_to(PACKAGE.parent))
        for path in sorted(PACKAGE.rglob("*.py"))
        if "reconciler.explain" in imports_of(path)
    }
    assert any(p.startswith("reconciler/server/") for p in importers), "the server's explain must use reconciler.explain"
    assert any(p.startswith("reconciler/cli/") for p in importers), "poolform explain must use reconciler.explain"


def test_version_does_not_load_heavy_libraries() -> None:
    code = (
        "import sys; sys.argv = ['poolform', '--version']\n"
        "from reconciler.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('httpx', 'pydantic', 'fastapi', 'jsonschema', 'rich', 'deepdiff', 'hcl2', 'yaml', 'ruamel')"
        " if m in sys.modules)\n"
        "print('HEAVY:' + ','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("poolform ")
    assert lines[-1] == "HEAVY:", f"heavy imports on the --version path: {lines[-1][len('HEAVY:'):]}"


SERVER_START_MODULES = """
import sys
import uvicorn

async def report(self):  # the server listens: say what its process holds, and stop
    print("LOADED:" + ",".join(m for m in sorted(sys.modules) if sys.modules[m] is not None))
    import gc
    from fastapi.routing import APIRoute
    from pydantic import BaseModel
    routes = [o for o in gc.get_objects() if isinstance(o, APIRoute)]
    print("MADE:" + ",".join(sorted(r.path for r in routes if "_options" not in vars(r))))
    schemas = sys.modules["reconciler.server.schemas"]
    print("BUILT:" + ",".join(sorted(name for name, o in vars(schemas).items() if isinstance(o, type)
                                     and issubclass(o, BaseModel) and o.__pydantic_complete__)))
    self.should_exit = True

uvicorn.Server.main_loop = report
sys.argv = ["poolform", "server", "start", "--port", "0", "--db", sys.argv[1]]  # the test's own temporary file
from reconciler.cli.main import main
try:
    main()
except SystemExit:
    pass
"""

KEPT_OUT_OF_THE_SERVER = (
    "pydantic.v1",  # FastAPI imports it only to check that no route uses its models (cli/server.py)
    "psycopg",  # the PostgreSQL driver, on SQLite
    "reconciler.explain",  # the status page and /api/poolform/ routes, imported by their first request
    "reconciler.server.domain.standings",
    "reconciler.server.domain.overview",
    "reconciler.cli._common", "reconciler.diagnostics",  # the other commands' shared module (cli/main.py)
    "pydantic_settings", "jsonschema", "rich", "httpx", "yaml", "deepdiff",  # the client side's libraries
)


def test_server_start_keeps_out_what_serving_does_not_need(tmp_path: Path) -> None:
    """The real ``poolform server start`` (SQLite), once listening: none of ``KEPT_OUT_OF_THE_SERVER``."""
    result = subprocess.run([sys.executable, "-c", SERVER_START_MODULES, str(tmp_path / "idle.db")], capture_output=True,
                            text=True, timeout=120)
    lines = [line for line in result.stdout.splitlines() if line.startswith("LOADED:")]
    assert lines, result.stdout + result.stderr
    loaded = set(lines[0][len("LOADED:"):].split(","))
    assert {"fastapi", "uvicorn", "reconciler.server.app", "reconciler.server.store.sqlite"} <= loaded
    assert sorted(m for m in loaded if any(m == k or m.startswith(k + ".") for k in KEPT_OUT_OF_THE_SERVER)) == []


def test_server_start_makes_no_route_and_builds_no_request_model(tmp_path: Path) -> None:
    """The real ``poolform server start``, once listening: its routes wait for their first request
    (``routes.deferred``; only the app's own catch-all 404 is made) and its request models
    (``schemas``) for their first use."""
    result = subprocess.run([sys.executable, "-c", SERVER_START_MODULES, str(tmp_path / "idle.db")], capture_output=True,
                            text=True, timeout=120)
    made = [line for line in result.stdout.splitlines() if line.startswith(("MADE:", "BUILT:"))]
    assert made == ["MADE:/{path:path}", "BUILT:"], result.stdout[-2000:] + result.stderr[-2000:]


def test_the_server_makes_each_route_once() -> None:
    """A route module declares its routes (``routes.Routes``); the app makes each one FastAPI route
    (its request models and handler): no second copy is kept anywhere, in a fresh process."""
    code = (
        "import gc\n"
        "from fastapi.routing import APIRoute\n"
        "from reconciler.server.app import create_app\n"
        "from reconciler.server.store import open_store\n"
        "app = create_app(open_store(':memory:'))\n"
        "gc.collect()\n"
        "print(sum(isinstance(r, APIRoute) for r in app.routes), sum(isinstance(o, APIRoute) for o in gc.get_objects()))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    served, alive = map(int, result.stdout.split())
    assert served > 60
    assert alive == served


def test_step_operations_are_spelled_only_in_the_step_vocabulary() -> None:
    from reconciler.plan.steps import Op

    names = {op.value for op in Op}
    vocabulary = PACKAGE / "plan" / "steps.py"
    offences = [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno} spells {node.value!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != vocabulary
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and node.value in names
    ]
    assert not offences, "use reconciler.plan.steps.Op instead:\n" + "\n".join(offences)


def test_the_policy_check_is_pure() -> None:
    """``check_policy`` decides on values only: it reads no file, no server and no clock (rule files are
    read by ``config/policy.py``), and it imports only the model and the diagnostics of the package."""
    path = PACKAGE / "check_policy.py"
    imported = imports_of(path)
    own = sorted(n for n in imported if n.startswith("reconciler.") and not n.startswith(
        ("reconciler.model.", "reconciler.diagnostics")))
    assert own == [], f"check_policy imports {own}"
    io = sorted(n for n in imported if n.split(".")[0] in (
        "os", "io", "pathlib", "socket", "httpx", "urllib3", "requests", "click", "time", "datetime", "subprocess"))
    assert io == [], f"check_policy must do no I/O: {io}"


def test_applying_a_saved_plan_does_not_load_the_config_models_or_httpx_cli(tmp_path) -> None:
    """``poolform apply PLANFILE`` reads a plan, not a config: pydantic (the config models) and
    httpx's command-line client (rich, pygments) are ~0.2 s of a start that is all wall time
    before the first request."""
    from reconciler.model.state import DesiredPool, DesiredState, ObservedState
    from reconciler.plan.planfile import dumps_plan
    from reconciler.plan.planner import make_plan

    url = "http://127.0.0.1:9/api"  # nothing listens: the apply stops at its first request
    plan = make_plan(DesiredState(pools={"p": DesiredPool(name="p", type="process")}), ObservedState(pools={}))
    plan.api_url = url
    path = tmp_path / "plan.json"
    path.write_text(dumps_plan(plan), encoding="utf-8")
    code = (
        f"import sys; sys.argv = ['poolform', 'apply', {str(path)!r}]\n"
        "from reconciler.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('pydantic', 'rich', 'pygments', 'yaml', 'ruamel', 'jsonschema', 'deepdiff', 'hcl2')"
        " if m in sys.modules)\n"
        "print('HEAVY:' + ','.join(heavy) + ' APPLIED:' + str('reconciler.apply.executor' in sys.modules))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "POOLFORM_"))}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**env, "PREFECT_API_URL": url, "CI": "1"})
    assert result.stdout.strip().splitlines()[-1] == "HEAVY: APPLIED:True", result.stdout + result.stderr
