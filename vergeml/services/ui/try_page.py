"""Try a run on your own images: drop or pick them, see the top labels, the unknown
flag and the heatmap.

The uploads go to ``POST /run/<name>/predict`` and ``/run/<name>/explain``,
answered by the REST service's own app (:class:`vergeml.services.rest.RestApp`)
over the run's predictor, so the page gives exactly what ``ml run:rest`` and
``ml @name predict`` give, with the same limits and error messages.
"""
from vergeml.errors import VergeMLError
from vergeml.instances import scan_instances
from vergeml.instances.instance import FINISHED
from vergeml.services.ui.page_shell import esc, message
from vergeml.services.ui.ui_context import error_status


def try_page(ctx, request):
    """``GET /try?run=<name>``."""
    runs = [i for i in scan_instances(ctx.trainings_dir, warn=False, summary=True)
            if i.status == FINISHED]
    if not runs:
        return ctx.html("Try it", message("No finished run yet: train one with ml train."),
                        active="try")
    runs.sort(key=lambda i: str(i.results.get("training_start") or ""), reverse=True)
    chosen = request.args.get("run") or runs[0].name
    options = "".join(f'<option value="{esc(i.name)}"{" selected" if i.name == chosen else ""}>'
                      f'@{esc(i.name)} (test_acc {_acc(i)})</option>' for i in runs)
    body = ('<form id="try" class="try" data-max-mb="'
            f'{ctx.max_upload / (1024 * 1024):g}"><label>Run <select name="run" id="try-run">'
            f'{options}</select></label>'
            '<div id="drop" class="drop">'
            '<p id="drop-help">Drop images here, or pick them:</p>'
            '<input type="file" id="try-files" name="files" accept="image/*" multiple '
            'aria-label="images to classify" aria-describedby="drop-help"></div></form>'
            '<noscript><p class="message error">This page needs JavaScript; '
            'ml @name predict works without.</p></noscript>'
            '<p id="try-status" role="status" aria-live="polite"></p>'
            '<div id="try-results" class="results"></div>')
    return ctx.html("Try it", body, active="try")


def _acc(instance):
    value = instance.results.get("test_acc")
    return f"{value:.3f}" if isinstance(value, (int, float)) else "–"


def rest_call(ctx, environ, start_response, name, route):
    """``POST /run/<name>/predict`` and ``/explain``: the REST app of the run's predictor.

    Args:
        ctx: the :class:`~vergeml.services.ui.ui_context.UiContext`.
        environ, start_response: the WSGI call.
        name: the run.
        route: ``predict`` or ``explain``.

    Returns:
        The WSGI body of the REST app's answer.
    """
    from vergeml.services.rest import HttpError, RestApp

    def load():
        try:
            return ctx.predictor(name)
        except VergeMLError as err:  # an unknown run 404; one that cannot predict 422
            raise HttpError(error_status(err), err.message) from None
    app = RestApp(None, ctx.max_upload, load=load)
    inner = dict(environ, PATH_INFO=f"/{route}", SCRIPT_NAME="")
    inner["HTTP_ACCEPT"] = "application/json"  # the page's script reads JSON, errors too
    return app(inner, start_response)
