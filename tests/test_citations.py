"""Citations to take away: permalinks, Chicago and APA references in both languages, and a
conversation exported as Markdown or a printable page, with its references resolved against the
source itself. Runs on the shipped source files (no model)."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from rag.citations import ExportTurn, conversation_html, conversation_markdown, permalink, reference, references, resolve
from rag.sources import load_sources

from .conftest import PROJECT

DAY = dt.date(2026, 11, 30)


@pytest.fixture(scope="module")
def sources():
    return load_sources(PROJECT / "source_texts", PROJECT)


def test_a_permalink_names_the_source_paragraph_and_span(sources):
    text = sources[0]
    assert permalink("https://x.edu/", text, 11) == "https://x.edu/passage/khwarazm_campaign/11"
    assert permalink("https://x.edu", text, 11, 3748, 3824) == "https://x.edu/passage/khwarazm_campaign/11?start=3748&end=3824"


def test_references_in_chicago_and_apa_in_both_languages(sources):
    text = sources[0]
    url = "https://x.edu/passage/khwarazm_campaign/11"
    chicago_en = reference(text, 11, "chicago", "en", url, DAY)
    assert chicago_en == ("Anonymous. “The Mongol Campaign against the Khwarazmian Empire (615–619 AH/1218–1222 CE).” "
                          "Arabic text with an aligned English translation by the project team, paragraph 11. "
                          "Khwarazm study assistant, 2026. Accessed November 30, 2026. " + url + ".")
    chicago_ar = reference(text, 11, "chicago", "ar", url, DAY)
    assert chicago_ar.startswith("مؤلف مجهول. «حملة المغول على الدولة الخوارزمية") and "الفقرة 11" in chicago_ar
    assert "30 نوفمبر 2026" in chicago_ar and chicago_ar.endswith(url + ".")
    apa_en = reference(text, 11, "apa", "en", url, DAY)
    assert apa_en.startswith("Anonymous. (2026). The Mongol Campaign") and "(para. 11)." in apa_en and apa_en.endswith(url)
    assert "(الفقرة 11)" in reference(text, 11, "apa", "ar", url, DAY)
    assert set(references(text, 11, url, DAY)) == {"chicago", "apa"}
    with pytest.raises(ValueError, match="unknown citation style"):
        reference(text, 11, "mla", "en", url)


def test_a_field_the_meta_file_lacks_is_left_out_with_its_punctuation(sources):
    import dataclasses

    bare = dataclasses.replace(sources[0], meta={}, title={})
    assert reference(bare, 3, "chicago", "en", "https://x.edu/p", DAY) == (
        "“khwarazm_campaign.” paragraph 3. Accessed November 30, 2026. https://x.edu/p.")


def test_a_citation_resolves_to_the_sources_own_words_never_the_clients(sources):
    text = sources[0]
    para = text.paragraph(11)
    claimed = {"n": 1, "source": "source_texts/khwarazm_campaign.ar.txt", "paragraph": 11,
               "text": "FORGED TEXT", "highlights": [[3748, 3824]]}
    ref = resolve(sources, claimed, "https://x.edu")
    assert ref.quote == text.text[3748:3824].strip() and "FORGED" not in ref.quote
    assert ref.url.endswith("/passage/khwarazm_campaign/11?start=3748&end=3824") and "five months" in ref.translation
    whole = resolve(sources, {**claimed, "highlights": [[10**6, 10**6 + 5]]}, "https://x.edu")  # outside: the paragraph
    assert whole.quote == text.text[para.start:para.end] and whole.url.endswith("/11")
    assert resolve(sources, {**claimed, "source": "nowhere"}, "https://x.edu").source is None
    assert resolve(sources, {**claimed, "paragraph": 99}, "https://x.edu").source is None


def test_a_conversation_exports_as_markdown_and_as_a_printable_page(sources):
    answer = {"text": "The siege lasted five months [1].", "language": "en", "answerable": True,
              "citations": [{"n": 1, "source": "source_texts/khwarazm_campaign.ar.txt", "paragraph": 11,
                             "highlights": [[3748, 3824]]}], "passages": []}
    refusal = {"text": "The text does not say this.", "language": "en", "answerable": False, "citations": [],
               "passages": [{"n": 1, "source": "khwarazm_campaign", "paragraph": 3, "highlights": []}]}
    turns = [ExportTurn("How long was the siege of Otrar?", answer), ExportTurn("<b>What was the weather?</b>", refusal)]
    when = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)
    markdown = conversation_markdown(turns, sources, "https://x.edu", "en", when)
    assert "## 1. How long was the siege of Otrar?" in markdown and "The siege lasted five months \\[1\\]." not in markdown
    assert "[1] khwarazm_campaign, paragraph 11: <https://x.edu/passage/khwarazm_campaign/11?start=3748&end=3824>" in markdown
    assert f"> {sources[0].text[3748:3824].strip()}" in markdown and "Accessed November 30, 2026" in markdown
    assert "\\<b\\>What was the weather?\\</b\\>" in markdown and "related passages" in markdown
    page = conversation_html(turns, sources, "https://x.edu", "ar", when)
    assert page.startswith('<!doctype html><html lang="ar" dir="rtl">') and "<b>What" not in page
    assert 'href="#ref-1-1">[1]</a>' in page and 'href="https://x.edu/passage/khwarazm_campaign/11?start=3748&amp;end=3824"' in page


def test_the_api_gives_each_citation_its_permalink_and_references(server):
    answer = httpx.post(f"{server}/api/ask", json={"question": "How long did the siege of Otrar last?"}, timeout=60).json()
    cited = answer["citations"][0]
    assert cited["permalink"].startswith(f"{server}/passage/khwarazm_campaign/{cited['paragraph']}")
    assert set(cited["references"]) == {"chicago", "apa"} and cited["permalink"] in cited["references"]["apa"]["en"]
    exported = httpx.post(f"{server}/api/export", json={"turns": [{"question": "How long?", "answer": answer}],
                                                         "format": "markdown"}, timeout=60)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/markdown")
    assert 'filename="conversation.md"' in exported.headers["content-disposition"] and cited["permalink"] in exported.text
    printable = httpx.post(f"{server}/api/export", json={"turns": [{"question": "How long?", "answer": answer}],
                                                          "format": "html"}, timeout=60)
    assert printable.status_code == 200 and printable.text.startswith("<!doctype html>")


def test_a_permalink_opens_the_reader_at_the_passage_with_the_span_highlighted(server):
    page = httpx.get(f"{server}/passage/khwarazm_campaign/11?start=3748&end=3824", timeout=30)
    assert page.status_code == 200
    focus = page.text.split('class="reader-row focus" id="para-khwarazm_campaign-11"')[1].split('class="reader-row"')[0]
    assert "<mark>استمر حصار المدينة خمسة اشهر" in focus and "<mark>The siege of the city lasted five months" in focus
    assert page.text.count('class="reader-row focus"') == 1 and "Chicago" in page.text and "APA" in page.text
    arabic = httpx.get(f"{server}/passage/khwarazm_campaign/11", headers={"Accept-Language": "ar"}, timeout=30)
    assert '<html lang="ar" dir="rtl">' in arabic.text and "<mark>" not in arabic.text.split('id="para-')[1]
    for bad in ("khwarazm_campaign/99", "khwarazm_campaign/abc", "nowhere/1"):
        missing = httpx.get(f"{server}/passage/{bad}", headers={"Accept-Language": "ar"}, timeout=30)
        assert missing.status_code == 404 and 'lang="ar"' in missing.text
