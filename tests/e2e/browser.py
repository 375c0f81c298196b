"""Headless Chromium from Debian's packages, driven by Selenium, for the
dashboard's tests and its screenshots.

Selenium is told where the browser and its driver are, so Selenium Manager
downloads nothing. Without them the tests fail, saying what to install;
NOMMER_NO_BROWSER=1 skips them instead.
"""

import os
import shutil
import tempfile

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
INSTALL = "apt-get update && apt-get install -y chromium chromium-driver"


def missing():
    """Why no browser can run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} is missing; install Debian's browser for the dashboard's tests: {INSTALL}"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -c requirements/constraints.txt -e '.[test]'"
    return None


def require():
    """Skip when NOMMER_NO_BROWSER=1 asks to; else fail when no browser can run."""
    import pytest

    if os.environ.get("NOMMER_NO_BROWSER") == "1":
        pytest.skip("NOMMER_NO_BROWSER=1: the dashboard's browser tests are skipped")
    problem = missing()
    if problem:
        pytest.fail(problem, pytrace=False)


class Browser:
    """One headless Chromium with a profile of its own (removed on close)."""

    def __init__(self, width=1400, height=900):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = tempfile.mkdtemp(prefix="nommer-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", f"--user-data-dir={self.profile}", f"--window-size={width},{height}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.driver.set_page_load_timeout(30)

    def close(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def console_errors(self):
        """What the page logged as errors (a CSP refusal shows here)."""
        return [e["message"] for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]

    def wait(self, predicate, timeout=20, what="the page"):
        from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait

        def attempt(driver):
            try:
                return predicate(driver)
            except StaleElementReferenceException:  # the page redrew it meanwhile
                return False

        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(attempt)
        except WebDriverException as e:
            raise AssertionError(f"waited {timeout} s for {what}; the page said: "
                                 f"{self.text('body')[:2000]!r}; console: {self.console_errors()}") from e

    def text(self, css):
        from selenium.webdriver.common.by import By

        found = self.driver.find_elements(By.CSS_SELECTOR, css)
        return found[0].text if found else ""

    def find(self, css):
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def click(self, css, timeout=20):
        """Click the element ``css`` names once it is there, again if the page redrew it."""
        from selenium.common.exceptions import StaleElementReferenceException

        def clicked(_):
            found = self.find(css)
            if not found or not found[0].is_displayed():
                return False
            try:
                found[0].click()
            except StaleElementReferenceException:
                return False
            return True

        self.wait(clicked, timeout, f"{css} to click")
