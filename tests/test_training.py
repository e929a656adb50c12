"""`rag train` on a slice of the bank: the same seed gives the same weights, and the index records them."""

import json
import shutil

import pytest

from rag import Assistant
from rag.index import READER_FILE
from rag.learned import ReaderModels
from rag.training import fit, prepare, read_banks, train


@pytest.fixture(scope="module")
def examples(assistant):
    bank = read_banks(assistant)
    writers = sorted({q.writer for q in bank})
    chosen = [q for w in writers for q in [q for q in bank if q.writer == w][:8]]  # every writer, every shape
    return prepare(assistant, chosen)


def test_the_same_seed_gives_the_same_reader(assistant, examples, tmp_path):
    encoder, clauses = assistant.embedder.query_encoder, assistant.index.clause_vectors
    first = fit(examples, encoder, clauses, seed=5).models.save(tmp_path / "a.safetensors")
    second = fit(examples, encoder, clauses, seed=5).models.save(tmp_path / "b.safetensors")
    third = fit(examples, encoder, clauses, seed=6).models.save(tmp_path / "c.safetensors")
    assert first == second != third


def test_training_puts_the_reader_into_the_index_with_its_checksum(assistant, examples, settings, tmp_path):
    index_dir = tmp_path / "index"
    shutil.copytree(settings.index_dir, index_dir)
    (index_dir / READER_FILE).unlink()
    local = settings.replace(index_dir=index_dir)
    untrained = Assistant.load(local, rebuild=False, require_reader=False)
    with pytest.raises(Exception, match="rag train"):
        Assistant.load(local, rebuild=False)
    trained = train(untrained, questions=[e.question for e in examples[:40]])
    manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["reader"]["sha256"] == manifest["files"][READER_FILE]
    assert manifest["reader"]["seed"] == trained.models.meta["seed"] and manifest["reader"]["banks"]
    loaded = Assistant.load(local, rebuild=False)  # every file, the reader too, matches its checksum
    assert isinstance(loaded.extractive.models, ReaderModels)
    assert loaded.ask("How long did the siege of Otrar last?").language == "en"
