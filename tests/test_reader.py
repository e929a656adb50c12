"""The engine's parts that need no model: question parts, surface features, the learned models'
arithmetic and file format, the word lists, fuzzy names."""

import json

import numpy as np
import pytest

from rag.glossary import Glossary
from rag.learned import FOLLOW_UP_CLASSES, HASH_DIM, KINDS, KindModel, ReaderModels, Standardized, hashed_features
from rag.query import split_parts
from rag.sources import GlossaryEntry, NameScope
from rag.textnorm import DATA, lexicon, tokenize, word_set


@pytest.mark.parametrize("question, parts", [
    ("Who led the Mongol army to Bokhara and when did they get there?",
     ["Who led the Mongol army to Bokhara", "and when did they get there?"]),
    ("من قاد الجيش إلى بخارى ومتى وصل؟", ["من قاد الجيش إلى بخارى", "ومتى وصل؟"]),
    ("شو صار بحاكم اوترار وليش؟", ["شو صار بحاكم اوترار", "وليش؟"]),
    ("Who governed Otrar? What happened to him?", ["Who governed Otrar?", "What happened to him?"]),
    ("Did the Mongols and the Turks fight?", ["Did the Mongols and the Turks fight?"]),  # "and" joins names
    ("ما الذي حدث في بلاد ما وراء النهر؟", ["ما الذي حدث في بلاد ما وراء النهر؟"]),  # ما of a place name
    ("كم عدد الفيلة", ["كم عدد الفيلة"]),
])
def test_a_question_is_cut_where_a_new_question_starts(question, parts):
    assert split_parts(question) == parts


def test_surface_features_are_stable_and_shared_by_spellings():
    a, b = hashed_features("قديش كان عدد الفيلة؟"), hashed_features("قديش كان عدد الفيله")
    assert np.array_equal(a, hashed_features("قديش كان عدد الفيلة؟"))  # crc32, not Python's salted hash
    assert len(set(a) & set(b)) >= len(a) - 4  # ة/ه fold: nearly the same features
    assert a.max() < HASH_DIM and len(hashed_features("")) == 0


def _models(rng) -> ReaderModels:
    def scorer(names, outputs=1, hidden=0):
        d = len(names)
        weights = [rng.normal(size=(d, hidden)), rng.normal(size=hidden), rng.normal(size=(hidden, outputs)),
                   rng.normal(size=outputs)] if hidden else [rng.normal(size=(d, outputs)), rng.normal(size=outputs)]
        return Standardized(names, rng.normal(size=d).astype(np.float32), np.abs(rng.normal(size=d)).astype(np.float32) + 1,
                            [w.astype(np.float32) for w in weights], threshold=0.25, calibration={"x": 1})

    kinds = KindModel(KINDS, rng.normal(size=(HASH_DIM, len(KINDS))).astype(np.float32),
                      rng.normal(size=(8, len(KINDS))).astype(np.float32), np.zeros(len(KINDS), np.float32))
    follow_up = KindModel(FOLLOW_UP_CLASSES, rng.normal(size=(HASH_DIM, 2)).astype(np.float32),
                          np.zeros((0, 2), np.float32), rng.normal(size=2).astype(np.float32))  # words alone
    return ReaderModels(kinds, scorer(("a", "b", "c"), hidden=4), scorer(("a", "d")), scorer(("e",)),
                        follow_up=follow_up, meta={"seed": 7})


def test_models_survive_their_file_and_score_the_same(tmp_path):
    rng = np.random.default_rng(0)
    models = _models(rng)
    digest = models.save(tmp_path / "reader.safetensors")
    again = ReaderModels.load(tmp_path / "reader.safetensors")
    x = rng.normal(size=(5, 3)).astype(np.float32)
    assert np.allclose(models.windows.logits(x), again.windows.logits(x), atol=1e-6)
    assert again.answerable.threshold == 0.25 and again.meta == {"seed": 7}
    vector = rng.normal(size=8).astype(np.float32)
    assert again.kinds.probabilities("How many?", vector) == pytest.approx(models.kinds.probabilities("How many?", vector))
    assert again.follow_up.probabilities("and then?", vector) == pytest.approx(models.follow_up.probabilities("and then?", vector))
    assert models.save(tmp_path / "copy.safetensors") == digest  # the same models, the same bytes


def test_a_two_layer_scorer_is_not_linear():
    rng = np.random.default_rng(1)
    scorer = _models(rng).windows
    x = rng.normal(size=(1, 3)).astype(np.float32)
    assert not np.allclose(scorer.logits(2 * x) - scorer.logits(x), scorer.logits(x) - scorer.logits(0 * x))


def test_kind_probabilities_sum_to_one():
    probabilities = _models(np.random.default_rng(2)).kinds.probabilities("متى سقطت بخارى؟", np.ones(8, np.float32))
    assert set(probabilities) == set(KINDS) and sum(probabilities.values()) == pytest.approx(1.0)


def test_word_lists_live_in_data_files_per_language():
    for language in ("ar", "en"):
        data = json.loads((DATA / f"lexicon.{language}.json").read_text(encoding="utf-8"))
        assert data == lexicon(language)
        for name in ("stopwords", "number_words", "months", "time_units", "place_words", "reason_words",
                     "negations", "interrogatives", "conjunctions"):
            assert data[name], (language, name)
    assert "قديش" in word_set("ar", "stopwords") and "how" in word_set("en", "stopwords")
    assert tokenize("شو صار بحاكم اوترار بالاخير؟") == ["صار", "حاكم", "اوترار"]


GLOSSARY = Glossary([
    GlossaryEntry("samarkand", "place", ("سمرقند",), ("Samarkand", "Samarqand"), "", ""),
    GlossaryEntry("genghis_khan", "person", ("جنكيز خان", "جنكيز"), ("Genghis Khan", "Genghis"), "", ""),
    GlossaryEntry("muhammad", "person", ("السلطان الخوارزمي",), ("the Khwarazmian Sultan",), "", ""),
    GlossaryEntry("jalal_al_din", "person", ("جلال الدين",), ("Jalal al-Din",), "", "",
                  (NameScope("text.ar.txt", 22, 24, ("السلطان الخوارزمي", "the Khwarazmian Sultan")),)),
    GlossaryEntry("nasa", "place", ("نسا",), ("Nasa",), "", ""),
], known_words=frozenset(tokenize("the city fell after a siege of five months and other cities")))


@pytest.mark.parametrize("text, found", [
    ("how many elephants did Samarkhand have", "samarkand"),  # one letter too many
    ("متى سقطت سمرقنط؟", "samarkand"),  # ط for د
    ("what did Gengis Khan do", "genghis_khan"),
    ("Samarquand", "samarkand"),
])
def test_misspelt_names_find_their_entry(text, found):
    assert [m.entry.id for m in GLOSSARY.find(text, fuzzy=True)] == [found]


@pytest.mark.parametrize("text", ["other cities", "the city fell", "nasal", "Nass"])
def test_words_of_the_text_and_short_names_are_not_taken_for_misspellings(text):
    assert GLOSSARY.find(text, fuzzy=True) == []


def test_misspellings_are_matched_only_when_asked():
    assert GLOSSARY.find("Samarkhand") == []


def test_a_scoped_name_means_its_entry_only_in_its_paragraphs():
    assert [m.entry.id for m in GLOSSARY.find("the Khwarazmian Sultan")] == ["muhammad"]
    assert [m.entry.id for m in GLOSSARY.find("the Khwarazmian Sultan", where=("text.ar.txt", 3))] == ["muhammad"]
    assert [m.entry.id for m in GLOSSARY.find("السلطان الخوارزمي", where=("text.ar.txt", 23))] == ["jalal_al_din"]
    assert [m.entry.id for m in GLOSSARY.find("the Khwarazmian Sultan", where=("other.ar.txt", 23))] == ["muhammad"]
