"""The study app in a real browser: headless Debian Chromium driven by Playwright."""

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium: run `rag setup --test`")


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server)
        page.wait_for_selector("#question textarea")
        # count how often the chat changes while an answer arrives: streaming means several updates
        page.evaluate("""() => { window.__updates = 0;
            new MutationObserver(() => window.__updates++).observe(document.querySelector('#chat'),
                {subtree: true, childList: true, characterData: true}); }""")
        yield page
        browser.close()


def ask(page, question: str) -> None:
    before = page.locator("#chat .msg").count()
    page.evaluate("() => { window.__updates = 0; }")
    page.fill("#question textarea", question)
    page.click("#ask")
    page.wait_for_function(f"document.querySelectorAll('#chat .msg').length >= {before + 2}", timeout=60_000)
    page.wait_for_function("document.querySelector('#copy textarea') && document.querySelector('#copy textarea').value.length > 0",
                           timeout=60_000)


def test_arabic_then_english_each_in_its_direction(page):
    ask(page, "كم استمر حصار اوترار؟")
    messages = page.locator("#chat .msg")
    assert messages.nth(0).get_attribute("dir") == "rtl"
    answer = messages.nth(1)
    assert answer.get_attribute("dir") == "rtl" and "خمسة اشهر" in answer.inner_text()
    assert page.evaluate("window.__updates") >= 2  # the answer was streamed in pieces
    marked = page.locator("#sources section#src-1 mark")
    assert marked.count() >= 1 and "خمسة اشهر" in marked.first.inner_text()
    page.screenshot(path=str(ARTIFACTS / "arabic.png"))

    ask(page, "Who led Inal Khan to their father's camp?")
    assert messages.nth(2).get_attribute("dir") == "ltr"
    english = messages.nth(3)
    assert english.get_attribute("dir") == "ltr" and "Chagatai" in english.inner_text()
    assert "Translation" in page.locator("#sources").inner_text() or "translation" in page.locator("#sources").inner_text()
    page.screenshot(path=str(ARTIFACTS / "english.png"))


def test_clicking_a_marker_brings_its_passage_into_view(page):
    page.evaluate("() => document.querySelector('#sources .sources') && (document.querySelector('#sources .sources').scrollTop = 10000)")
    page.locator("#chat a.cite").last.click()
    page.wait_for_function("""() => { const el = document.querySelector('#src-1');
        const r = el.getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight; }""", timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "citation-click.png"))


def test_html_in_a_question_is_shown_as_text(page):
    hostile = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script> Who governed Otrar?'
    ask(page, hostile)
    assert page.evaluate("window.__xss") is None
    assert "<img src=x" in page.locator("#chat .msg").nth(-2).inner_text()
