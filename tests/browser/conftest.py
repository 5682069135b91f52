"""Browser tests: Playwright driving Debian's Chromium against a live test server.

In CI (CI=true) a missing Chromium fails the run; elsewhere these tests skip, saying how
to install it (`apt-get install chromium`).
"""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip
OUTPUT = Path(__file__).resolve().parents[2] / "test-results" / "browser"

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# between browser steps are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _chromium_missing() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"Chromium not found at {CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "Playwright not installed: pip install -e '.[dev]'"
    return None


@pytest.fixture(scope="session")
def browser():
    missing = _chromium_missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests are required in CI: {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context
    context.close()


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture
def output_dir() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT


DEMO_PASSWORD = "browser-test-pw"


@pytest.fixture
def demo_admin(live_server):
    """The demo account seeded, with its admin user; returns `login(page, next_path)`."""
    import io

    from django.core.management import call_command

    call_command(
        "seed_demo", "--username", "admin", "--password", DEMO_PASSWORD, stdout=io.StringIO()
    )

    def login(page, next_path: str = "/admin/") -> None:
        page.goto(f"{live_server.url}/admin/login/?next={next_path}")
        page.fill("#id_username", "admin")
        page.fill("#id_password", DEMO_PASSWORD)
        page.click("input[type=submit]")

    return login
