"""The downloadable data sets of the original VergeML.

URLs, file names and folder layouts follow the original tool; sizes and
SHA-256 digests are given where they are published (TensorFlow Datasets
checksums), else None.
"""
import csv
import http.cookiejar
import os
import urllib.request
from pathlib import Path

from vergeml.console import warn
from vergeml.data.formats import is_image_file
from vergeml.downloads.download_base import MIRROR_VARIABLE, Download, RemoteFile, extract, find_dir

MS_URL = ("https://download.microsoft.com/download/3/E/1/"
          "3E1C3F21-ECDB-4869-8368-6DEBA77B919F/kagglecatsanddogs_3367a.zip")
DATAVERSE = "https://dataverse.harvard.edu"
HAM_PAGE = DATAVERSE + "/dataset.xhtml?persistentId=doi:10.7910/DVN/DBW86T"


class CatsAndDogs(Download):
    """Microsoft's Kaggle cats-and-dogs photos -> ``cat/``, ``dog/``."""

    name = "cats-and-dogs"
    description = "25,000 labeled photos of cats and dogs (786.7 MB)."
    size_text = "786.7 MB"
    source = "https://www.microsoft.com/en-us/download/details.aspx?id=54765"
    classes = ("cat", "dog")
    files = (RemoteFile(MS_URL, "catsdogs.zip", 824894548,
                        "f9553e426bd725354ed3a27e3c6920caadb55c835d1ebd880d2e56d3f1fbb22b"),)
    # Zero-byte images in the archive; Thumbs.db is Windows junk, not a sample.
    corrupt = ("Cat/666.jpg", "Dog/11702.jpg", "Cat/Thumbs.db", "Dog/Thumbs.db")

    def prepare(self, paths, tmp, env):
        extract(paths[0], tmp / "x")
        pets = find_dir(tmp / "x", "PetImages")
        for rel in self.corrupt:
            (pets / rel).unlink(missing_ok=True)
        return [(find_dir(pets, "Cat"), "cat"), (find_dir(pets, "Dog"), "dog")]


class Dogs(Download):
    """Stanford Dogs: 120 breeds, ``Images/n02085620-Chihuahua`` -> ``chihuahua/``."""

    name = "dogs"
    description = "20,580 labeled photos of 120 dog breeds (757 MB)."
    size_text = "757 MB"
    source = "http://vision.stanford.edu/aditya86/ImageNetDogs/"
    files = (RemoteFile("http://vision.stanford.edu/aditya86/ImageNetDogs/images.tar", "dogs.tar",
                        793579520,
                        "a443fc2f9a851aa1a7b8e4fa4af94b8459fce2c9f5a2f4dd4669cf9673a4ec58"),)

    def prepare(self, paths, tmp, env):
        extract(paths[0], tmp / "x")
        images = find_dir(tmp / "x", "Images")
        return [(d, breed_name(d.name)) for d in sorted(images.iterdir()) if d.is_dir()]


def breed_name(folder):
    """``n02085782-Japanese_spaniel`` -> ``japanese-spaniel``."""
    return folder.split("-", 1)[-1].replace("_", "-").lower()


class UniqueObjects(Download):
    """Brady et al.'s 2,400 unique objects, copied flat (unlabeled)."""

    name = "unique-objects"
    description = "2,400 unlabeled photos of distinct objects, 256x256 RGB (67.8 MB)."
    size_text = "67.8 MB"
    source = "https://bradylab.ucsd.edu/stimuli.html"
    files = (RemoteFile("http://cvcl.mit.edu/MM/downloads/ObjectsAll.zip", "unique-objects.zip",
                        mirrors=("https://bradylab.ucsd.edu/stimuli/ObjectsAll.zip",)),)

    def prepare(self, paths, tmp, env):
        extract(paths[0], tmp / "x")
        folder = find_dir(tmp / "x", "OBJECTSALL")
        return [(p, p.name) for p in sorted(folder.iterdir()) if p.is_file() and is_image_file(p.name)]


class HAM10000(Download):
    """HAM10000 dermatoscopic images, sorted into ``<dx>/`` by the metadata."""

    name = "ham10000"
    description = "10,015 labeled dermatoscopic images of 7 skin lesion types (2.5 GB)."
    size_text = "2.5 GB"
    source = HAM_PAGE
    classes = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
    files = (
        RemoteFile(DATAVERSE + "/api/access/datafile/3172585?gbrecs=true", "ham10000_1.zip"),
        RemoteFile(DATAVERSE + "/api/access/datafile/3172584?gbrecs=true", "ham10000_2.zip"),
        RemoteFile(DATAVERSE + "/api/access/datafile/3172582?format=original&gbrecs=true",
                   "meta.csv"),
    )

    _headers = None

    def request_headers(self):
        """The session cookie, fetched once (not needed from a mirror)."""
        if self._headers is None:
            self._headers = {} if os.environ.get(MIRROR_VARIABLE) else _session_cookie()
        return self._headers

    def prepare(self, paths, tmp, env):
        for archive in paths[:2]:
            extract(archive, tmp / "x")
        images = {p.stem: p for p in (tmp / "x").rglob("*") if p.suffix.lower() == ".jpg"}
        out = tmp / "out"
        missing = 0
        for image_id, dx in read_metadata(paths[2]):
            source = images.get(image_id)
            if source is None:
                missing += 1
                continue
            (out / dx).mkdir(parents=True, exist_ok=True)
            source.rename(out / dx / f"{image_id}.jpg")
        if missing:
            warn(f"{missing:,} images listed in meta.csv are not in the archives")
        meta = tmp / "meta.csv"
        Path(paths[2]).replace(meta)  # kept beside the classes, as the original does
        return [(d, d.name) for d in sorted(out.iterdir())] + [(meta, "meta.csv")]


def read_metadata(path):
    """Yield ``(image_id, dx)`` per row of the HAM10000 metadata (CSV or TSV)."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        sample = handle.read(4096)
        handle.seek(0)
        dialect = csv.excel_tab if sample.count("\t") > sample.count(",") else csv.excel
        for row in csv.DictReader(handle, dialect=dialect):
            image_id, dx = (row.get("image_id") or "").strip(), (row.get("dx") or "").strip()
            if image_id and dx:
                yield image_id, dx


def _session_cookie(timeout=30):
    """A JSESSIONID from the Dataverse page, as the original sent one.

    Public Dataverse files download without it today, so failing to get one
    is not an error: the download itself reports real network problems.
    """
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    try:
        opener.open(HAM_PAGE, timeout=timeout).close()
    except OSError:
        return {}
    cookies = "; ".join(f"{c.name}={c.value}" for c in jar)
    return {"Cookie": cookies} if cookies else {}
