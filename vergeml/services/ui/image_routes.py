"""The image files the page shows: originals, thumbnails and heatmaps.

Every path comes from the request as ``root`` (``samples``: a test file as a
run stored it; ``project``: a file as the review file names it) and ``file``,
and goes through :func:`vergeml.services.ui.guard.resolve_image`: a path that
leaves its root, by ``..`` or by a symlink, is answered 404 like a missing one.
"""
import mimetypes

from werkzeug.wrappers import Response

from vergeml.services.ui import thumbnails
from vergeml.services.ui.guard import resolve_image
from vergeml.services.ui.run_reading import file_signature
from vergeml.services.ui.ui_context import PageError

CACHED = {"Cache-Control": "private, max-age=3600"}


def root_folder(ctx, root):
    """The folder a ``root`` name stands for.

    Raises:
        PageError: 404 for any other name.
    """
    folders = {"samples": ctx.samples_dir, "project": ctx.project_dir}
    if root not in folders:
        raise PageError(404, f"no such image folder: {root!r}")
    return folders[root]


def image_path(ctx, request):
    """The real path of the image a request names (``root`` and ``file``).

    Raises:
        PageError: 404 when it is not an image file of the project.
    """
    relpath = request.args.get("file", "")
    path = resolve_image(root_folder(ctx, request.args.get("root", "samples")), relpath)
    if path is None:
        raise PageError(404, f"no image {relpath!r} in the project")
    return path


def original(ctx, request):
    """``GET /image?root=...&file=...``: the file itself."""
    path = image_path(ctx, request)
    with open(path, "rb") as handle:
        data = handle.read()
    kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return Response(data, content_type=kind, headers=CACHED)


def thumbnail(ctx, request):
    """``GET /thumb?root=...&file=...``: a JPEG thumbnail; a placeholder (200, so a
    gallery has no broken images) for a file that is missing or does not decode."""
    try:
        data = thumbnails.thumbnail(ctx.cache_dir, image_path(ctx, request))
    except PageError:
        data = None
    if data is None:
        return Response(thumbnails.PLACEHOLDER, content_type="image/svg+xml",
                        headers={"X-Missing": "1"})
    return Response(data, content_type="image/jpeg", headers=CACHED)


def heatmap(ctx, request, name):
    """``GET /run/<name>/heatmap.png?file=...``: what the run's prediction of a sample
    looked at (Grad-CAM over the image), cached until the image or the model changes.

    Raises:
        PageError: 404 for a file that is not the project's; 501 when the run's model
            draws no heatmaps; 422 when the image does not decode.
    """
    from vergeml.data.images import BadImageError
    from vergeml.errors import VergeMLError
    path = image_path(ctx, request)
    instance = ctx.runs.instance(name)
    model = str(instance.model_path)  # a retrained or replaced model draws new heatmaps
    target = thumbnails.cache_file(ctx.cache_dir, path, "heatmap",
                                   f"{model}:{file_signature(model)}") + ".png"
    try:
        with open(target, "rb") as cached:
            return Response(cached.read(), content_type="image/png", headers=CACHED)
    except OSError:
        pass
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        _, png = ctx.predictor(name).heatmap_png(data)
    except NotImplementedError:
        raise PageError(501, f"@{name}'s model draws no heatmaps") from None
    except BadImageError as err:
        raise PageError(422, f"{request.args.get('file')}: not a valid image ({err.reason})") from None
    except VergeMLError as err:
        raise PageError(501, f"@{name} cannot draw heatmaps: {err.message}") from None
    thumbnails.keep(target, png)
    return Response(png, content_type="image/png", headers=CACHED)

