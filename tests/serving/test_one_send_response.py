"""The worker's answer writer: headers it remembers are still acted on as gunicorn acts."""

from __future__ import annotations

import email.utils
import time

from gunicorn.config import Config

from facade.serving import worker


class _Request:
    version = (1, 1)
    method = "GET"

    def should_close(self) -> bool:
        return False


def test_content_length_is_acted_on_every_answer_not_only_the_first() -> None:
    for _ in range(3):  # the second answer would find the pair remembered
        answer = worker._OneSendResponse(_Request(), None, Config())
        answer.start_response("200 OK", [("Content-Type", "a/b"), ("Content-Length", "5")])
        assert answer.response_length == 5 and not answer.is_chunked()


def test_the_date_is_the_current_second() -> None:
    before = int(time.time())
    date = worker._http_date()
    assert email.utils.parsedate_to_datetime(date).timestamp() >= before
    assert worker._http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT"
