"""The source edition: the original byte for byte, an aligned translation, a glossary."""

import hashlib
import json

import pytest

from rag.passages import make_passages
from rag.sources import SourceError, load_source, load_sources

from .conftest import PROJECT, SHIPPED, STEM, make_corpus

SEED = PROJECT.parent / "shared" / "seed" / "000_b591f9d4088f33c0.txt"


@pytest.fixture(scope="module")
def source():
    return load_source(SHIPPED / f"{STEM}.ar.txt", PROJECT)


def test_original_is_the_seed_byte_for_byte(source):
    meta = json.loads((SHIPPED / f"{STEM}.meta.json").read_text(encoding="utf-8"))
    data = (SHIPPED / f"{STEM}.ar.txt").read_bytes()
    assert hashlib.sha256(data).hexdigest() == meta["sha256"] == source.sha256
    if SEED.exists():
        assert data == SEED.read_bytes()
    for key in ("title", "provenance", "licence", "translation_note"):
        assert meta[key]


def test_paragraphs_are_the_non_empty_lines(source):
    lines = [l.strip() for l in source.text.split("\n") if l.strip()]
    assert len(source.paragraphs) == len(lines) == 24
    assert [source.text[p.start:p.end] for p in source.paragraphs] == lines


def test_translation_covers_every_paragraph_clause_by_clause(source):
    assert source.translation_language == "en"
    for para in source.paragraphs:
        segs = [s for s in source.segments if s.paragraph == para.number]
        assert segs, para.number
        assert segs[0].start == para.start and segs[-1].end == para.end
        for a, b in zip(segs, segs[1:]):
            assert a.end <= b.start and not source.text[a.end:b.start].strip()
        for s in segs:
            assert source.text[s.start:s.end] == s.text
            assert s.translation and s.translation.strip() == s.translation


def test_every_passage_is_an_exact_slice_of_its_file(source):
    passages = make_passages(source, max_chars=1200)
    assert len(passages) == 24
    for p in passages:
        assert source.text[p.start:p.end] == p.text
        assert p.translation and p.view("en") == p.translation and p.view("ar") == p.text


def test_long_paragraphs_are_cut_between_clauses(source):
    passages = make_passages(source, max_chars=300)
    assert len(passages) > 24
    for p in passages:
        assert source.text[p.start:p.end] == p.text
        assert p.end - p.start <= 300 or len(p.segments) == 1


def test_glossary_names_people_and_places_in_both_languages(source):
    ids = {e.id: e for e in source.glossary}
    assert len(ids) >= 40
    otrar = next(e for e in source.glossary if "Otrar" in e.en)
    assert any(name in source.text for name in otrar.ar)
    assert all(e.ar and e.en for e in source.glossary)


def test_more_texts_are_picked_up_from_the_folder(tmp_path):
    folder = make_corpus(tmp_path / "source_texts", [1, 2], stem="alpha")
    make_corpus(folder, [3], stem="beta")
    (folder / "beta.en.jsonl").unlink()  # a text without translation is cut into clauses
    sources = load_sources(folder, tmp_path)
    assert [s.path for s in sources] == ["source_texts/alpha.ar.txt", "source_texts/beta.ar.txt"]
    beta = sources[1]
    assert beta.translation_language is None and len(beta.segments) > 1
    assert beta.segments and all(beta.text[s.start:s.end] == s.text and s.translation is None for s in beta.segments)


def test_misaligned_translation_is_refused(tmp_path):
    folder = make_corpus(tmp_path / "source_texts", [1])
    rows = [json.loads(l) for l in (folder / "mini.en.jsonl").read_text(encoding="utf-8").splitlines()]
    rows[0]["start"] += 1
    (folder / "mini.en.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows),
                                          encoding="utf-8")
    with pytest.raises(SourceError, match="do not match"):
        load_sources(folder, tmp_path)


def test_binary_or_missing_sources_give_clear_errors(tmp_path):
    folder = tmp_path / "source_texts"
    folder.mkdir()
    with pytest.raises(SourceError, match="no source texts"):
        load_sources(folder, tmp_path)
    (folder / "broken.txt").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(SourceError, match="UTF-8"):
        load_sources(folder, tmp_path)
