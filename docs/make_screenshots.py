"""Screenshots of each role's main screens for the README, taken by Chromium over a fresh demo clinic.

Run with ``make screenshots``. Everything happens in a throw-away SQLite database and a local server on a free port;
the PNGs land in docs/screenshots/ (small: one viewport each, no full-page captures)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
VIEWPORT = {"width": 1200, "height": 800}
PASSWORD = "b12-demo-password"  # noqa: S105 (the demo users' published password; recommender/.../demo_users.py)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)  # noqa: S603 (our own manage.py)


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 (our own local server)
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"The server did not answer at {url}")


def sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def shoot(page, name: str) -> None:
    page.wait_for_load_state("networkidle")
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path))
    print(f"  {path.relative_to(ROOT)}")


def take(base: str) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        page = browser.new_context(viewport=VIEWPORT).new_page()
        sign_in(page, base, "clinician")
        shoot(page, "clinician-home")
        page.get_by_role("searchbox", name="Find a patient").press_sequentially("pudd", delay=40)
        page.locator("#search-live a").first.wait_for()
        shoot(page, "search-as-you-type")
        page.goto(f"{base}/search/?q=DEMO011")  # an exact hospital number: straight to the patient
        shoot(page, "clinician-patient")
        page.get_by_role("link", name="Active plan", exact=False).first.click()
        shoot(page, "clinician-plan")
        page.goto(f"{base}/search/?q=DEMO001")
        page.get_by_role("link", name="New assessment", exact=False).first.click()
        page.fill("#id_b12_value", "150")
        page.select_option("#id_b12_unit", "pg/mL")
        page.check("#id_neurological_involvement")
        page.locator("#results .red-flag").first.wait_for()
        shoot(page, "clinician-assessment")
        page.context.close()

        page = browser.new_context(viewport=VIEWPORT).new_page()
        sign_in(page, base, "nurse")
        shoot(page, "nurse-home")
        page.goto(f"{base}/worklist/")
        shoot(page, "nurse-worklist")
        page.get_by_role("link", name="Record", exact=False).first.click()
        shoot(page, "nurse-record-dose")
        page.context.close()

        page = browser.new_context(viewport=VIEWPORT).new_page()
        sign_in(page, base, "admin")
        shoot(page, "admin-home")
        page.goto(f"{base}/admin/")
        shoot(page, "admin-site")
        page.context.close()
        browser.close()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DJANGO_DEBUG": "1",
            "DATABASE_URL": f"sqlite:///{tmp}/screenshots.sqlite3",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        }
        manage(env, "migrate", "--noinput", "-v0")
        manage(env, "demo_clinic")
        port = free_port()
        server = subprocess.Popen(  # noqa: S603 (our own manage.py)
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"], cwd=ROOT, env=env
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(f"{base}/login/")
            print("Screenshots:")
            take(base)
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
