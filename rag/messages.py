"""Every sentence the product says in its own words, in both languages, in one place."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "empty_question": {
        "en": "Please type a question.",
        "ar": "من فضلك اكتب سؤالاً.",
    },
    "question_too_long": {
        "en": "The question is too long ({length} characters; the limit is {limit}). Please shorten it.",
        "ar": "السؤال طويل جداً ({length} حرفاً، والحد {limit}). من فضلك اختصره.",
    },
    "question_not_text": {
        "en": "The question must be text.",
        "ar": "يجب أن يكون السؤال نصاً.",
    },
    "history_not_list": {
        "en": "The conversation history must be a list of turns.",
        "ar": "يجب أن يكون سجل المحادثة قائمة من الأدوار.",
    },
    "history_bad_turn": {
        "en": "Turn {turn} of the conversation history needs a role (\"user\" or \"assistant\") and text content.",
        "ar": "الدور {turn} في سجل المحادثة يحتاج إلى دور (\"user\" أو \"assistant\") ومحتوى نصي.",
    },
    "bad_language": {
        "en": "Unknown answer language {value!r}: use \"ar\" or \"en\".",
        "ar": "لغة الإجابة {value!r} غير معروفة: استخدم \"ar\" أو \"en\".",
    },
    "internal_error": {
        "en": "Something went wrong while answering; please try again.",
        "ar": "تعذرت الإجابة عن هذا السؤال بسبب خطأ داخلي. حاول مرة أخرى.",
    },
    "not_in_text": {
        "en": "The text does not say this. The closest passages are listed as related.",
        "ar": "لا يذكر النص ذلك. أقرب المقاطع مدرجة بوصفها مقاطع ذات صلة.",
    },
    "part_not_in_text": {
        "en": "The text does not say: {part}.",
        "ar": "لا يذكر النص: {part}.",
    },
    "verdict_yes": {"en": "Yes:", "ar": "نعم:"},
    "verdict_no": {"en": "No:", "ar": "لا:"},
    "untranslated": {
        "en": "(The text has no English translation; the passage in Arabic:)",
        "ar": "(النص بغير العربية، وهذا المقطع بلغته الأصلية:)",
    },
}


def message(key: str, language: str, **values: object) -> str:
    templates = MESSAGES[key]
    return templates.get(language, templates["en"]).format(**values)
