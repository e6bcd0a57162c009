"""Helpers of the console tests: signing in, waiting, screenshots, dropping files."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tests._support.api import Actor
from tests.console._server import ARTIFACTS, Server

T = TypeVar("T")
WAIT_S = 20.0


def wait_for(predicate: Callable[[], T | None], what: str, timeout: float = WAIT_S) -> T:
    """Poll until ``predicate()`` is truthy (exceptions count as not yet)."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # a page in the middle of loading
            last = e
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}" + (f": {last!r}" if last else ""))
        time.sleep(0.05)


def css(driver: Any, selector: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def css_all(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, selector))


def visible(driver: Any, selector: str, timeout: float = WAIT_S) -> Any:
    return wait_for(
        lambda: next((e for e in css_all(driver, selector) if e.is_displayed()), None),
        f"{selector} to be visible",
        timeout,
    )


def status_text(driver: Any) -> str:
    return str(css(driver, "#status").text)


def wait_status(driver: Any, contains: str, timeout: float = WAIT_S) -> str:
    """Wait for the live region (#status) to say ``contains``; its whole text."""

    def said() -> str | None:
        text = status_text(driver)
        return text if contains in text else None

    try:
        return wait_for(said, f"status message containing {contains!r}", timeout)
    except AssertionError:
        raise AssertionError(
            f"status message never contained {contains!r}; it says {status_text(driver)!r}"
        ) from None


def wait_verdict(driver: Any, timeout: float = 3 * WAIT_S) -> str:
    """Wait for the check page's verdict; on timeout, say what the page said instead.

    Longer than other waits: the check reads the chain, which waits for the chain lock
    behind the deployment's anchoring. Once in CI no verdict came within 20 s, and
    nothing said why; the failure message now does."""
    try:
        return str(wait_for(lambda: css(driver, "#verdict").text, "the verdict", timeout))
    except AssertionError:
        console = [e["message"] for e in driver.get_log("browser")]
        raise AssertionError(
            f"no verdict on {driver.current_url}; the page says {status_text(driver)!r};"
            f" its console: {console}"
        ) from None


def sign_in(driver: Any, server: Server, who: Actor, next_page: str = "") -> None:
    """Sign in through the form (as a person would) and wait for the next page."""
    path = "/console/" + (f"?next={next_page}" if next_page else "")
    driver.get(server.url("/console/?signed-out=1"))  # stays on the sign-in page
    driver.execute_script("sessionStorage.clear()")
    driver.get(server.url(path))
    field = visible(driver, "#api-key")
    field.clear()
    field.send_keys(who.key)
    css(driver, "#sign-in").click()
    wait_for(lambda: css(driver, "#who").text, "the signed-in header")


def active(driver: Any) -> Any:
    return driver.switch_to.active_element


def screenshot(driver: Any, name: str) -> Path:
    """Save a PNG of the whole page under test-artifacts/console/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    height = driver.execute_script(
        "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)"
    )
    size = driver.get_window_size()
    driver.set_window_size(size["width"], max(1000, min(int(height) + 140, 4000)))
    try:
        assert driver.save_screenshot(str(path)), f"no screenshot saved at {path}"
    finally:
        driver.set_window_size(size["width"], size["height"])
    return path


_DROP = """
const [target, input] = arguments;
const data = new DataTransfer();
data.items.add(input.files[0]);
for (const type of ["dragenter", "dragover", "drop"]) {
  target.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: data}));
}
input.remove();
"""


def drop_file(driver: Any, target_selector: str, path: Path) -> None:
    """Drop a file from disk on an element, as dragging it from a file manager does:
    the file is read by a temporary file input, then dropped with a DataTransfer."""
    input_ = driver.execute_script(
        "const i = document.createElement('input'); i.type = 'file'; i.id = 'drop-source';"
        "i.style.display = 'none'; document.body.append(i); return i;"
    )
    input_.send_keys(str(path))
    driver.execute_script(_DROP, css(driver, target_selector), input_)
