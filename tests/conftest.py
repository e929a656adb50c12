"""Shared fixtures: one real model and one real assistant for the whole session.

The suite runs against what `rag setup` installed (the converted multilingual-e5-small in the
model cache and the shipped index); tiny corpora are built from slices of the real text.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rag import Assistant, Settings
from rag.embeddings import Embedder

PROJECT = Path(__file__).resolve().parent.parent
SHIPPED = PROJECT / "source_texts"
STEM = "khwarazm_campaign"


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    """The installed set-up, with the LTI tool's keys and registrations in a temporary folder
    (tests never touch the operator's ~/.config)."""
    return Settings.from_env(lti_config=tmp_path_factory.mktemp("lti") / "lti.json")


@pytest.fixture(scope="session")
def embedder(settings) -> Embedder:
    return Embedder.from_settings(settings)


@pytest.fixture(scope="session")
def assistant(settings) -> Assistant:
    return Assistant.load(settings, rebuild=False)


def make_corpus(folder: Path, paragraphs: list[int], stem: str = "mini") -> Path:
    """A small source folder cut from the real text: the chosen paragraphs, their aligned
    translation segments (offsets shifted to the new file) and the real glossary."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (SHIPPED / f"{STEM}.ar.txt").read_text(encoding="utf-8")
    lines = [line for line in text.split("\n") if line.strip()]
    segments = [json.loads(l) for l in (SHIPPED / f"{STEM}.en.jsonl").read_text(encoding="utf-8").splitlines()]
    out_text, out_segments, offset = "", [], 0
    for new_number, number in enumerate(paragraphs, 1):
        line_start = text.index(lines[number - 1])
        for seg in segments:
            if seg["paragraph"] == number:
                shift = offset - line_start
                out_segments.append(dict(seg, paragraph=new_number, start=seg["start"] + shift,
                                         end=seg["end"] + shift))
        out_text += lines[number - 1] + "\n"
        offset = len(out_text)
    (folder / f"{stem}.ar.txt").write_text(out_text, encoding="utf-8")
    (folder / f"{stem}.en.jsonl").write_text(
        "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in out_segments), encoding="utf-8")
    shutil.copy(SHIPPED / f"{STEM}.glossary.json", folder / f"{stem}.glossary.json")
    return folder


@pytest.fixture
def mini_settings(tmp_path, settings) -> Settings:
    """Settings for a four-paragraph corpus in a temporary project folder."""
    make_corpus(tmp_path / "source_texts", [5, 6, 10, 11])
    return settings.replace(project_dir=tmp_path, sources_dir=tmp_path / "source_texts",
                            index_dir=tmp_path / "index")


@pytest.fixture(scope="session")
def server(assistant):
    """The real app (FastAPI + Gradio) served by uvicorn on a free loopback port, once per session."""
    import threading

    import uvicorn

    from ui.app import create_app, free_port, wait_until_ready

    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(create_app(assistant), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_until_ready(url)
    yield url
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def platform(server, settings):
    """A learning platform (tests/lti_platform.py, on lti1p3platform) registered with the tool."""
    from rag.lti import register_platform

    from .lti_platform import CLIENT_ID, DEPLOYMENT_ID, Platform

    platform = Platform(server).start()
    register_platform(settings.lti_config, platform.issuer, CLIENT_ID, f"{platform.url}/authorize",
                      f"{platform.url}/jwks", [DEPLOYMENT_ID])
    yield platform
    platform.stop()
