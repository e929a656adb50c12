#!/usr/bin/env python3
"""Check a question file written for the question bank.

Usage: python3 /work/bankwork/check.py FILE.jsonl [--range A-B]
Prints every problem (line number and what is wrong) and a summary of counts. Exit code 0 when
there are no problems.
"""
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLAUSES = json.loads((HERE / "clauses.json").read_text(encoding="utf-8"))
KINDS = {"person", "group", "place", "date", "number", "duration", "reason", "manner", "event",
         "description", "list", "yesno", "quote", "multi"}
TRAPS = {"false_premise", "not_stated"}
VERDICTS = {"yes", "no", "not_stated"}
AR = re.compile(r"[\u0600-\u06FF]")
LAT = re.compile(r"[A-Za-z]")
DIACRITICS = re.compile(r"[\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED\u0640]")
AR_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


def norm(s):
    s = unicodedata.normalize("NFKC", s).translate(AR_DIGITS)
    s = DIACRITICS.sub("", s)
    s = re.sub("[إأآٱ]", "ا", s).replace("ى", "ي").replace("ة", "ه").replace("ؤ", "و").replace("ئ", "ي")
    s = s.lower().replace("\u2019", "'")
    s = re.sub(r"(?<=\d)[,\u066C](?=\d{3})", "", s)
    return re.sub(r"\s+", " ", s)


def found(keyword, text):
    k = norm(keyword).replace(",", "")
    if k.isdigit():
        return re.search(r"(?<!\d)" + k + r"(?!\d)", text) is not None
    return k in text


def clause_text(ids, lang):
    return norm(" ".join(CLAUSES[i]["ar" if lang == "ar" else "en"] for i in ids if i in CLAUSES))


def check_answer_part(where, part, lang, problems):
    ids = part.get("clauses")
    if not isinstance(ids, list) or not ids:
        problems.append(f"{where}: 'clauses' must be a non-empty list of clause ids")
        return
    bad = [i for i in ids if i not in CLAUSES]
    if bad:
        problems.append(f"{where}: unknown clause ids {bad}")
        return
    if not isinstance(part.get("answer"), str) or not part["answer"].strip():
        problems.append(f"{where}: 'answer' (a few words) is missing")
    kw = part.get("any")
    if not isinstance(kw, list) or not kw or not all(isinstance(k, str) and k.strip() for k in kw):
        problems.append(f"{where}: 'any' must be a non-empty list of keyword strings")
        return
    text = clause_text(ids, lang)
    missing = [k for k in kw if not found(k, text)]
    if missing:
        view = "AR" if lang == "ar" else "EN"
        problems.append(f"{where}: keywords {missing} do not occur in the {view} text of clauses {ids}")


def check_row(n, row, problems, seen_ids):
    where = f"line {n}"
    for key in ("id", "lang", "question", "answerable", "kind", "style", "writer"):
        if key not in row:
            problems.append(f"{where}: missing '{key}'")
            return
    if row["id"] in seen_ids:
        problems.append(f"{where}: duplicate id {row['id']}")
    seen_ids.add(row["id"])
    lang = row["lang"]
    if lang not in ("ar", "en"):
        problems.append(f"{where}: lang must be 'ar' or 'en'")
        return
    q = row["question"]
    a, l = len(AR.findall(q)), len(LAT.findall(q))
    if lang == "ar" and a < l:
        problems.append(f"{where}: an Arabic question must be mostly Arabic letters")
    if lang == "en" and a > 0:
        problems.append(f"{where}: an English question must not contain Arabic letters")
    if row["kind"] not in KINDS:
        problems.append(f"{where}: kind {row['kind']!r} is not one of {sorted(KINDS)}")
    if "history" in row:
        h = row["history"]
        if not isinstance(h, list) or not h or not all(
                isinstance(t, dict) and t.get("role") in ("user", "assistant") and isinstance(t.get("content"), str)
                for t in h):
            problems.append(f"{where}: history must be a list of {{role: user|assistant, content: str}}")
    if row["kind"] == "yesno":
        if row.get("verdict") not in VERDICTS:
            problems.append(f"{where}: a yesno question needs verdict yes|no|not_stated")
        elif (row["verdict"] == "not_stated") == bool(row["answerable"]):
            problems.append(f"{where}: verdict not_stated goes with answerable false, yes/no with true")
    elif "verdict" in row:
        problems.append(f"{where}: only kind yesno has a verdict")
    if row["answerable"] is True:
        if "trap" in row:
            problems.append(f"{where}: an answerable question has no 'trap'")
        if row["kind"] == "multi":
            parts = row.get("parts")
            if not isinstance(parts, list) or not 2 <= len(parts) <= 3:
                problems.append(f"{where}: kind multi needs 'parts': a list of 2 or 3 parts")
                return
            for i, part in enumerate(parts, 1):
                if part.get("kind") not in KINDS - {"multi"}:
                    problems.append(f"{where} part {i}: kind {part.get('kind')!r} not allowed")
                check_answer_part(f"{where} part {i}", part, lang, problems)
        else:
            check_answer_part(where, row, lang, problems)
    elif row["answerable"] is False:
        if row.get("trap") not in TRAPS:
            problems.append(f"{where}: an unanswerable question needs trap false_premise|not_stated")
        about = row.get("about")
        if not isinstance(about, list) or not about or not all(isinstance(p, int) and 1 <= p <= 24 for p in about):
            problems.append(f"{where}: an unanswerable question needs 'about': the paragraph numbers it is built on")
        if row.get("trap") == "false_premise":
            ids = row.get("clauses")
            if not isinstance(ids, list) or not ids or any(i not in CLAUSES for i in ids):
                problems.append(f"{where}: a false-premise question needs 'clauses': the clause ids the premise contradicts")
            if not isinstance(row.get("correction"), str) or not row["correction"].strip():
                problems.append(f"{where}: a false-premise question needs 'correction': what the text says instead")
    else:
        problems.append(f"{where}: answerable must be true or false")


def paragraphs_of(row):
    if row.get("answerable") is False:
        return set(row.get("about") or [])
    ids = row.get("clauses") or [i for p in row.get("parts") or [] for i in p.get("clauses") or []]
    return {int(i.split(".")[0]) for i in ids if i in CLAUSES}


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    path = Path(sys.argv[1])
    problems, rows, seen = [], [], set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {n}: not JSON ({exc})")
            continue
        if not isinstance(row, dict):
            problems.append(f"line {n}: not a JSON object")
            continue
        check_row(n, row, problems, seen)
        rows.append(row)
    for p in problems:
        print("PROBLEM", p)
    print(f"\n{len(rows)} questions, {len(problems)} problems")
    print("lang:", dict(Counter(r.get("lang") for r in rows)))
    print("answerable:", dict(Counter(r.get("answerable") for r in rows)))
    print("trap:", dict(Counter(r.get("trap") for r in rows if r.get("answerable") is False)))
    print("kind:", dict(Counter(r.get("kind") for r in rows)))
    print("style:", dict(Counter(r.get("style") for r in rows)))
    per = Counter(p for r in rows for p in paragraphs_of(r))
    print("questions per paragraph:", dict(sorted(per.items())))
    print("with history:", sum(1 for r in rows if r.get("history")))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
