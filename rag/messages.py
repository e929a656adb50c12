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
    # LTI launches (ui/lti.py): why a launch was refused, in the user's language
    "lti_not_configured": {
        "en": "This assistant is not set up for learning platforms yet: its administrator must run `rag lti keys` and `rag lti register`.",
        "ar": "لم يُهيَّأ هذا المساعد بعدُ للعمل مع منصات التعلم: على مسؤوله تشغيل `rag lti keys` و`rag lti register`.",
    },
    "lti_unknown_platform": {
        "en": "This learning platform (or its client id) is not registered with the assistant.",
        "ar": "منصة التعلم هذه (أو معرّف العميل الخاص بها) غير مسجلة لدى المساعد.",
    },
    "lti_unknown_deployment": {
        "en": "This deployment of the tool is not registered with the assistant.",
        "ar": "نشر الأداة هذا غير مسجل لدى المساعد.",
    },
    "lti_bad_signature": {
        "en": "The launch could not be verified: its signature does not match the platform's keys.",
        "ar": "تعذر التحقق من الإطلاق: توقيعه لا يطابق مفاتيح المنصة.",
    },
    "lti_expired": {
        "en": "The launch has expired. Please open the activity again from your course.",
        "ar": "انتهت صلاحية الإطلاق. من فضلك افتح النشاط مرة أخرى من مقررك.",
    },
    "lti_replayed": {
        "en": "This launch was already used. Please open the activity again from your course.",
        "ar": "استُخدم هذا الإطلاق من قبل. من فضلك افتح النشاط مرة أخرى من مقررك.",
    },
    "lti_bad_audience": {
        "en": "The launch was meant for another tool (wrong audience).",
        "ar": "الإطلاق موجّه إلى أداة أخرى (جمهور غير صحيح).",
    },
    "lti_missing_claims": {
        "en": "The launch is missing information the platform must send (user, roles, version or placement).",
        "ar": "ينقص الإطلاقَ معلوماتٌ يجب أن ترسلها المنصة (المستخدم أو الأدوار أو الإصدار أو موضع النشاط).",
    },
    "lti_bad_message_type": {
        "en": "The platform sent a kind of launch this tool does not handle.",
        "ar": "أرسلت المنصة نوعاً من الإطلاق لا تتعامل معه هذه الأداة.",
    },
    "lti_bad_state": {
        "en": "The launch did not come from this browser's sign-in (state or cookie missing). If your browser blocks cookies in embedded pages, open the activity in a new window.",
        "ar": "لم يأتِ الإطلاق من تسجيل الدخول في هذا المتصفح (الحالة أو ملف تعريف الارتباط مفقود). إذا كان متصفحك يحظر ملفات تعريف الارتباط في الصفحات المضمّنة فافتح النشاط في نافذة جديدة.",
    },
    "lti_bad_login": {
        "en": "The sign-in request from the platform is incomplete (issuer or login hint missing).",
        "ar": "طلب تسجيل الدخول الوارد من المنصة ناقص (المُصدِر أو تلميح الدخول مفقود).",
    },
    "lti_invalid": {
        "en": "The launch is not valid.",
        "ar": "الإطلاق غير صالح.",
    },
    "lti_session_expired": {
        "en": "Your session has ended. Please open the activity again from your course.",
        "ar": "انتهت جلستك. من فضلك افتح النشاط مرة أخرى من مقررك.",
    },
    "lti_not_deep_link": {
        "en": "Choosing items to add to a course needs a deep-linking launch from the platform.",
        "ar": "اختيار عناصر لإضافتها إلى المقرر يتطلب إطلاق ربط عميق من المنصة.",
    },
    "lti_nothing_chosen": {
        "en": "Choose at least one item to add to the course.",
        "ar": "اختر عنصراً واحداً على الأقل لإضافته إلى المقرر.",
    },
    "lti_ask_title": {"en": "Ask the study assistant", "ar": "اسأل المساعد"},
    "bad_json": {"en": "The request body is not valid JSON.", "ar": "نص الطلب ليس JSON صالحاً."},
    "lti_cookies_blocked": {
        "en": "Your browser does not allow this page to keep its sign-in inside the course page.",
        "ar": "لا يسمح متصفحك لهذه الصفحة بحفظ تسجيل الدخول داخل صفحة المقرر.",
    },
    "lti_open_new_window": {
        "en": "Open the assistant in a new window",
        "ar": "افتح المساعد في نافذة جديدة",
    },
    "loading": {"en": "Loading…", "ar": "جارٍ التحميل…"},
    "unknown_passage": {
        "en": "There is no paragraph {paragraph} in {source}.",
        "ar": "لا توجد فقرة رقم {paragraph} في {source}.",
    },
    "unknown_source": {
        "en": "Unknown source {source!r}; known: {known}.",
        "ar": "مصدر غير معروف {source!r}؛ المصادر المعروفة: {known}.",
    },

    # exported conversations (rag/citations.py)
    "export_title": {"en": 'Conversation with the Khwarazm study assistant', "ar": 'محادثة مع مساعد دراسة حملة المغول على خوارزم'},
    "export_exported": {"en": 'Exported', "ar": 'صُدِّرت في'},
    "export_question": {"en": 'Question', "ar": 'السؤال'},
    "export_answer": {"en": 'Answer', "ar": 'الإجابة'},
    "export_references": {"en": 'References', "ar": 'المراجع'},
    "export_related": {"en": 'The text does not answer this; related passages:', "ar": 'لا يجيب النص عن هذا؛ مقاطع ذات صلة:'},
    "export_paragraph": {"en": 'paragraph', "ar": 'الفقرة'},
    "export_translation": {"en": 'Translation', "ar": 'الترجمة'},
    "export_missing": {"en": '(this reference is not in the loaded texts)', "ar": '(هذا المرجع غير موجود في النصوص المحمّلة)'},
    # pages outside the app: permalinks, the deep-linking picker (ui/pages.py)
    "page_title": {"en": 'Khwarazm study assistant', "ar": 'مساعد دراسة حملة المغول على خوارزم'},
    "page_paragraph": {"en": 'Paragraph', "ar": 'الفقرة'},
    "page_cite": {"en": 'Cite this passage', "ar": 'الاستشهاد بهذا المقطع'},
    "page_licence": {"en": 'Licence', "ar": 'الترخيص'},
    "page_pick": {"en": 'Add the study assistant to your course', "ar": 'أضف مساعد الدراسة إلى مقررك'},
    "page_pick_help": {"en": 'Choose what to place in the course. Each item opens in the assistant.', "ar": 'اختر ما تضعه في المقرر. يُفتح كل عنصر في المساعد.'},
    "page_ask_item": {"en": 'Ask the assistant (a chat for each student)', "ar": 'اسأل المساعد (محادثة لكل طالب)'},
    "page_start_question": {"en": 'Starting question (optional)', "ar": 'سؤال البداية (اختياري)'},
    "page_passages": {"en": 'Passages to open in the reader', "ar": 'مقاطع تُفتح في النص'},
    "page_add": {"en": 'Add to the course', "ar": 'أضف إلى المقرر'},
    # a generator (rag/generative.py) that could not answer: the extractive answer follows this note
    "generator_unavailable": {
        "en": "(The answer server could not be reached; this answer is quoted from the text.)",
        "ar": "(تعذر الوصول إلى خادم الإجابات؛ هذه الإجابة مقتبسة من النص.)",
    },
    "generator_timeout": {
        "en": "(The answer server took too long; this answer is quoted from the text.)",
        "ar": "(تأخر خادم الإجابات كثيراً؛ هذه الإجابة مقتبسة من النص.)",
    },
    "generator_failed": {
        "en": "(The answer server gave no usable answer; this answer is quoted from the text.)",
        "ar": "(لم يقدم خادم الإجابات إجابة صالحة؛ هذه الإجابة مقتبسة من النص.)",
    },
    "generator_unsupported": {
        "en": "(The generated answer could not be checked against the text; this answer is quoted from it.)",
        "ar": "(تعذر التحقق من الإجابة المولدة من النص؛ هذه الإجابة مقتبسة منه.)",
    },
    "generator_language": {
        "en": "(The answer server did not answer in English; this answer is quoted from the text.)",
        "ar": "(لم يُجب خادم الإجابات بالعربية؛ هذه الإجابة مقتبسة من النص.)",
    },
}


def message(key: str, language: str, **values: object) -> str:
    templates = MESSAGES[key]
    return templates.get(language, templates["en"]).format(**values)
