"""report.html opened in headless Chromium: the summary and the timeline are there.

Chromium (Debian's ``chromium``) is installed by scripts/test; without it this test
skips, saying so.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from lxml import html

BROWSERS = ("chromium", "chromium-browser")


@pytest.fixture(scope="module")
def chromium():
    found = next((path for path in map(shutil.which, BROWSERS) if path), None)
    if found is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium; "
                    "scripts/test installs it): report.html is not opened in a browser")
    return found


def dump_dom(chromium: str, page, profile) -> html.HtmlElement:
    done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                           f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                          capture_output=True, timeout=120, check=True)
    return html.fromstring(done.stdout)


def test_the_report_shows_its_summary_and_timeline_in_a_browser(pack, chromium, tmp_path):
    folder, report, _ = pack
    dom = dump_dom(chromium, folder / "report.html", tmp_path / "profile")
    assert dom.get_element_by_id("verdict").text_content() == "Every scenario passed"
    rows = dom.get_element_by_id("summary").xpath(".//tr[td]")
    assert len(rows) == 7  # the Demo → Live checklist of docs/assurance.md
    assert all(row.xpath("td[2]")[0].text_content() == "passed" for row in rows)
    timeline = dom.get_element_by_id("timeline")
    main = [m for m in report["run"]["messages"] if m["phase"] in ("scripted", "throttle")]
    assert len(timeline.xpath(".//*[contains(@class, 'request')]")) == len(main)
    assert len(timeline.xpath(".//*[contains(@class, 'full')]")) == \
        sum(m["full_record"] for m in main)
    assert len(timeline.xpath(".//*[@class='limit']")) == 2
    assert timeline.xpath(".//*[contains(@class, 'status-429')]")
    assert not timeline.xpath(".//*[contains(@class, 'breach')]")
    scenarios = dom.get_element_by_id("scenarios").xpath(".//tr[td]")
    assert len(scenarios) == len(report["scenarios"])


def test_the_report_is_self_contained(pack):
    folder, _, _ = pack
    page = (folder / "report.html").read_text()
    assert "<script" not in page
    assert " src=" not in page
    assert 'href="http' not in page and "url(" not in page
