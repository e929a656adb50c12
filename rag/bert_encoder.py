"""Query vectors from a BERT sentence-transformers folder, without importing sentence-transformers.

Why: importing sentence-transformers imports transformers' model-loading machinery (its trainer,
fp8 kernels, tensor-parallel sharding), about 3 s of `Assistant.load()` on 2 cores. A query needs only
the encoder's forward pass, which is a few lines of torch. This module runs that pass on the very
files sentence-transformers reads (`tokenizer.json`, `model.safetensors`, the module configs), and
only for the layout it can reproduce exactly: a BERT `Transformer`, mean `Pooling`, `Normalize`.

Loading the 250k-piece XLM-R tokenizer alone takes ~0.6 s, so setup also writes a query tokenizer
holding only the pieces made of Latin and Arabic characters (`write_query_tokenizer`, ~0.2 s to load).
It splits any text whose characters all lie in those scripts exactly as the whole tokenizer does;
other text goes through the whole tokenizer, loaded when first needed.

It is never trusted blindly: `Embedder.check_query_encoder` encodes a few indexed clauses with it and
compares them with the vectors sentence-transformers wrote into the index; any disagreement falls back
to sentence-transformers. The index itself is always built through sentence-transformers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

_MODULE_TYPES = ("Transformer", "Pooling", "Normalize")
QUERY_TOKENIZER = "query_tokenizer.json"
QUERY_TOKEN_IDS = "query_tokenizer_ids.npy"  # query tokenizer id -> id of the whole tokenizer
# Latin (with its extensions, spacing and combining marks), Arabic (with its supplements and
# presentation forms), general punctuation, currency signs, and SentencePiece's word mark.
QUERY_SCRIPTS = ((0x0000, 0x007F), (0x00A0, 0x024F), (0x02B0, 0x036F), (0x0600, 0x06FF), (0x0750, 0x077F),
                 (0x08A0, 0x08FF), (0x1E00, 0x1EFF), (0x2000, 0x206F), (0x20A0, 0x20CF), (0x2581, 0x2581),
                 (0xFB50, 0xFDFF), (0xFE70, 0xFEFF))


def _read_json(path: Path) -> dict | list | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def in_query_scripts(text: str) -> bool:
    return all(any(low <= ord(ch) <= high for low, high in QUERY_SCRIPTS) for ch in text)


def write_query_tokenizer(folder: Path) -> bool:
    """Write the query tokenizer of a folder whose tokenizer is a Unigram model (False for any other).

    Unigram splits a word into the best-scoring sequence of vocabulary pieces found in it, so when
    every character of a text lies in QUERY_SCRIPTS, only pieces made of those characters can take
    part, and keeping exactly those pieces (with their scores, the lowest score, which sets the
    unknown-character penalty, and every added token) keeps every split the same.
    """
    whole = _read_json(folder / "tokenizer.json")
    if not isinstance(whole, dict) or (whole.get("model") or {}).get("type") != "Unigram":
        return False
    post = whole.get("post_processor")
    if post and post.get("type") != "TemplateProcessing":
        return False
    vocab = whole["model"]["vocab"]
    special = {token["id"] for token in whole.get("added_tokens", [])} | {whole["model"].get("unk_id")}
    lowest = min(range(len(vocab)), key=lambda i: vocab[i][1])
    keep = [i for i, (piece, _) in enumerate(vocab) if i in special or i == lowest or in_query_scripts(piece)]
    new_id = {old: new for new, old in enumerate(keep)}
    trimmed = {**whole, "model": {**whole["model"], "vocab": [vocab[i] for i in keep]},
               "added_tokens": [{**token, "id": new_id[token["id"]]} for token in whole.get("added_tokens", [])]}
    if trimmed["model"].get("unk_id") is not None:
        trimmed["model"]["unk_id"] = new_id[trimmed["model"]["unk_id"]]
    if post:
        trimmed["post_processor"] = {**post, "special_tokens": {
            name: {**token, "ids": [new_id[i] for i in token["ids"]]}
            for name, token in post.get("special_tokens", {}).items()}}
    (folder / QUERY_TOKENIZER).write_text(json.dumps(trimmed, ensure_ascii=False), encoding="utf-8")
    np.save(folder / QUERY_TOKEN_IDS, np.array(keep, dtype=np.int64))
    return True


def supported_layout(folder: Path) -> dict | None:
    """The BERT config of a folder this encoder reproduces exactly, or None for any other layout."""
    modules = _read_json(folder / "modules.json")
    if not isinstance(modules, list) or len(modules) != len(_MODULE_TYPES):
        return None
    if [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules] != list(_MODULE_TYPES) or modules[0].get("path"):
        return None
    config = _read_json(folder / "config.json") or {}
    pooling = _read_json(folder / str(modules[1].get("path", "")) / "config.json") or {}
    transformer = _read_json(folder / "sentence_bert_config.json") or {}
    other_pooling = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens" and v]
    if (config.get("model_type") != "bert" or config.get("position_embedding_type", "absolute") != "absolute"
            or config.get("hidden_act") != "gelu" or not pooling.get("pooling_mode_mean_tokens") or other_pooling
            or pooling.get("include_prompt", True) is not True or transformer.get("do_lower_case")
            or not (folder / "tokenizer.json").is_file() or not (folder / "model.safetensors").is_file()):
        return None
    tokenizer_config = _read_json(folder / "tokenizer_config.json") or {}
    limits = [transformer.get("max_seq_length"), tokenizer_config.get("model_max_length"),
              config.get("max_position_embeddings")]
    return {**config, "max_length": min(int(n) for n in limits if isinstance(n, (int, float)) and n > 0)}


class BertEncoder:
    """Mean-pooled, normalised BERT token states: what sentence-transformers computes for this layout."""

    def __init__(self, folder: Path, config: dict, weights: dict):
        import torch

        self.dim = int(config["hidden_size"])
        self._heads = int(config["num_attention_heads"])
        self._layers = int(config["num_hidden_layers"])
        self._eps = float(config["layer_norm_eps"])
        self._weights = weights
        self._folder, self._config, self._torch = folder, config, torch
        self._whole_tokenizer = None
        self._query_tokenizer, self._query_token_ids = None, None
        if (folder / QUERY_TOKENIZER).is_file() and (folder / QUERY_TOKEN_IDS).is_file():
            self._query_tokenizer = self._load_tokenizer(QUERY_TOKENIZER)
            self._query_token_ids = np.load(folder / QUERY_TOKEN_IDS)

    @classmethod
    def from_folder(cls, folder: Path) -> "BertEncoder | None":
        """The encoder of a supported folder whose weights carry BertModel's names, else None."""
        from safetensors.torch import load_file

        folder = Path(folder)
        config = supported_layout(folder)
        if config is None:
            return None
        weights = load_file(str(folder / "model.safetensors"))
        if not set(_weight_names(int(config["num_hidden_layers"]))) <= set(weights):
            return None
        return cls(folder, config, weights)

    def _load_tokenizer(self, filename: str):
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self._folder / filename))
        tokenizer.enable_truncation(self._config["max_length"])
        tokenizer.enable_padding(pad_id=int(self._config.get("pad_token_id", 0)))
        return tokenizer

    def token_ids(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids of the whole tokenizer and the attention mask, padded to the longest text."""
        query = self._query_tokenizer
        if query is not None and all(in_query_scripts(query.normalizer.normalize_str(t)) for t in texts):
            encodings = query.encode_batch(texts)
            ids = self._query_token_ids[np.array([e.ids for e in encodings])]
        else:
            if self._whole_tokenizer is None:
                self._whole_tokenizer = self._load_tokenizer("tokenizer.json")
            encodings = self._whole_tokenizer.encode_batch(texts)
            ids = np.array([e.ids for e in encodings])
        return ids, np.array([e.attention_mask for e in encodings])

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of texts (mean-pooled last layer)."""
        states, mask = self.hidden(texts)
        return self.pool(self.layers(states, mask, range(self._layers)), mask)

    def encode_with_head(self, texts: list[str], head: "QueryHead") -> tuple[np.ndarray, np.ndarray]:
        """The model's own vectors and those of its top layers replaced by a trained query head
        (rag/learned.py), sharing the layers below it."""
        states, mask = self.hidden(texts)
        below = self.layers(states, mask, range(head.start))
        own = self.pool(self.layers(below, mask, range(head.start, self._layers)), mask)
        tuned = self.pool(self.layers(below, mask, range(head.start, self._layers), head.torch_weights()), mask)
        return own, tuned

    def hidden(self, texts: list[str]):
        """Embedded tokens (before the first layer) and the attention mask, as torch tensors."""
        torch = self._torch
        F = torch.nn.functional
        w = self._weights
        token_ids, attention = self.token_ids(texts)
        ids = torch.from_numpy(token_ids)
        with torch.inference_mode():
            x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:ids.shape[1]]
                 + w["embeddings.token_type_embeddings.weight"][0])
            x = F.layer_norm(x, (self.dim,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self._eps)
        return x, torch.from_numpy(attention).to(torch.float32)

    def layers(self, x, mask, which, weights: dict | None = None):
        """Run transformer layers `which` over states x; `weights` overrides some of the model's."""
        torch = self._torch
        with torch.inference_mode():
            for i in which:
                x = self.layer(x, mask, i, weights)
        return x

    def layer(self, x, mask, i: int, weights: dict | None = None):
        """One BERT layer (differentiable when its weights require grad: rag train tunes the top ones)."""
        torch = self._torch
        F = torch.nn.functional
        w = self._weights if weights is None else {**self._weights, **weights}
        batch, length, _ = x.shape
        heads, width = self._heads, self.dim // self._heads

        def linear(x, name):
            return F.linear(x, w[name + ".weight"], w[name + ".bias"])

        def layer_norm(x, name):
            return F.layer_norm(x, (self.dim,), w[name + ".weight"], w[name + ".bias"], self._eps)

        def split_heads(x):
            return x.view(batch, length, heads, width).transpose(1, 2)

        blocked = (1.0 - mask[:, None, None, :]) * torch.finfo(torch.float32).min
        p = f"encoder.layer.{i}."
        q, k, v = (split_heads(linear(x, p + "attention.self." + s)) for s in ("query", "key", "value"))
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=blocked)
        attended = attended.transpose(1, 2).reshape(batch, length, self.dim)
        x = layer_norm(linear(attended, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        return layer_norm(linear(F.gelu(linear(x, p + "intermediate.dense")), p + "output.dense") + x,
                          p + "output.LayerNorm")

    def pool(self, x, mask) -> np.ndarray:
        F = self._torch.nn.functional
        pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1e-9)
        return F.normalize(pooled, dim=-1).detach().numpy()

    def layer_names(self, i: int) -> list[str]:
        """The weight names of layer i."""
        return [n for n in self._weights if n.startswith(f"encoder.layer.{i}.")]

    @property
    def depth(self) -> int:
        return self._layers


def _weight_names(layers: int) -> list[str]:
    names = ["embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
             "embeddings.token_type_embeddings.weight"]
    norms = ["embeddings.LayerNorm"]
    linears = []
    for i in range(layers):
        p = f"encoder.layer.{i}."
        linears += [p + "attention.self.query", p + "attention.self.key", p + "attention.self.value",
                    p + "attention.output.dense", p + "intermediate.dense", p + "output.dense"]
        norms += [p + "attention.output.LayerNorm", p + "output.LayerNorm"]
    return names + [f"{n}.{part}" for n in linears + norms for part in ("weight", "bias")]
