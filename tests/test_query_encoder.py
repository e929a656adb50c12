"""Query vectors without importing sentence-transformers: the same vectors, checked, with a fallback."""

import json
import random
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from rag.bert_encoder import QUERY_SCRIPTS, BertEncoder, in_query_scripts, supported_layout, write_query_tokenizer
from rag.embeddings import Embedder

LONG = "وصل جنكيز خان إلى بخارى في ربيع السنة وحاصرها أياماً ثم دخلها. " * 80  # > 512 tokens: truncated
TEXTS = ["query: متى سقطت بخارى؟", "query: Who governed Otrar?", "passage: " + LONG,
         "query: Ögedei and Jalāl al-Dīn met ʿAlāʾ al-Dīn's envoys", "query: ما هو 成吉思汗؟ 😀", ""]


def shipped_sentences(settings) -> list[str]:
    """Every line of the shipped sources and question sets, split at full stops."""
    texts = []
    files = [*settings.sources_dir.iterdir(), *(settings.project_dir / "bench").glob("*.jsonl")]
    for path in files:
        for line in path.read_text(encoding="utf-8").replace(".", "\n").splitlines():
            if line.strip():
                texts.append(line)
    return texts


def test_query_vectors_equal_sentence_transformers_vectors(embedder):
    """A batch of mixed lengths (padding), a text cut at 512 tokens, characters outside Latin and Arabic."""
    ours = embedder.query_encoder.encode(TEXTS)
    theirs = embedder.model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    assert np.abs(ours - theirs).max() < 1e-5
    one_by_one = np.stack([embedder.query_encoder.encode([t])[0] for t in TEXTS])
    assert np.abs(one_by_one - theirs).max() < 1e-5


def test_query_tokenizer_splits_every_shipped_sentence_like_the_whole_tokenizer(settings, embedder):
    whole = embedder.model.tokenizer
    texts = shipped_sentences(settings) + TEXTS
    assert len(texts) > 1000
    for text in texts:
        ids, mask = embedder.query_encoder.token_ids([text])
        assert ids[0].tolist() == whole(text, truncation=True, max_length=512)["input_ids"], text
        assert mask.sum() == ids.shape[1]


def test_query_tokenizer_splits_any_latin_and_arabic_text_like_the_whole_tokenizer(embedder):
    """Random strings of every Latin and Arabic block, including letters no piece holds."""
    whole = embedder.model.tokenizer
    letters = [chr(c) for low, high in QUERY_SCRIPTS for c in range(low, high + 1)]
    rng = random.Random(7)
    for _ in range(2000):
        text = "".join(rng.choice(letters + [" "] * 40) for _ in range(rng.randint(1, 16)))
        assert embedder.query_encoder.token_ids([text])[0][0].tolist() == whole(text)["input_ids"], repr(text)


def test_query_tokenizer_covers_latin_and_arabic_only():
    assert in_query_scripts("▁Jalāl al-Dīn ʿAlāʾ، جلال الدين «منكبرتي» — 1220م")
    assert not in_query_scripts("成吉思汗") and not in_query_scripts("😀")


def test_assistant_loads_without_importing_sentence_transformers(settings):
    """The ~3 s import of sentence-transformers and transformers stays out of `Assistant.load()`."""
    script = ("import sys; from rag import Assistant; a = Assistant.load(rebuild=False); "
              "answer = a.ask('Who governed Otrar?'); "
              "print(sys.modules.get('sentence_transformers') is None, answer.citations[0].paragraph > 0)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=settings.project_dir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]


def test_query_encoder_that_disagrees_with_the_index_gives_way_to_sentence_transformers(settings, assistant, capsys):
    embedder = Embedder.from_settings(settings)
    texts, vectors = assistant.index.clause_samples()
    assert len(texts) == 2 and embedder.check_query_encoder(texts, vectors)
    assert not embedder.check_query_encoder(texts, vectors[::-1])  # the Arabic and English clause swapped
    assert embedder.query_encoder is None
    assert "sentence-transformers" in capsys.readouterr().err
    question = "Who governed Otrar?"
    expected = embedder.model.encode(["query: " + question], normalize_embeddings=True)
    assert np.abs(embedder.encode_queries([question]) - expected).max() < 1e-6


def test_query_encoder_setting(settings):
    assert Embedder.from_settings(settings.replace(query_encoder="sentence-transformers")).query_encoder is None
    with pytest.raises(ValueError, match="query_encoder must be one of auto, sentence-transformers"):
        Embedder.from_settings(settings.replace(query_encoder="fast"))


def test_other_layouts_are_left_to_sentence_transformers(embedder, tmp_path):
    """Only BertModel weights with mean pooling: EmbeddingGemma's layout (dense projections after
    pooling) is left to sentence-transformers."""
    assert supported_layout(embedder.folder)["max_length"] == 512
    for name in ("modules.json", "config.json", "sentence_bert_config.json", "tokenizer_config.json"):
        (tmp_path / name).write_bytes((embedder.folder / name).read_bytes())
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_bytes((embedder.folder / "1_Pooling" / "config.json").read_bytes())
    (tmp_path / "tokenizer.json").touch()
    save_file({"bert.embeddings.word_embeddings.weight": torch.zeros(4, 384)}, str(tmp_path / "model.safetensors"))
    assert supported_layout(tmp_path) is not None
    assert BertEncoder.from_folder(tmp_path) is None  # weights named for another class than BertModel
    modules = json.loads((tmp_path / "modules.json").read_text())
    modules.insert(2, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    assert supported_layout(tmp_path) is None
    assert BertEncoder.from_folder(tmp_path) is None


def test_query_tokenizer_is_written_for_unigram_tokenizers_only(tmp_path):
    (tmp_path / "tokenizer.json").write_text(json.dumps({"model": {"type": "WordPiece", "vocab": {}}}))
    assert not write_query_tokenizer(tmp_path)
    assert list(tmp_path.iterdir()) == [tmp_path / "tokenizer.json"]


def test_a_folder_without_query_tokenizer_uses_the_whole_one(embedder, tmp_path):
    """A model folder set up before the query tokenizer existed (or any local BERT folder)."""
    for path in embedder.folder.rglob("*"):
        if path.is_file() and not path.name.startswith("query_tokenizer"):
            target = tmp_path / path.relative_to(embedder.folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)
    encoder = BertEncoder.from_folder(tmp_path)
    assert np.abs(encoder.encode(TEXTS) - embedder.query_encoder.encode(TEXTS)).max() < 1e-6
