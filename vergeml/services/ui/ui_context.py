"""What every page of ``ml ui`` shares: the project's folders, the server's guard,
the run cache and the predictors, loaded on first use.

TensorFlow is imported only when a page asks a model for something (the
"Try it" page, a heatmap): a predictor is built then, once per run, by the
same model plugin as ``ml @name predict``, so the page's answers are the
command's answers.
"""
import os
import threading
from dataclasses import dataclass, field

from werkzeug.wrappers import Response

from vergeml.errors import UsageError

from vergeml.services.ui.guard import Guard
from vergeml.services.ui.page_shell import message, page
from vergeml.services.ui.run_reading import RunCache

HTML = "text/html; charset=utf-8"
PREDICTORS_KEPT = 2  # loaded models kept (each holds a backbone in memory)


def error_status(err):
    """The HTTP status of a :class:`~vergeml.errors.VergeMLError` a page or upload met:
    404 for an unknown run, 400 for another usage error, 422 for a run that is broken or
    cannot load its model."""
    if "unknown instance" in err.message:
        return 404
    return 400 if isinstance(err, UsageError) else 422


class PageError(Exception):
    """A request that cannot be answered: shown as a page with ``status``."""

    def __init__(self, status, message_text):
        super().__init__(message_text)
        self.status, self.message = status, message_text


@dataclass
class UiContext:
    """The project a server shows.

    Attributes:
        project_dir: the project folder.
        samples_dir: its samples folder (test files are relative to it).
        cache_dir: its cache folder (thumbnails, heatmaps).
        trainings_dir: its trainings folder.
        review_path: the review file of ``ml doctor --review`` the data page shows.
        guard: the server's :class:`~vergeml.services.ui.guard.Guard`.
        load_predictor: ``instance -> Predictor`` (the model plugin's, as ``ml predict``).
        max_upload: the largest upload, in bytes.
    """

    project_dir: str
    samples_dir: str
    cache_dir: str
    trainings_dir: str
    review_path: str
    guard: Guard
    load_predictor: object = None
    max_upload: int = 20 * 1024 * 1024
    runs: RunCache = None
    _predictors: dict = field(default_factory=dict)
    _lock: object = field(default_factory=threading.Lock)

    def __post_init__(self):
        self.runs = RunCache(self.trainings_dir)

    @property
    def project_name(self):
        """The project folder's name, shown in the header."""
        return os.path.basename(os.path.abspath(self.project_dir))

    def html(self, title, body, active=None, status=200, headers=None, csrf=True):
        """A whole page as a response (``csrf=False``: without the CSRF token)."""
        return Response(page(title, body, self.guard.csrf if csrf else "", self.project_name, active),
                        status=status, content_type=HTML, headers=headers)

    def error_page(self, status, text, csrf=True):
        """A page that says what went wrong, with ``status`` (``csrf=False``: for a request
        the guard refused, without the CSRF token)."""
        return self.html("Something went wrong" if status >= 500 else "Not available",
                         message(text, "error") + '<p><a href="/">Back to the runs</a></p>',
                         status=status, csrf=csrf)

    def predictor(self, name):
        """The loaded predictor of run ``name`` (built on first use, kept for the next).

        Raises:
            UsageError, VergeMLError: no such run, or it cannot predict.
        """
        with self._lock:  # one load at a time: two would build two models
            kept = self._predictors.get(name)
            if kept is None:
                kept = self.load_predictor(self.runs.instance(name))
                self._predictors[name] = kept
                while len(self._predictors) > PREDICTORS_KEPT:
                    self._predictors.pop(next(iter(self._predictors)))
            return kept
