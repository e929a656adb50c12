"""The index is built, saved and loaded whole; a stale or damaged index is never used silently."""

import json
import shutil

import pytest

from rag import Assistant
from rag.index import FORMAT_VERSION, READER_FILE, CorruptIndexError, Index, StaleIndexError, choose_index_type
from rag.sources import load_sources


@pytest.fixture
def mini_index(mini_settings, embedder, settings):
    """A new project's index, with the shipped reader beside it (it reads any text; `rag build` keeps it)."""
    sources = load_sources(mini_settings.sources_dir, mini_settings.project_dir)
    index = Index.build(sources, embedder, mini_settings)
    mini_settings.index_dir.mkdir()
    shutil.copy(settings.index_dir / READER_FILE, mini_settings.index_dir / READER_FILE)
    index.save(mini_settings.index_dir)
    return sources, index


def test_manifest_records_what_the_index_was_built_from(mini_settings, mini_index, embedder):
    sources, _ = mini_index
    manifest = json.loads((mini_settings.index_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["model"] == mini_settings.model
    assert manifest["model_checksum"] == embedder.checksum
    assert manifest["dimensions"] == embedder.dim == 384
    assert manifest["passages"] == 4 and manifest["rows"] == 8  # Arabic and English view of each
    assert manifest["sources"]["source_texts/mini.ar.txt"]["sha256"] == sources[0].sha256
    assert manifest["chunking"]["max_passage_chars"] == mini_settings.max_passage_chars
    assert set(manifest["files"]) >= {"dense.faiss", "passages.jsonl", "dense_rows.npy"}


def test_saved_index_loads_back_identical(mini_settings, mini_index, embedder):
    sources, built = mini_index
    loaded = Index.load(mini_settings.index_dir, sources, mini_settings, embedder.checksum)
    assert [p.to_dict() for p in loaded.passages] == [p.to_dict() for p in built.passages]
    assert [p.text for p in loaded.passages] == [p.text for p in built.passages]
    assert loaded.dense.ntotal == built.dense.ntotal and loaded.languages == ["ar", "en"]


def test_changed_source_makes_the_index_stale(mini_settings, mini_index, embedder):
    path = mini_settings.sources_dir / "mini.ar.txt"
    path.write_text(path.read_text(encoding="utf-8") + "   سطر جديد.\n", encoding="utf-8")
    sources = load_sources(mini_settings.sources_dir, mini_settings.project_dir)
    with pytest.raises(StaleIndexError, match="source texts changed"):
        Index.load(mini_settings.index_dir, sources, mini_settings, embedder.checksum)


def test_other_model_or_chunking_makes_the_index_stale(mini_settings, mini_index, embedder):
    sources, _ = mini_index
    with pytest.raises(StaleIndexError, match="weights changed"):
        Index.load(mini_settings.index_dir, sources, mini_settings, "0" * 64)
    with pytest.raises(StaleIndexError, match="chunking"):
        Index.load(mini_settings.index_dir, sources, mini_settings.replace(max_passage_chars=300),
                   embedder.checksum)


@pytest.mark.parametrize("damage", ["truncate", "tamper", "delete"])
def test_damaged_index_file_is_detected(mini_settings, mini_index, embedder, damage):
    sources, _ = mini_index
    target = mini_settings.index_dir / "dense.faiss"
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[:100])
    elif damage == "tamper":
        data = bytearray(target.read_bytes())
        data[-5] ^= 0xFF
        target.write_bytes(bytes(data))
    else:
        target.unlink()
    with pytest.raises(CorruptIndexError, match="damaged"):
        Index.load(mini_settings.index_dir, sources, mini_settings, embedder.checksum)


def test_assistant_rebuilds_a_stale_index(mini_settings, mini_index):
    path = mini_settings.sources_dir / "mini.ar.txt"
    path.write_text(path.read_text(encoding="utf-8") + "   وصل جنكيز خان إلى بلخ.\n", encoding="utf-8")
    with pytest.raises(StaleIndexError):
        Assistant.load(mini_settings, rebuild=False)
    messages = []
    assistant = Assistant.load(mini_settings, progress=messages.append)
    assert any("stale" in m for m in messages)
    assert len(assistant.index.passages) == 5
    Assistant.load(mini_settings, rebuild=False)  # the rebuilt index was saved


def test_index_type_choice_by_size():
    assert choose_index_type(48) == "flat"
    assert choose_index_type(2_000_000) == "hnsw" and choose_index_type(100_000) == "flat"
    assert choose_index_type(48, "ivf") == "ivf"
    with pytest.raises(ValueError):
        choose_index_type(10, "annoy")
