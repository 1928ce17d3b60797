"""The browser layer: pages in a real headless Chromium (Debian's, never a downloaded one), at a phone's and a
laptop's viewport, with axe-core for accessibility.

Fixtures: `chromium_path`, `browser` (one per session), `phone` and `laptop` (a fresh context and page per test),
`expect` (Playwright's assertions), `axe_check(page, name)` and `shot(page, name)`. Screenshots and axe's JSON
go to out/test-artifacts/browser/; a failed test also leaves a screenshot of each of its pages there.

Without Chromium or Playwright the tests are skipped, except in CI (CI=true), where they must run and fail.
The stack itself (`stack`, `api`, `activity_id`, `clock`) comes from tests/conftest.py."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from browser_support import LAUNCH_ARGS, PHONE

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "out" / "test-artifacts" / "browser"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
LAPTOP = {"viewport": {"width": 1280, "height": 800}, "locale": "en-US"}
BLOCKING_IMPACTS = ("serious", "critical")
TIMEOUT_MS = 15_000

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the item, so a page fixture knows at teardown whether the test failed."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    item.stash.setdefault(_REPORTS, {})[report.when] = report


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


def _unavailable(reason: str) -> NoReturn:
    """Skip on a laptop without the browser; in CI the browser tests must run, so fail."""
    if _in_ci():
        pytest.fail(f"{reason} [CI=true: browser tests may not be skipped]", pytrace=False)
    pytest.skip(reason)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "page"


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = os.environ.get("CME_CHROMIUM") or DEFAULT_CHROMIUM
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        _unavailable("Chromium not installed (apt-get install chromium)")
    return path


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    try:
        import axe_playwright_python.sync_playwright  # noqa: F401  (axe_check needs it)
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        _unavailable(f"Playwright not installed ({error.name or error}: pip install -e '.[dev]')")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Any, chromium_path: str) -> Iterator[Any]:
    chromium = playwright.chromium.launch(executable_path=chromium_path, args=LAUNCH_ARGS, headless=True)
    yield chromium
    chromium.close()


@pytest.fixture(scope="session")
def expect(playwright: Any) -> Callable[..., Any]:
    """Playwright's web-first assertions (they retry until the page gets there, up to the timeout)."""
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=TIMEOUT_MS)
    return playwright_expect


def _page(browser: Any, request: pytest.FixtureRequest, name: str, options: dict[str, Any]) -> Iterator[Any]:
    context = browser.new_context(**options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    report = request.node.stash.get(_REPORTS, {}).get("call")
    if report is not None and report.failed and not page.is_closed():
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"FAILED-{_slug(request.node.name)}-{name}.png"), full_page=True)
    context.close()
    if errors and report is not None and report.passed:
        pytest.fail(f"uncaught JavaScript errors on the {name} page: {errors}", pytrace=False)


@pytest.fixture
def phone(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page in a fresh context with a phone's viewport (390×844 CSS px, 2× pixels, touch, en-US)."""
    yield from _page(browser, request, "phone", PHONE)


@pytest.fixture
def laptop(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page in a fresh context with a laptop's viewport (1280×800, en-US)."""
    yield from _page(browser, request, "laptop", LAPTOP)


@pytest.fixture
def shot(artifacts_dir: Path) -> Callable[[Any, str], Path]:
    """shot(page, name): a full-page PNG in the artifacts dir; returns its path."""

    def take(page: Any, name: str) -> Path:
        path = artifacts_dir / f"{_slug(name)}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 0
        return path

    return take


def _describe(violation: dict[str, Any]) -> str:
    lines = [f"- {violation['id']} ({violation['impact']}): {violation['help']} <{violation.get('helpUrl', '')}>"]
    for node in violation["nodes"]:
        target = " ".join(json.dumps(t) if not isinstance(t, str) else t for t in node["target"])
        lines.append(f"    target {target}: {node.get('html', '').strip()[:300]}")
        if node.get("failureSummary"):
            lines.append("      " + node["failureSummary"].replace("\n", "\n      "))
    return "\n".join(lines)


@pytest.fixture
def axe_check(artifacts_dir: Path, playwright: Any) -> Callable[[Any, str], dict[str, Any]]:
    """axe_check(page, name): run axe-core on the page as it is now, write its full result to
    <artifacts>/<name>.axe.json and fail on any violation of impact serious or critical.
    Returns axe's result (violations of lesser impact are in it, and in the JSON)."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()

    def check(page: Any, name: str) -> dict[str, Any]:
        # No options: every rule axe enables by default, and every result type in full.
        result: dict[str, Any] = axe.run(page, options=None).response
        path = artifacts_dir / f"{_slug(name)}.axe.json"
        path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        blocking = [v for v in result["violations"] if v.get("impact") in BLOCKING_IMPACTS]
        assert not blocking, (
            f"axe-core {result['testEngine']['version']} on {page.url}: "
            f"{len(blocking)} serious or critical violation(s) (full result: {path})\n"
            + "\n".join(_describe(v) for v in blocking)
        )
        return result

    return check
