"""The status page in real headless Chromium (Debian's ``chromium`` driven by Selenium through
``chromium-driver``), against the reference server as a process on a socket.

The test installs the browser when it is missing (``scripts/browser.py``) and fails, never skips,
when it cannot. It seeds a scenario (limits in use, a paused queue, late runs, a future run, a
worker, and a pool, queue, worker and run named to inject markup), loads ``/`` with JavaScript
off, and checks what the browser shows against ``/api/poolform/status`` and the pools'
``pending`` documents. The screenshot goes to ``$POOLFORM_ARTIFACTS`` (default: the test's
temporary directory; its path is printed); with ``POOLFORM_UPDATE_SCREENSHOT=1`` it also
replaces docs/status-page.png, which the README shows.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

import httpx
import pytest

import reconciler

REPO = Path(__file__).resolve().parents[2]
HOSTILE_POOL = "zz \"quoted\" 'pool' onmouseover=alert(1)"
HOSTILE_QUEUE = 'q" autofocus onfocus="alert(1)" x=\''
"""Pool and queue names may not hold ``/ % & < >`` (Prefect's rule): quoting is the attack left to them."""
HOSTILE_WORKER = "<b onmouseover=alert(2)>w</b>"
HOSTILE_RUN = "</td></tr></table><script>document.title='owned'</script>"


def _browser_module() -> Any:
    spec = importlib.util.spec_from_file_location("poolform_browser", REPO / "scripts" / "browser.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``poolform server start`` as a process on a free port; yields its base URL (no ``/api``)."""
    env = {**os.environ, "PYTHONPATH": str(Path(reconciler.__file__).resolve().parents[1])}
    db = tmp_path_factory.mktemp("page") / "server.db"
    proc = subprocess.Popen([sys.executable, "-m", "reconciler", "server", "start", "--port", "0", "--db", str(db)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith("PREFECT_API_URL="):
                url = line.strip().split("=", 1)[1].removesuffix("/api")
            elif not line and proc.poll() is not None:
                break
        assert url, f"the server did not start: {proc.stderr.read() if proc.stderr else ''}"
        yield url
    finally:
        proc.kill()
        proc.wait(10)


def _ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
    return response.json() if response.content else None


def _seed(api: httpx.Client) -> None:
    now = datetime.now(timezone.utc)
    _ok(api.post("/work_pools/", json={"name": "prod", "type": "process", "concurrency_limit": 3}))
    for name, priority, extra in (("critical", 1, {"concurrency_limit": 1}), ("high", 5, {}),
                                  ("batch", 10, {"is_paused": True})):
        _ok(api.post("/work_pools/prod/queues", json={"name": name, "priority": priority, **extra}))
    _ok(api.post("/work_pools/", json={"name": HOSTILE_POOL, "type": "process", "concurrency_limit": 1,
                                       "description": HOSTILE_RUN}))
    _ok(api.post(f"/work_pools/{_quoted(HOSTILE_POOL)}/queues", json={"name": HOSTILE_QUEUE, "priority": 2}))
    flow = _ok(api.post("/flows/", json={"name": "etl"}))

    def run(pool: str, queue: str, minutes: float, name: str) -> str:
        when = (now + timedelta(minutes=minutes)).isoformat()
        return _ok(api.post("/flow_runs/", json={
            "flow_id": flow["id"], "name": name, "work_pool_name": pool, "work_queue_name": queue,
            "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": when}}}))["id"]

    holder = run("prod", "critical", -60, "nightly-load")
    for state in ("PENDING", "RUNNING"):
        _ok(api.post(f"/flow_runs/{holder}/set_state", json={"state": {"type": state}}))
    run("prod", "critical", -30, "hourly-refresh")
    run("prod", "high", -20, "report-eu")
    run("prod", "high", -10, "report-us")
    run("prod", "batch", -40, "backfill")
    run("prod", "high", 90, "tomorrow")
    run(HOSTILE_POOL, HOSTILE_QUEUE, -5, HOSTILE_RUN)
    _ok(api.post("/work_pools/prod/workers/heartbeat", json={"name": "worker-1", "heartbeat_interval_seconds": 60}))
    _ok(api.post(f"/work_pools/{_quoted(HOSTILE_POOL)}/workers/heartbeat",
                 json={"name": HOSTILE_WORKER, "heartbeat_interval_seconds": 60}))


def _quoted(name: str) -> str:
    return quote(name, safe="")


def _api_view(api: httpx.Client) -> dict[str, Any]:
    """What the page must show, from the API: per pool its numbers, queues, workers and runs."""
    status = _ok(api.get("/poolform/status"))
    out = {}
    for pool in status["pools"]:
        pending = _ok(api.get(f"/poolform/work_pools/{_quoted(pool['name'])}/pending"))
        out[pool["name"]] = {
            "in_use": str(pool["slots_in_use"]), "limit": "" if pool["concurrency_limit"] is None else str(pool["concurrency_limit"]),
            "backlog": str(pool["backlog"]),
            "queues": [(q["name"], str(q["slots_in_use"]), str(q["backlog"])) for q in pool["queues"]],
            "workers": [(w["name"], w["status"]) for w in pool["workers"]],
            "runs": [(r["run"]["id"], r["run"]["name"], "—" if r["position"] is None else str(r["position"]),
                      r["run"]["state_name"] == "Late", tuple(x["code"] for x in r["reasons"])) for r in pending["runs"]],
        }
    return out


def _page_view(driver: Any) -> dict[str, Any]:
    """The same, as Chromium rendered it (DOM attributes and visible text)."""
    from selenium.webdriver.common.by import By

    out = {}
    for section in driver.find_elements(By.CSS_SELECTOR, "section.pool"):
        occupancy = section.find_element(By.CSS_SELECTOR, ".head .occupancy")
        out[section.get_attribute("data-pool")] = {
            "in_use": occupancy.get_attribute("data-in-use"), "limit": occupancy.get_attribute("data-limit"),
            "backlog": section.find_element(By.CSS_SELECTOR, ".head .backlog").text,
            "queues": [(row.get_attribute("data-queue"),
                        row.find_element(By.CSS_SELECTOR, ".occupancy").get_attribute("data-in-use"),
                        row.find_element(By.CSS_SELECTOR, ".backlog").text)
                       for row in section.find_elements(By.CSS_SELECTOR, "tr.queue")],
            "workers": [(row.get_attribute("data-worker"), row.find_elements(By.TAG_NAME, "td")[1].text)
                        for row in section.find_elements(By.CSS_SELECTOR, "tr.worker")],
            "runs": [(row.get_attribute("data-run"), row.find_elements(By.TAG_NAME, "td")[1].text,
                      row.find_element(By.CSS_SELECTOR, ".position").text, "late" in row.get_attribute("class").split(),
                      tuple(code.text for code in row.find_elements(By.CSS_SELECTOR, "ul.reasons code")))
                     for row in section.find_elements(By.CSS_SELECTOR, "tr.run")],
        }
    return out


def _chrome(tmp_path: Path) -> Any:
    browser = _browser_module()
    try:
        chromium, chromedriver = browser.ensure_browser()
    except browser.BrowserUnavailable as exc:
        pytest.fail(f"headless Chromium is needed for this test: {exc}", pytrace=False)
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    return webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)


def test_the_status_page_in_chromium_shows_the_api_numbers(server: str, tmp_path: Path) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    with httpx.Client(base_url=server + "/api", timeout=30) as api:
        _seed(api)
        before = _api_view(api)
        driver = _chrome(tmp_path)
        try:
            driver.get(server + "/")
            page = _page_view(driver)
            title = driver.title
            scripts = driver.find_elements(By.TAG_NAME, "script")
            images = driver.find_elements(By.TAG_NAME, "img")
            refresh = driver.find_element(By.CSS_SELECTOR, 'meta[http-equiv="refresh"]').get_attribute("content")
            heading = driver.find_element(By.CSS_SELECTOR, "section.pool:last-of-type h2").text
            try:
                driver.switch_to.alert
                alert = True
            except NoAlertPresentException:
                alert = False
            for _ in range(2):  # the whole page in the window (its height as laid out at this width)
                driver.set_window_size(1280, driver.find_element(By.TAG_NAME, "html").size["height"] + 120)
            artifacts = Path(os.environ.get("POOLFORM_ARTIFACTS") or tmp_path)
            artifacts.mkdir(parents=True, exist_ok=True)
            shot = artifacts / "status-page.png"
            assert driver.save_screenshot(str(shot)), "Chromium wrote no screenshot"
        finally:
            driver.quit()
        after = _api_view(api)
    print(f"status page screenshot: {shot}")
    if os.environ.get("POOLFORM_UPDATE_SCREENSHOT"):
        shutil.copyfile(shot, REPO / "docs" / "status-page.png")

    assert before == after, "the seeded scenario moved while the page was read"
    assert page == before
    assert list(page) == ["prod", HOSTILE_POOL]
    prod = page["prod"]
    assert (prod["in_use"], prod["limit"], prod["backlog"]) == ("1", "3", "4")
    assert [q[0] for q in prod["queues"]] == ["critical", "default", "high", "batch"]
    assert [r[1] for r in prod["runs"]] == ["hourly-refresh", "report-eu", "report-us", "backfill", "tomorrow"]
    assert [r[3] for r in prod["runs"]] == [True, True, True, True, False]
    assert prod["runs"][0][4] == ("QUEUE_LIMIT",) and "QUEUE_PAUSED" in prod["runs"][3][4]
    assert prod["workers"] == [("worker-1", "ONLINE")]
    hostile = page[HOSTILE_POOL]
    assert hostile["queues"][1][0] == HOSTILE_QUEUE and hostile["workers"] == [(HOSTILE_WORKER, "ONLINE")]
    assert hostile["runs"][0][1] == HOSTILE_RUN
    assert heading == HOSTILE_POOL
    assert (scripts, images, alert, title) == ([], [], False, "poolform server status")
    assert refresh == "5"
    assert shot.stat().st_size > 10_000


def test_a_browser_that_cannot_be_installed_is_an_error_not_a_skip(monkeypatch, tmp_path: Path) -> None:
    browser = _browser_module()
    monkeypatch.setenv("POOLFORM_CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no apt-get, no sudo
    with pytest.raises(browser.BrowserUnavailable, match="no apt-get to install them"):
        browser.ensure_browser()
