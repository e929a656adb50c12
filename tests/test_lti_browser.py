"""LTI launches in headless Chromium: the platform's course page frames the tool; the browser runs
the whole exchange (login initiation, the tool's cookie check, the platform's auto-posted form, the
launch) and then the chat, or a teacher's deep-linking choice.

The screenshot of an Arabic launch (tests/artifacts/lti-launch.png) is the README's.
"""

from pathlib import Path

import pytest

from .lti_platform import TEACHER
from .test_browser import ARGS, ARTIFACTS, CHROMIUM

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium: "
                                                              "run `rag setup --test` (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api", reason="needs the playwright package (test extras)")
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 900}, accept_downloads=True)
    page = context.new_page()
    yield page
    context.close()


def test_a_student_launches_the_assistant_from_a_course_and_asks(page, platform):
    page.goto(platform.course_url(user="student-browser", course="history-101", locale="ar"))
    tool = page.frame_locator("iframe#tool")
    tool.locator("#q").wait_for(timeout=60_000)
    assert tool.locator("html").get_attribute("dir") == "rtl"  # the platform asked for Arabic
    tool.locator("#q").fill("كم استمر حصار اوترار؟")
    tool.locator("#ask").click()
    reply = tool.locator(".msg.bot").last
    reply.locator(".refs").wait_for(timeout=60_000)
    assert "خمسة" in reply.inner_text() and reply.get_attribute("dir") == "rtl"
    link = reply.locator("a.permalink").first.get_attribute("href")
    assert "/passage/khwarazm_campaign/11?start=" in link
    reply.locator("details.cite-box summary").first.click()
    chicago = reply.locator(".cite-ref.chicago").first
    assert chicago.locator("b").inner_text().strip() == "شيكاغو" and "الفقرة 11" in chicago.locator(".cite-text").inner_text()
    page.screenshot(path=str(ARTIFACTS / "lti-launch.png"))
    with page.expect_download() as download:
        tool.locator("#export-md").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert "كم استمر حصار اوترار؟" in exported and "/passage/khwarazm_campaign/11" in exported
    # relaunching the activity: the conversation is still there
    page.goto(platform.course_url(user="student-browser", course="history-101", locale="ar"))
    page.frame_locator("iframe#tool").locator(".msg.bot .refs").first.wait_for(timeout=60_000)


def test_a_teacher_places_items_through_deep_linking(page, platform):
    page.goto(platform.course_url(user="teacher-browser", roles=(TEACHER,), deep_link=True))
    tool = page.frame_locator("iframe#tool")
    tool.locator("#pick-ask").check(timeout=60_000)
    tool.locator("#pick-question").fill("ما مصير حاكم أوترار؟")
    tool.locator('input[name="passage"][value="khwarazm_campaign:18"]').check()
    tool.locator("#pick-add").click()
    items = tool.locator("#dl-items li")  # the platform's page, after verifying the signed response
    items.first.wait_for(timeout=60_000)
    assert items.count() == 2
    assert "ما مصير حاكم أوترار؟" in items.nth(0).inner_text() and "khwarazm_campaign:18" in items.nth(1).inner_text()
