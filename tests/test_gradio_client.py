"""The Gradio endpoint `ask` gives the same Answer dict as the HTTP API."""

import pytest
from gradio_client import Client


def test_gradio_client_predict(server):
    client = Client(server, verbose=False)
    answer = client.predict("Who led the second army?", None, None, api_name="/ask")
    assert answer["language"] == "en" and answer["answerable"] and answer["citations"]
    arabic = client.predict("من قاد الجيش الثاني؟", [], "auto", api_name="/ask")
    assert arabic["language"] == "ar" and len(arabic["passages"]) >= 10
    with pytest.raises(Exception, match="Please type a question"):
        client.predict("  ", None, None, api_name="/ask")
