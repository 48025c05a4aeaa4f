"""The docs site and the monitor report in a real browser (headless Chromium via Selenium):
click through the DAG, lineage, search and the report's table of contents.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them). Without
them these tests skip with the reason, unless FEATUREKIT_REQUIRE_BROWSER=1, where they fail.
Screenshots go to the test's temp folder, never into the repository.
"""

from __future__ import annotations

import os
import shutil

import pytest
from test_docs import shop

from featurekit.docsite import generate_docs

WAIT = 20  # seconds; the machine may be busy


@pytest.fixture(scope="module")
def browser():
    driver_path = shutil.which("chromedriver")
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if driver_path is None or binary is None:
        reason = "headless Chromium not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("FEATUREKIT_REQUIRE_BROWSER") == "1":
            pytest.fail(f"FEATUREKIT_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def wait_for(driver, css: str, text: str | None = None):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    waiter = WebDriverWait(driver, WAIT)
    if text is None:
        return waiter.until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))
    waiter.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))
    return driver.find_element(By.CSS_SELECTOR, css)


def open_page(driver, path, fragment: str = "") -> None:
    driver.get(path.as_uri() + fragment)


@pytest.fixture(scope="module")
def refreshed_site(tmp_path_factory):
    from conftest import ProjectFactory

    factory = ProjectFactory("duckdb", tmp_path_factory.mktemp("site") / "proj")
    factory._sources = {}
    shop(factory)
    project = factory.open()
    project.refresh()
    page = generate_docs(project)
    yield page
    factory.cleanup()


def test_clicking_a_dag_node_opens_the_model_and_a_column_shows_its_lineage(
        browser, refreshed_site, tmp_path):
    from selenium.webdriver.common.by import By

    open_page(browser, refreshed_site)
    node = wait_for(browser, "#dag-svg a[data-id='m2'] rect")
    node.click()
    assert wait_for(browser, "#node-title", "m2").text.startswith("m2")
    assert browser.current_url.endswith("#node/m2")
    assert "view" in browser.find_element(By.CSS_SELECTOR, "table.facts").text
    browser.find_element(By.CSS_SELECTOR, "#columns tr[data-column='x'] a").click()
    sources = wait_for(browser, "#lineage .sources", "src.b")
    assert sources.text.split() == ["src.b"]
    assert "m1.b2" in browser.find_element(By.CSS_SELECTOR, "#lineage .tree").text
    assert "m3.x" in browser.find_element(By.CSS_SELECTOR, "#lineage .readers").text
    browser.save_screenshot(str(tmp_path / "lineage.png"))
    # the source column links back up: src.b is read by m1.b2, then m2.x, then m3.x
    browser.find_element(By.CSS_SELECTOR, "#lineage .sources a").click()
    readers = wait_for(browser, "#lineage .readers", "m3.x")
    assert readers.text.split() == ["m1.b2", "m2.x", "m3.x"]


def test_search_finds_a_column_and_enter_opens_it(browser, refreshed_site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    open_page(browser, refreshed_site)
    box = wait_for(browser, "#search")
    box.send_keys("c2")
    first = wait_for(browser, "#results a.result", "m2.c2")
    assert [a.text.split()[0] for a in browser.find_elements(
        By.CSS_SELECTOR, "#results a.result")] == ["m2.c2", "m3.c2"]
    assert first.text.startswith("m2.c2")
    box.send_keys(Keys.ENTER)
    assert wait_for(browser, "#lineage .sources", "src.c").text.split() == ["src.c"]
    box.clear()
    box.send_keys("no such thing")
    assert wait_for(browser, "#results", "no match")


def test_a_site_generated_before_any_refresh_says_never_refreshed(browser, tmp_path):
    from conftest import ProjectFactory

    factory = ProjectFactory("duckdb", tmp_path / "proj")
    factory._sources = {}
    shop(factory)
    page = generate_docs(factory.open())
    open_page(browser, page, "#node/m1")
    facts = wait_for(browser, "table.facts", "never refreshed")
    assert "last refresh" in facts.text
    assert wait_for(browser, "#tests", "no tests")
    browser.save_screenshot(str(tmp_path / "never.png"))
    factory.cleanup()


def test_report_table_of_contents_jumps_to_each_monitor(browser, tmp_path):
    import pyarrow as pa
    from conftest import ProjectFactory
    from selenium.webdriver.common.by import By
    from test_monitoring_run import DRIFT, events

    factory = ProjectFactory("duckdb", tmp_path / "proj")
    factory._sources = {}
    factory.write("monitors/drift.yml", DRIFT)
    factory.write("monitors/quality.yml", "description: Nulls in k.\nsource: events\n"
                  "timestamp: ts\ncurrent: {last: 1d}\n"
                  "checks:\n  - {column: k, test: null_rate, warn: 0.5, error: 0.9}\n")
    project = factory.open()
    project.engine.load_arrow(pa.Table.from_pandas(events(), preserve_index=False), "events")
    project.monitor(backfill=("2024-01-10", "2024-01-19", "1d"))
    run = project.monitor(as_of="2024-01-20")
    (report,) = project.monitor_report(run, tmp_path / "report.html")
    open_page(browser, report)
    links = browser.find_elements(By.CSS_SELECTOR, "#toc a")
    assert [a.text for a in links] == ["drift", "quality"]
    links[1].click()
    assert browser.current_url.endswith("#monitor-quality")
    section = wait_for(browser, "#monitor-quality")
    top = browser.execute_script("return arguments[0].getBoundingClientRect().top", section)
    # scrolled down to it (the last section may stop short of the top: the page ends)
    assert browser.execute_script("return window.scrollY") > 0
    assert 0 <= top < browser.execute_script("return window.innerHeight") / 2
    assert "Nulls in k." in section.text and "current window" in section.text
    browser.execute_script("window.scrollTo(0, 0)")
    links[0].click()
    drift = wait_for(browser, "#monitor-drift")
    assert abs(browser.execute_script("return arguments[0].getBoundingClientRect().top",
                                      drift)) < 2
    # the charts fill the page: a card is at least ~40% of the window wide
    card = browser.find_element(By.CSS_SELECTOR, "#monitor-drift .card svg")
    width = browser.execute_script("return arguments[0].getBoundingClientRect().width", card)
    assert width > 0.4 * browser.execute_script("return window.innerWidth")
    browser.save_screenshot(str(tmp_path / "report.png"))
    factory.cleanup()
