"""The Gradio endpoint `ask` gives the same Answer dict as the HTTP API.

    Client(url).predict(question, history, language, api_name="/ask")
    question: str; history: list of {"role": "user"|"assistant", "content": str} or None;
    language: "ar" | "en" | "auto" | None (None/"auto": the question's own language)
"""

import pytest
from gradio_client import Client


@pytest.fixture(scope="module")
def client(server):
    client = Client(server, verbose=False)
    yield client
    client.close()


def test_gradio_client_predict(client):
    answer = client.predict("Who led the second army?", None, None, api_name="/ask")
    assert answer["language"] == "en" and answer["answerable"] and answer["citations"]
    assert set(answer) >= {"text", "language", "answerable", "citations", "passages", "query"}
    arabic = client.predict("من قاد الجيش الثاني؟", [], "auto", api_name="/ask")
    assert arabic["language"] == "ar" and len(arabic["passages"]) >= 10


def test_gradio_client_history_and_language(client):
    history = [{"role": "user", "content": "Who governed Khujand?"},
               {"role": "assistant", "content": "Timur Malik governed Khujand [1]."}]
    answer = client.predict("Where did he go after leaving the city?", history, "ar", api_name="/ask")
    assert answer["language"] == "ar" and "Timur Malik" in answer["query"]


def test_gradio_client_bad_input_is_a_clear_error(client):
    with pytest.raises(Exception, match="Please type a question"):
        client.predict("  ", None, None, api_name="/ask")
    with pytest.raises(Exception, match="غير معروفة"):
        client.predict("من حكم اوترار؟", None, "fr", api_name="/ask")
