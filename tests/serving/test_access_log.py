"""gunicorn's access log shows no id a client typed that found nothing (an NHS number in
the path), and no path no route knows beyond its first segment."""

from __future__ import annotations

from facade.serving.accesslog import masked

from .test_serve import get, serve, token  # noqa: F401  (serve is a fixture)

NHS = "9990000018"


def test_masked_keeps_a_plain_first_segment_only():
    assert masked("/") == "/…"
    assert masked("/healthz") == "/healthz"
    assert masked("/fhir/Patient/9990000018") == "/fhir/…"
    assert masked("/9990000018") == "/…"
    assert masked("/Smith/x") == "/…"


def test_ids_that_found_nothing_are_not_logged_as_typed(serve, tmp_path):  # noqa: F811
    served = serve()
    served.wait_ready()
    base = f"http://127.0.0.1:{served.port}/fhir"
    bearer = token(tmp_path / "state", base)
    for path, status in ((f"/Patient/{NHS}", 404), (f"/Smith/{NHS}", 404),
                         (f"/Patient/{NHS}/_history/1", 404), (f"/Smith?name={NHS}", 404)):
        assert get(base + path, bearer)[0] == status, path
    assert get(f"http://127.0.0.1:{served.port}/{NHS}")[0] == 404
    served.stop()
    log = served.log()
    assert NHS not in log and "Smith" not in log
    assert '"GET /fhir/Patient/- HTTP/1.1" 404' in log
    assert '"GET /fhir/… HTTP/1.1" 404' in log and '"GET /… HTTP/1.1" 404' in log
