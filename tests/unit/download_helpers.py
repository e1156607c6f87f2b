"""Shared by the download tests (no tests here): archives in memory, environments, runs."""
import io
import tarfile
import zipfile

from vergeml.commands.download import DownloadCommand
from vergeml.settings.project_settings import GLOBAL_OPTIONS
from vergeml.settings.environment import Environment


def make_env(tmp_path, subcommand=None):
    return Environment(tmp_path, settings=GLOBAL_OPTIONS.resolve({}, {}), subcommand=subcommand)


def make_zip(members):
    """Zip bytes from a mapping of member name -> bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def make_tar(members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def run_download(tmp_path, name, force=False):
    env = make_env(tmp_path, name)
    return DownloadCommand().run({"force": force}, env)
