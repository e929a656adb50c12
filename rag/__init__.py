"""Bilingual question answering over an Arabic history of the Mongol campaign against Khwarazm.

    from rag import Assistant
    assistant = Assistant.load()
    answer = assistant.ask("Who governed Otrar?")
    print(answer.text, answer.citations[0].paragraph)
"""

from .answer import Answer, Citation
from .assistant import Assistant, QuestionError
from .settings import Settings

__all__ = ["Answer", "Assistant", "Citation", "QuestionError", "Settings"]
__version__ = "0.1.0"
