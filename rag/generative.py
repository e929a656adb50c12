"""A generative answer engine over any local instruction model (transformers), behind the same contract.

The default engine is extractive because no model that reads and writes Arabic can be installed
here (see ../shared/MODELS.md). People with an instruction model on disk can set
`RAG_ENGINE=transformers RAG_GENERATOR_MODEL=/path/to/folder` (or a `.gguf` file). The model
sees the numbered passages in the answer's language, streams its answer, and every sentence is
then checked: a marker that points nowhere or a sentence the cited passage does not support
makes the assistant fall back to the extractive answer.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Iterator

from .engine import Claim, Draft, EngineInput

SYSTEM_PROMPT = {
    "en": ("Answer the question using only the numbered passages. Write one or two short sentences. "
           "End each sentence with the number of the passage it comes from in brackets, like [1]. "
           "If the passages do not answer the question, write: The text does not say."),
    "ar": ("أجب عن السؤال من المقاطع المرقمة فقط، في جملة أو جملتين قصيرتين. "
           "اختم كل جملة برقم المقطع الذي أخذت منه بين قوسين مثل [1]. "
           "إذا لم تجب المقاطع عن السؤال فاكتب: لا يذكر النص ذلك."),
}
SENTENCE = re.compile(r"(.+?)\s*\[(\d+)\]\s*[.!?؟]?")
SILENT = ("the text does not say", "لا يذكر النص")


class TransformersEngine:
    name = "transformers"

    def __init__(self, model_path: str, passages: int = 4, max_new_tokens: int = 96):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(model_path).expanduser()
        if path.is_file() and path.suffix == ".gguf":
            folder, kwargs = str(path.parent), {"gguf_file": path.name}
        elif path.is_dir():
            folder, kwargs = str(path), {}
        else:
            raise ValueError(f"generator model {model_path!r} is neither a model folder nor a .gguf file")
        self.tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
        self.model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
        self.passages = passages
        self.max_new_tokens = max_new_tokens

    def prompt(self, request: EngineInput) -> list[dict]:
        lines = []
        for n, hit in enumerate(request.hits[:self.passages], 1):
            text = hit.passage.view(request.language) or hit.passage.text
            lines.append(f"[{n}] {text}")
        user = "\n".join(["Passages:" if request.language == "en" else "المقاطع:", *lines, "",
                          ("Question: " if request.language == "en" else "السؤال: ") + request.question])
        return [{"role": "system", "content": SYSTEM_PROMPT[request.language]}, {"role": "user", "content": user}]

    def stream(self, request: EngineInput) -> Iterator[str | Draft]:
        from transformers import TextIteratorStreamer

        inputs = self.tokenizer.apply_chat_template(self.prompt(request), add_generation_prompt=True,
                                                    return_tensors="pt", return_dict=True)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        worker = threading.Thread(target=self.model.generate, kwargs=dict(
            **inputs, streamer=streamer, max_new_tokens=self.max_new_tokens, do_sample=False))
        worker.start()
        text = ""
        for piece in streamer:
            text += piece
            yield piece
        worker.join()
        yield parse_answer(text, len(request.hits[:self.passages]))


def parse_answer(text: str, passages: int) -> Draft:
    """Sentences with their [n] markers; a refusal or a marker outside 1..passages is kept as such
    (hit -1) so that verification rejects it."""
    if any(phrase in text.lower() for phrase in SILENT):
        return Draft([], answerable=False)
    claims = [Claim(sentence.strip(), int(n) - 1 if 1 <= int(n) <= passages else -1)
              for sentence, n in SENTENCE.findall(text)]
    return Draft(claims, answerable=bool(claims))
