"""The REST service's multipart form parser, in-process (the live server is in
tests/e2e/test_rest.py)."""
import io

import pytest


def test_multipart_parser_edge_cases():
    from vergeml.services.rest import HttpError, RestApp

    def read_form(body, content_type='multipart/form-data; boundary="b"'):
        environ = {"CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body)),
                   "wsgi.input": io.BytesIO(body)}
        return RestApp(None)._read_form(environ)

    data = b"\r\n--bx\x00binary\r\n--b-x\r\n"  # looks like the boundary, but is not
    body = (b"preamble\r\n--b\r\nContent-Disposition: form-data; name=\"labels\"\r\n\r\n3\r\n"
            b"--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"C:\\x\\a b.png\"\r\n"
            b"Content-Type: image/png\r\n\r\n" + data + b"\r\n--b--\r\nepilogue")
    fields, files = read_form(body)
    assert fields == {"labels": "3"}
    assert len(files) == 1 and files[0][1] == data
    upload = body.replace(b'filename="C:\\x\\a b.png"', b'filename="../up/a b.png"')
    assert read_form(upload)[1][0][0] == "a b.png"
    with pytest.raises(HttpError) as info:
        read_form(b"{}", "application/json")
    assert info.value.status == 415
    for bad in (b"no boundary here", b"--b\r\nContent-Disposition: form-data; name=x\r\n\r\nopen",
                b"--b\r\nno header block\r\n--b--"):
        with pytest.raises(HttpError) as info:
            read_form(bad)
        assert info.value.status == 400 and "multipart" in info.value.message
