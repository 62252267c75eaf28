"""Posted forms whose bytes are not UTF-8: the fields named, the rest read as sent."""

from __future__ import annotations

from django.test import RequestFactory

from checkpoints_admin.formdata import NotUtf8, PostedData, mark_not_utf8

FORM = "application/x-www-form-urlencoded"


def posted(body: bytes, content_type: str = FORM):
    request = RequestFactory().post("/", body, content_type=content_type)
    mark_not_utf8(request)
    return request


def test_a_form_in_utf8_is_left_as_django_reads_it() -> None:
    for body in (b"reason=plain&dates=2025-03-06", b"reason=caf%C3%A9+%E2%82%AC", "é=€".encode()):
        request = posted(body)
        assert not isinstance(request.POST, PostedData)
    assert posted(b"reason=caf%C3%A9+%E2%82%AC").POST.dict() == {"reason": "café €"}


def test_fields_not_in_utf8_are_named_with_their_first_bad_byte() -> None:
    request = posted(b"reason=ok&document=%7B%0A++%22a%22%3A+%22%FF%FE%22%7D&value=x%C3")
    assert isinstance(request.POST, PostedData)
    assert request.POST.not_utf8 == {
        "document": NotUtf8(0xFF, 2, 9),
        "value": NotUtf8(0xC3, 1, 2),
    }
    assert list(request.POST.lists()) == [
        ("reason", ["ok"]),
        ("document", ['{\n  "a": "\ufffd\ufffd"}']),
        ("value", ["x\ufffd"]),
    ]
    assert str(NotUtf8(0xFF, 2, 9)) == "byte 0xff at line 2, column 9"


def test_unescaped_bytes_leave_the_other_fields_as_sent() -> None:
    """Django read such a body as Latin-1, all of it: "café" became "cafÃ©"."""
    request = posted("reason=café&document=".encode() + b"\xff")
    assert request.POST.not_utf8 == {"document": NotUtf8(0xFF, 1, 1)}
    assert request.POST.dict() == {"reason": "café", "document": "\ufffd"}
