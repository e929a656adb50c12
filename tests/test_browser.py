"""The study app in a real browser: headless Debian Chromium driven by Playwright.

Screenshots go to tests/artifacts/ (gitignored). Skipped only when /usr/bin/chromium is missing
(`rag setup --test` installs it).
"""

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium: "
                                                              "run `rag setup --test` (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser_page(server):
    playwright = pytest.importorskip("playwright.sync_api", reason="needs the playwright package (test extras)")
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
        page = context.new_page()
        page.dialogs = []  # any alert() fired by injected markup would land here
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(server)
        page.wait_for_selector("#question textarea")
        # record the length of the newest reply each time the chat changes: streamed, it grows in steps
        page.evaluate("""() => { window.__lengths = [];
            new MutationObserver(() => { const m = document.querySelectorAll('#chat .msg');
                if (m.length) window.__lengths.push(m[m.length - 1].innerText.length); })
              .observe(document.querySelector('#chat'), {subtree: true, childList: true, characterData: true}); }""")
        yield page
        context.close()
        browser.close()


@pytest.fixture
def page(browser_page):
    return browser_page


def ask(page, question: str, *, final: bool = True) -> None:
    """Type a question, press Ask, wait until the reply is there (and, if `final`, complete)."""
    before = page.locator("#chat .msg").count()
    answers = page.locator("#chat .copy-ref").count()
    page.evaluate("() => { window.__lengths = []; }")
    page.fill("#question textarea", question)
    page.click("#ask")
    page.wait_for_function(f"document.querySelectorAll('#chat .msg').length >= {before + 2}", timeout=60_000)
    if final:
        page.wait_for_function(f"document.querySelectorAll('#chat .copy-ref').length > {answers}", timeout=60_000)


def test_arabic_then_english_each_in_its_direction(page):
    ask(page, "كم استمر حصار اوترار؟")
    messages = page.locator("#chat .msg")
    assert messages.nth(0).get_attribute("dir") == "rtl" and messages.nth(0).get_attribute("lang") == "ar"
    answer = messages.nth(1)
    assert answer.get_attribute("dir") == "rtl" and "خمسة اشهر" in answer.inner_text()
    lengths = page.evaluate("window.__lengths")
    final = len(answer.inner_text())
    assert len({n for n in lengths if 0 < n < final}) >= 2, lengths  # the reply grew in several steps
    marked = page.locator("#sources section#src-1-1 mark")
    assert marked.count() >= 1 and "خمسة اشهر" in marked.first.inner_text()
    assert "five months" in page.locator("#sources section#src-1-1 .src-translation").inner_text()
    page.screenshot(path=str(ARTIFACTS / "arabic.png"))

    ask(page, "Who led Inal Khan to their father's camp?")
    assert messages.nth(2).get_attribute("dir") == "ltr"
    english = messages.nth(3)
    assert english.get_attribute("dir") == "ltr" and english.get_attribute("lang") == "en"
    assert "Chagatai" in english.inner_text()
    # the newest answer's passages come first; the first answer's are folded below, still reachable
    assert page.locator("#sources section#src-2-1 mark").count() >= 1
    assert page.locator("#sources details.older section#src-1-1").count() == 1
    page.screenshot(path=str(ARTIFACTS / "english.png"))


def test_clicking_a_marker_brings_its_passage_into_view(page):
    # the first (Arabic) answer's [1] points at a passage folded away under the newest answer's
    page.evaluate("() => { const s = document.querySelector('#sources .sources'); if (s) s.scrollTop = 0; }")
    link = page.locator("#chat .msg").nth(1).locator("a.cite").first
    assert link.get_attribute("href") == "#src-1-1"
    link.click()
    page.wait_for_function("""() => { const el = document.querySelector('#src-1-1');
        const box = el.closest('.sources').getBoundingClientRect(), r = el.getBoundingClientRect();
        return el.offsetParent !== null && r.height > 0 && r.top >= Math.max(0, box.top) - 1
               && r.top < Math.min(window.innerHeight, box.bottom); }""", timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "citation-click.png"))


def test_copy_an_answer_with_its_references(page):
    page.locator("#chat .copy-ref").last.click()
    page.wait_for_selector("#chat .copy-ref.copied", timeout=5_000)
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "Chagatai" in copied and "\n[1] source_texts/khwarazm_campaign.ar.txt, ¶11" in copied
    assert not page.locator("#chat .copy-text").last.is_visible()  # carried for the button, never shown
    assert "source_texts" not in page.locator("#chat .msg").last.inner_text()


def test_cite_a_passage_and_export_the_conversation(page):
    source = page.locator("#sources section#src-2-1")
    permalink = source.locator("a.permalink").get_attribute("href")
    assert "/passage/khwarazm_campaign/11?start=" in permalink
    source.locator("details.cite-box summary").click()
    chicago = source.locator(".cite-ref").first.inner_text()
    assert chicago.startswith("Chicago") and "paragraph 11" in chicago and permalink in chicago
    with page.expect_download() as download:
        page.locator("#export-md").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert "## 1. كم استمر حصار اوترار؟" in exported and "## 2. Who led Inal Khan" in exported
    assert "Chagatai" in exported and permalink in exported
    with page.expect_download() as download:
        page.locator("#export-html").click()
    assert Path(download.value.path()).read_text(encoding="utf-8").startswith("<!doctype html>")


def test_html_and_markdown_in_a_question_are_shown_as_text(page):
    hostile = ('<img src=x onerror="alert(1)"><script>alert(2)</script> [link](javascript:alert(3)) '
               '**bold** Who governed Otrar?')
    ask(page, hostile)
    user = page.locator("#chat .msg").nth(-2)
    assert "<img src=x" in user.inner_text() and "[link](javascript:alert(3))" in user.inner_text()
    assert "**bold**" in user.inner_text()
    assert user.locator("img, script, a, strong").count() == 0
    page.wait_for_timeout(300)  # give an onerror handler the chance it must not have
    assert page.dialogs == []


def test_a_refusal_shows_related_passages_and_errors_stay_in_the_chat(page):
    ask(page, "What is the boiling point of water?")
    assert page.locator("#sources .answer-sources").first.locator("section.related").count() >= 1
    # bad input: the library's message, in the user's language, as a chat message (no traceback)
    ask(page, "س" * 2100, final=False)
    page.wait_for_function("() => { const m = document.querySelectorAll('#chat .msg');"
                           " return m[m.length - 1].innerText.includes('طويل'); }", timeout=10_000)
    assert page.locator("#chat .msg").last.get_attribute("dir") == "rtl"
    assert "Traceback" not in page.locator("#chat").inner_text()


def test_clear_reader_and_glossary(page):
    page.click("#clear")
    page.wait_for_function("document.querySelectorAll('#chat .msg').length === 0", timeout=10_000)
    assert page.locator("#sources .sources-empty").count() == 1

    page.get_by_role("tab", name="Reader · النص").click()
    row = page.locator("#reader .reader-row").nth(10)
    row.wait_for()
    assert row.locator(".reader-n").inner_text() == "11" and "five months" in row.locator(".reader-en").inner_text()
    assert row.locator(".reader-ar").get_attribute("dir") == "rtl"
    slips = page.locator("#reader .reader-row").nth(4).locator(".reader-en .src-notes li")  # the editors' footnotes
    assert slips.count() == 2 and "western bank" in slips.nth(1).inner_text()

    page.get_by_role("tab", name="Glossary · المسرد").click()
    size = "document.querySelector('#glossary').innerText.length"
    page.wait_for_function("document.querySelector('#glossary') && document.querySelector('#glossary').innerText.includes('Jalal')",
                           timeout=10_000)
    everything = page.evaluate(size)
    page.fill("#glossary-search textarea, #glossary-search input", "اينال")  # matches إينال / ينال too
    page.wait_for_function(f"{size} < {everything} / 3 && document.querySelector('#glossary').innerText.includes('Inal Khan')",
                           timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "glossary.png"))


def test_embed_page_answers_with_citations(page, server):
    embed = page.context.new_page()
    try:
        embed.goto(f"{server}/embed")
        embed.fill("#q", "كم استمر حصار اوترار؟")
        embed.click("#ask")
        embed.wait_for_selector(".msg.bot .refs mark", timeout=60_000)
        assert embed.locator(".msg.user").last.get_attribute("dir") == "rtl"
        bot = embed.locator(".msg.bot").last
        assert bot.get_attribute("dir") == "rtl" and "خمسة اشهر" in bot.locator("mark").first.inner_text()
        embed.fill("#q", "<img src=x onerror=alert(1)> Who governed Otrar?")
        embed.click("#ask")
        embed.wait_for_function("document.querySelectorAll('.msg.bot').length >= 2 && "
                                "!document.querySelector('.msg.bot:last-child')?.textContent.startsWith('…')",
                                timeout=60_000)
        assert embed.locator(".msg.user").last.get_attribute("dir") == "ltr"
        assert embed.locator("#log img").count() == 0 and page.dialogs == []
        embed.screenshot(path=str(ARTIFACTS / "embed.png"))
    finally:
        embed.close()
