"""The caregiver dashboard in a real headless Chromium, for the browser tests: the browser,
waits for the page's state, reading a device's card, recording what the page says with its
own clock, the screenshots of docs/ (with OPENPALM_SCREENSHOTS=<folder>), and a history of
days in the agent's store."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dashboard_proc import PASSWORD
from pi_agent.core.days import Day
from pi_agent.store import Store

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
OPEN = {"palm": 3, "wrist": 25, "fingers": 5}
CLOSED = {"palm": 3, "wrist": 0, "fingers": 60}
DESKTOP, PHONE = (1200, 1000), (390, 844)
SHOTS = os.environ.get("OPENPALM_SCREENSHOTS")


def browser(tmp_path, size=DESKTOP):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--hide-scrollbars", "--force-device-scale-factor=1", "--lang=en-GB",
                 f"--window-size={size[0]},{size[1]}", f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    # A script or a page that takes long on a machine short of CPU is waited for, not failed
    # at WebDriver's 30 s: what a test waits for, it names in until() with its own limit.
    driver.set_script_timeout(180)
    driver.set_page_load_timeout(180)
    driver.console = []                       # every console entry seen so far
    return driver


# No wait is shorter: a wait is for an event, and its timeout only decides how long a failing
# test takes. A browser starved by a loaded machine took more than 10 s to take a click.
LEAST_WAIT_S = 60.0


def until(driver, predicate, timeout=30.0, what="the page"):
    """Wait for the page's state (a function of the driver); its value. ``timeout`` is raised
    to ``LEAST_WAIT_S``: the time the page takes is asserted on its own clock, never by this."""
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, max(timeout, LEAST_WAIT_S), poll_frequency=0.2).until(
        predicate, message=f"timed out waiting for {what}")


def click_fresh(driver, selector: str) -> bool:
    """Click the element now matching ``selector`` (False, to try again, if the page redrew
    it between finding and clicking)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    try:
        driver.find_element(By.CSS_SELECTOR, selector).click()
    except StaleElementReferenceException:
        return False
    return True


def console(driver) -> list[dict]:
    driver.console += driver.get_log("browser")
    return driver.console


def problems_in_console(driver) -> list[dict]:
    """Uncaught errors and anything the page itself had to warn about."""
    return [e for e in console(driver) if e["level"] == "SEVERE"
            or (e["level"] == "WARNING" and "app.js" in e.get("message", ""))]


def login(driver, base):
    from selenium.webdriver.common.by import By
    driver.get(base + "/")
    until(driver, lambda d: d.current_url.endswith("/login"), what="the login page")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login").click()
    until(driver, lambda d: d.execute_script("return typeof page === 'object' && page.fleet !== null"),
          what="the first data")


def js(driver, script, *args):
    return driver.execute_script(script, *args)


def card_text(driver, device, selector=""):
    """Read at once, in the page (it redraws a few times a second)."""
    return js(driver, "const e = document.querySelector(arguments[0]); return e === null ? null : e.textContent;",
              f'article[data-device="{device}"] {selector}'.strip())


def attr(driver, device, selector, name):
    return js(driver, "const e = document.querySelector(arguments[0]); return e === null ? null : e.getAttribute(arguments[1]);",
              f'article[data-device="{device}"] {selector}'.strip(), name)


def condition(driver, device):
    return attr(driver, device, "", "data-condition")


def press(driver, key):
    """A key pressed where the focus is, as a person would."""
    from selenium.webdriver.common.action_chains import ActionChains
    ActionChains(driver).send_keys(key).perform()


def observe(driver):
    """Record, with the page's clock, every text said by the live regions, the moments the
    broker notice changes, and how many times the cards were redrawn."""
    js(driver, """
      window.said = []; window.notices = []; window.redraws = 0;
      for (const id of ['announce', 'announce-alarm']) {
        new MutationObserver(() => { const t = document.getElementById(id).textContent;
          if (t) window.said.push({region: id, text: t, at: Date.now()}); })
          .observe(document.getElementById(id), {childList: true, characterData: true, subtree: true});
      }
      const notice = document.getElementById('broker-notice');
      new MutationObserver(() => { const p = notice.querySelector('p');
        window.notices.push({state: p ? p.getAttribute('data-state') : null, at: Date.now()}); })
        .observe(notice, {childList: true, subtree: true, characterData: true});
      new MutationObserver(() => { window.redraws += 1; })
        .observe(document.getElementById('devices'), {childList: true, subtree: true, characterData: true});
    """)


def shoot(driver, name, at=None):
    """With OPENPALM_SCREENSHOTS set: the page as a desktop and as a phone shows it (from its
    top, or with the element ``at`` selects at the top of the window)."""
    if not SHOTS:
        return
    folder = Path(SHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        driver.set_window_size(*size)
        until(driver, lambda d: js(d, "return window.innerWidth") == size[0], what="the window's size")
        js(driver, "if (arguments[0]) document.querySelector(arguments[0]).scrollIntoView(); else window.scrollTo(0, 0)",
           at)
        driver.save_screenshot(str(folder / f"dashboard-{name}-{label}.png"))
    driver.set_window_size(*DESKTOP)


def _history(state_dir: Path, today: str, missing=(4, 9)) -> dict[str, float]:
    """Thirteen days before ``today`` in the agent's store, less the ``missing`` ones."""
    import datetime as dt
    store = Store(state_dir)
    records, hours = {}, {}
    for i in range(1, 14):
        day = (dt.date.fromisoformat(today) - dt.timedelta(days=i)).isoformat()
        if i in missing:
            hours[day] = None
            continue
        rec = Day(goal_s=6 * 3600.0).to_json()
        rec["open_s"] = 3600.0 * (i * 7 % 8)              # one of them 0 h: a day with data, none open
        rec["worn_s"] = rec["open_s"] + 1800
        records[day], hours[day] = rec, rec["open_s"] / 3600
    rec = Day(goal_s=6 * 3600.0).to_json()               # and today so far, as if the agent had restarted
    rec["open_s"], rec["worn_s"] = 3.4 * 3600, 4.1 * 3600
    rec["weight_bearing"].update(sessions=1, total_s=130.0, in_target_s=95.0, mean_n=61.0, peak_n=84.0,
                                 load_ns=61.0 * 130)
    rec["vibration_s"] = 600.0
    store.checkpoint({**records, today: rec})
    store.close()
    return hours
