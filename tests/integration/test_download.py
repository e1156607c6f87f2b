"""``ml download`` against a local HTTP server: the HTTP downloader and the data sets.

The tests use a local HTTP server on 127.0.0.1 (free port, background thread)
that this module starts itself; it supports Range requests and stops by
itself after a minute at the latest.
"""
import hashlib
import io
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from vergeml.downloads import catalog, http
from vergeml.downloads.download_base import RemoteFile
from vergeml.errors import VergeMLError

from tests.unit.download_helpers import make_tar, make_zip, run_download


SERVER_LIFETIME = 60  # seconds: the server shuts itself down even if a test hangs


# -- a Range-capable local HTTP server ------------------------------------------


class FileServer:
    """Serves ``files`` (name -> bytes) and records what was asked for.

    Attributes:
        ranges: whether Range requests are honoured (else 200 + full body).
        fail: HTTP status returned for every request, when set.
        truncate_once: names whose next response stops halfway.
        no_length: send no Content-Length (body ends at connection close).
        requests: ``(path, Range header or None)`` per request.
        sent: bytes of body sent in total.
    """

    def __init__(self):
        self.files = {}
        self.ranges = True
        self.fail = None
        self.truncate_once = set()
        self.no_length = False
        self.requests = []
        self.sent = 0
        handler = type("Handler", (_Handler,), {"state": self, "timeout": 10})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.timer = threading.Timer(SERVER_LIFETIME, self.httpd.shutdown)
        self.timer.daemon = True

    def __enter__(self):
        self.thread.start()
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.cancel()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


class _Handler(BaseHTTPRequestHandler):
    state = None

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        state = self.state
        name = self.path.lstrip("/")
        state.requests.append((name, self.headers.get("Range")))
        if state.fail:
            self.send_error(state.fail)
            return
        if name not in state.files:
            self.send_error(404)
            return
        body = state.files[name]
        start = self._range_start()
        if start is not None and start >= len(body):
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(body)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if start is not None:
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            start = 0
            self.send_response(200)
        chunk = body[start:]
        if self.state.no_length:
            self.close_connection = True  # the body ends when the connection closes
        else:
            self.send_header("Content-Length", str(len(chunk)))
        self.end_headers()
        if name in state.truncate_once:
            state.truncate_once.discard(name)
            chunk = chunk[: len(chunk) // 2]  # then drop the connection
            self.close_connection = True
        self.wfile.write(chunk)
        state.sent += len(chunk)

    def _range_start(self):
        header = self.headers.get("Range")
        if not header or not self.state.ranges:
            return None
        return int(header.split("=")[1].split("-")[0])


@pytest.fixture
def server():
    with FileServer() as srv:
        yield srv


@pytest.fixture
def mirror(server, monkeypatch):
    """Point every dataset at the local server."""
    monkeypatch.setenv("VERGEML_DOWNLOAD_MIRROR", server.url + "/")
    return server


def jpeg(color=(200, 30, 30)):
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), color).save(buffer, format="JPEG")
    return buffer.getvalue()


def sha(data):
    return hashlib.sha256(data).hexdigest()


PAYLOAD = os.urandom(300_000)


def use_files(monkeypatch, cls, *files):
    """Serve ``files`` (name, bytes) and declare them, with real checksums, on ``cls``."""
    remotes = tuple(RemoteFile(f"http://invalid.example/{n}", n, len(d), sha(d)) for n, d in files)
    monkeypatch.setattr(cls, "files", remotes)


def cats_and_dogs_zip():
    return make_zip({
        "PetImages/Cat/1.jpg": jpeg(), "PetImages/Cat/2.jpg": jpeg(),
        "PetImages/Cat/666.jpg": b"", "PetImages/Cat/Thumbs.db": b"junk",
        "PetImages/Dog/1.jpg": jpeg((0, 0, 200)), "PetImages/Dog/11702.jpg": b"",
        "readme[1].txt": b"license",
    })


# -- http.download ----------------------------------------------------------------


def test_full_download(server, tmp_path):
    server.files["a.bin"] = PAYLOAD
    dest = http.download(f"{server.url}/a.bin", tmp_path / "a.bin", sha256=sha(PAYLOAD),
                         progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "a.bin.part").exists()
    assert server.requests == [("a.bin", None)]


def test_download_without_content_length(server, tmp_path):
    server.files["a.bin"] = PAYLOAD
    server.no_length = True
    dest = http.download(f"{server.url}/a.bin", tmp_path / "a.bin", expected_size=len(PAYLOAD),
                         sha256=sha(PAYLOAD), progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_resume_sends_range_and_fetches_only_the_rest(server, tmp_path):
    server.files["a.bin"] = PAYLOAD
    (tmp_path / "a.bin.part").write_bytes(PAYLOAD[:100_000])
    dest = http.download(f"{server.url}/a.bin", tmp_path / "a.bin", sha256=sha(PAYLOAD),
                         progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert server.requests == [("a.bin", "bytes=100000-")]
    assert server.sent == len(PAYLOAD) - 100_000


def test_resume_restarts_when_server_ignores_range(server, tmp_path):
    server.files["a.bin"] = PAYLOAD
    server.ranges = False
    (tmp_path / "a.bin.part").write_bytes(b"stale bytes from elsewhere")
    dest = http.download(f"{server.url}/a.bin", tmp_path / "a.bin", progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert server.sent == len(PAYLOAD)


def test_resume_restarts_on_416(server, tmp_path):
    server.files["a.bin"] = PAYLOAD[:1000]
    (tmp_path / "a.bin.part").write_bytes(PAYLOAD[:5000])  # longer than the remote file
    dest = http.download(f"{server.url}/a.bin", tmp_path / "a.bin", progress=False)
    assert dest.read_bytes() == PAYLOAD[:1000]
    assert [r[1] for r in server.requests] == ["bytes=5000-", None]


def test_interrupted_transfer_keeps_part_and_resumes(server, tmp_path):
    server.files["a.bin"] = PAYLOAD
    server.truncate_once.add("a.bin")
    url, dest = f"{server.url}/a.bin", tmp_path / "a.bin"
    with pytest.raises(VergeMLError) as err:
        http.download(url, dest, progress=False)
    assert "connection closed after" in err.value.message
    assert "resume" in err.value.hint
    assert not dest.exists()
    assert (tmp_path / "a.bin.part").stat().st_size == len(PAYLOAD) // 2
    http.download(url, dest, sha256=sha(PAYLOAD), progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert server.requests[-1] == ("a.bin", f"bytes={len(PAYLOAD) // 2}-")


def test_checksum_mismatch_deletes_file(server, tmp_path):
    server.files["a.bin"] = PAYLOAD
    wrong = "0" * 64
    with pytest.raises(VergeMLError) as err:
        http.download(f"{server.url}/a.bin", tmp_path / "a.bin", sha256=wrong, progress=False)
    assert wrong in err.value.message and sha(PAYLOAD) in err.value.message
    assert not (tmp_path / "a.bin").exists()
    assert not (tmp_path / "a.bin.part").exists()


@pytest.mark.parametrize("status", [404, 500])
def test_http_error_is_clear(server, tmp_path, status):
    server.fail = status
    url = f"{server.url}/a.bin"
    with pytest.raises(VergeMLError) as err:
        http.download(url, tmp_path / "a.bin", progress=False)
    assert err.value.message.startswith(f"could not download {url}: HTTP {status}")
    assert str(tmp_path / "a.bin") in err.value.hint
    assert not (tmp_path / "a.bin").exists()


def test_existing_file_is_not_downloaded_again(server, tmp_path):
    (tmp_path / "a.bin").write_bytes(PAYLOAD)
    http.download(f"{server.url}/a.bin", tmp_path / "a.bin", sha256=sha(PAYLOAD), progress=False)
    assert server.requests == []


def test_wrong_file_placed_by_hand_is_reported(server, tmp_path):
    (tmp_path / "a.bin").write_bytes(b"something else")
    with pytest.raises(VergeMLError, match="is not the expected file") as err:
        http.download(f"{server.url}/a.bin", tmp_path / "a.bin", sha256=sha(PAYLOAD),
                      progress=False)
    assert "Delete it" in err.value.hint
    assert (tmp_path / "a.bin").exists() and server.requests == []


def test_disk_full_while_downloading_is_a_clear_error(server, tmp_path, monkeypatch):
    import errno
    server.files["a.bin"] = PAYLOAD

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(http.os, "fsync", disk_full)
    with pytest.raises(VergeMLError, match=r"could not write .*a\.bin\.part: No space left") as info:
        http.download(f"{server.url}/a.bin", tmp_path / "a.bin", progress=False)
    assert "resume" in info.value.hint
    assert (tmp_path / "a.bin.part").stat().st_size == len(PAYLOAD)  # kept for resuming


# -- the data sets, served from the local mirror ----------------------------------


def test_cats_and_dogs(mirror, tmp_path, monkeypatch, capsys):
    data = cats_and_dogs_zip()
    mirror.files["catsdogs.zip"] = data
    use_files(monkeypatch, catalog.CatsAndDogs, ("catsdogs.zip", data))
    assert run_download(tmp_path, "cats-and-dogs") == 0
    samples = tmp_path / "samples"
    assert sorted(p.name for p in samples.iterdir()) == ["cat", "dog"]
    assert sorted(p.name for p in (samples / "cat").iterdir()) == ["1.jpg", "2.jpg"]
    assert sorted(p.name for p in (samples / "dog").iterdir()) == ["1.jpg"]
    assert "Wrote 3 images in 2 classes to samples/" in capsys.readouterr().out
    assert list((tmp_path / ".cache" / "downloads").iterdir()) == []  # archive and staging gone


def test_existing_class_folder_is_refused_before_downloading(mirror, tmp_path, monkeypatch):
    mirror.files["catsdogs.zip"] = data = cats_and_dogs_zip()
    use_files(monkeypatch, catalog.CatsAndDogs, ("catsdogs.zip", data))
    (tmp_path / "samples" / "cat").mkdir(parents=True)
    (tmp_path / "samples" / "cat" / "mine.jpg").write_bytes(b"keep")
    with pytest.raises(VergeMLError) as err:
        run_download(tmp_path, "cats-and-dogs")
    assert "already contains cat" in err.value.message and "--force" in err.value.hint
    assert mirror.requests == []
    assert run_download(tmp_path, "cats-and-dogs", force=True) == 0
    assert sorted(p.name for p in (tmp_path / "samples" / "cat").iterdir()) == ["1.jpg", "2.jpg"]


def test_dogs_breed_folders(mirror, tmp_path, monkeypatch):
    data = make_tar({"Images/n02085620-Chihuahua/n02085620_1.jpg": jpeg(),
                     "Images/n02085782-Japanese_spaniel/n02085782_1.jpg": jpeg()})
    mirror.files["dogs.tar"] = data
    use_files(monkeypatch, catalog.Dogs, ("dogs.tar", data))
    run_download(tmp_path, "dogs")
    samples = tmp_path / "samples"
    assert sorted(p.name for p in samples.iterdir()) == ["chihuahua", "japanese-spaniel"]
    assert (samples / "chihuahua" / "n02085620_1.jpg").is_file()


def test_dogs_refuses_existing_breed_without_touching_samples(mirror, tmp_path, monkeypatch):
    data = make_tar({"Images/n02085620-Chihuahua/a.jpg": jpeg(),
                     "Images/n02085782-Japanese_spaniel/b.jpg": jpeg()})
    mirror.files["dogs.tar"] = data
    use_files(monkeypatch, catalog.Dogs, ("dogs.tar", data))
    (tmp_path / "samples" / "japanese-spaniel").mkdir(parents=True)
    with pytest.raises(VergeMLError, match="japanese-spaniel"):
        run_download(tmp_path, "dogs")
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["japanese-spaniel"]
    # the archive stays cached, so --force does not download it again
    requests = len(mirror.requests)
    run_download(tmp_path, "dogs", force=True)
    assert len(mirror.requests) == requests
    assert (tmp_path / "samples" / "chihuahua" / "a.jpg").is_file()


def test_unique_objects_are_flat(mirror, tmp_path):
    # No sha256 is published for this set: the real declaration is used as is.
    mirror.files["unique-objects.zip"] = make_zip(
        {"OBJECTSALL/1.JPG": jpeg(), "OBJECTSALL/2.JPG": jpeg(), "OBJECTSALL/Thumbs.db": b"x"})
    run_download(tmp_path, "unique-objects")
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["1.JPG", "2.JPG"]


def test_ham10000_sorted_by_dx(mirror, tmp_path, monkeypatch):
    part1 = make_zip({"ISIC_0001.jpg": jpeg(), "ISIC_0002.jpg": jpeg()})
    part2 = make_zip({"ISIC_0003.jpg": jpeg()})
    meta = (b"lesion_id,image_id,dx,dx_type,age,sex,localization\n"
            b"HAM_1,ISIC_0001,nv,histo,80.0,male,scalp\n"
            b"HAM_2,ISIC_0002,mel,histo,75.0,female,ear\n"
            b"HAM_3,ISIC_0003,nv,consensus,60.0,male,back\n")
    files = (("ham10000_1.zip", part1), ("ham10000_2.zip", part2), ("meta.csv", meta))
    mirror.files.update(files)
    use_files(monkeypatch, catalog.HAM10000, *files)
    run_download(tmp_path, "ham10000")
    samples = tmp_path / "samples"
    assert sorted(p.name for p in samples.iterdir()) == ["mel", "meta.csv", "nv"]
    assert sorted(p.name for p in (samples / "nv").iterdir()) == ["ISIC_0001.jpg", "ISIC_0003.jpg"]
    assert (samples / "meta.csv").read_bytes() == meta


def test_corrupt_archive_is_deleted_for_a_fresh_download(mirror, tmp_path, monkeypatch):
    mirror.files["catsdogs.zip"] = data = b"this is not an archive"
    use_files(monkeypatch, catalog.CatsAndDogs, ("catsdogs.zip", data))
    with pytest.raises(VergeMLError, match="could not extract catsdogs.zip"):
        run_download(tmp_path, "cats-and-dogs")
    assert not (tmp_path / ".cache" / "downloads" / "catsdogs.zip").exists()
    assert not (tmp_path / "samples").exists()
