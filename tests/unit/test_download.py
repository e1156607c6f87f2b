"""Tests for ``ml download`` that need no server: unreachable hosts, archives, the
catalog, digits, the dataset names. The HTTP downloader and the data sets against
a local server are in tests/integration/test_download.py; the real ``ml download``
in tests/e2e/test_download.py.
"""
import io
import socket
import time
import zipfile

import numpy as np
import pytest
from PIL import Image

from vergeml.commands.download import DownloadCommand, resolve_dataset
from vergeml.downloads import catalog, http
from vergeml.downloads.download_base import extract
from vergeml.errors import UsageError, VergeMLError

from tests.unit.download_helpers import make_tar, make_zip, run_download


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- http.download ----------------------------------------------------------------


def test_unreachable_server_fails_fast(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/a.bin"
    start = time.monotonic()
    with pytest.raises(VergeMLError) as err:
        http.download(url, tmp_path / "a.bin", progress=False, timeout=5)
    assert time.monotonic() - start < 5
    assert err.value.message.startswith(f"could not download {url}: ")
    assert "network" in err.value.hint and str(tmp_path / "a.bin") in err.value.hint
    assert "\n" not in err.value.message
    assert list(tmp_path.iterdir()) == []  # no empty .part left behind


# -- archives ---------------------------------------------------------------------

@pytest.mark.parametrize("maker,suffix", [(make_zip, "zip"), (make_tar, "tar")])
def test_extract_refuses_path_traversal(tmp_path, maker, suffix):
    archive = tmp_path / f"evil.{suffix}"
    archive.write_bytes(maker({"ok/a.txt": b"a", "../../evil.txt": b"x"}))
    with pytest.raises(VergeMLError, match="evil"):
        extract(archive, tmp_path / "out" / "deep")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out" / "evil.txt").exists()


def test_extract_deletes_an_archive_with_a_broken_deflate_stream(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.txt", b"hello world " * 1000)
    data = bytearray(buffer.getvalue())
    data[40:60] = bytes(b ^ 0xFF for b in data[40:60])  # inside the compressed member
    archive = tmp_path / "bad.zip"
    archive.write_bytes(bytes(data))
    with pytest.raises(VergeMLError, match="could not extract bad.zip") as info:
        extract(archive, tmp_path / "out")
    assert "deleted" in info.value.hint and not archive.exists()


def test_extract_keeps_the_archive_when_writing_fails(tmp_path, monkeypatch):
    import errno
    from vergeml.downloads import download_base as base
    archive = tmp_path / "ok.zip"
    archive.write_bytes(make_zip({"a.txt": b"a"}))

    def disk_full(src, dst, length=0):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(base.shutil, "copyfileobj", disk_full)
    with pytest.raises(VergeMLError, match="could not extract ok.zip: No space left") as info:
        extract(archive, tmp_path / "out")
    assert "kept" in info.value.hint and archive.exists()


# -- the data sets ----------------------------------------------------------------


def test_dataset_download_offline_is_clear(tmp_path, monkeypatch):
    monkeypatch.setenv("VERGEML_DOWNLOAD_MIRROR", f"http://127.0.0.1:{free_port()}")
    pattern = r"^could not download http://127\.0\.0\.1:\d+/dogs\.tar"
    with pytest.raises(VergeMLError, match=pattern):
        run_download(tmp_path, "dogs")
    assert not (tmp_path / "samples").exists()


def test_catalog_declarations():
    assert catalog.breed_name("n02085620-Chihuahua") == "chihuahua"
    assert catalog.breed_name("n02085782-Japanese_spaniel") == "japanese-spaniel"
    for cls in (catalog.CatsAndDogs, catalog.Dogs, catalog.UniqueObjects, catalog.HAM10000):
        for remote in cls.files:
            assert remote.url.startswith("http") and remote.filename
            assert remote.sha256 is None or len(remote.sha256) == 64


# -- digits and the command --------------------------------------------------------

def test_digits_writes_1797_pngs_and_needs_force_to_rewrite(tmp_path, capsys):
    from sklearn.datasets import load_digits

    assert run_download(tmp_path, "digits") == 0
    assert "Wrote 1,797 images in 10 classes to samples/" in capsys.readouterr().out
    samples = tmp_path / "samples"
    assert sorted(p.name for p in samples.iterdir()) == [str(d) for d in range(10)]
    files = sorted(samples.rglob("*.png"))
    assert len(files) == 1797
    counts = np.bincount(load_digits().target)
    for digit in range(10):
        assert len(list((samples / str(digit)).iterdir())) == counts[digit]
    with Image.open(files[0]) as image:
        assert image.mode == "L" and image.size == (8, 8)
        assert np.asarray(image).max() > 200  # scaled from 0..16 to 0..255
    first = np.asarray(Image.open(samples / "0" / "0000.png"))
    expected = np.rint(load_digits().images[0] * 255 / 16)
    assert np.array_equal(first, expected)

    # a second run refuses to overwrite; --force replaces the folders
    with pytest.raises(VergeMLError, match="already contains 0, 1, 2, 3, 4 \\(and 5 more\\)"):
        run_download(tmp_path, "digits")
    (samples / "3" / "extra.png").write_bytes(b"x")
    run_download(tmp_path, "digits", force=True)
    assert not (samples / "3" / "extra.png").exists()
    assert len(list(samples.rglob("*.png"))) == 1797


def test_missing_and_unknown_dataset():
    with pytest.raises(UsageError, match="missing dataset: use ml download:<dataset>") as err:
        resolve_dataset(None)
    assert "digits" in err.value.hint and err.value.exit_code == 2
    with pytest.raises(UsageError, match="Did you mean 'download:digits'"):
        resolve_dataset("digit")


def test_every_registered_dataset_loads():
    from vergeml.plugins import registry as plugins

    names = plugins.names(plugins.DOWNLOADS)
    assert names == ["cats-and-dogs", "digits", "dogs", "ham10000", "unique-objects"]
    for name in names:
        dataset = resolve_dataset(name)
        assert dataset.name == name and dataset.description
    assert [o.name for o in DownloadCommand.options] == ["force"]
