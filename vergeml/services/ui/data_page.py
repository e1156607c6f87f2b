"""The data page: ``ml doctor``'s findings as galleries, from the review file of
``ml doctor --review`` (by default ``doctor/review.csv``), with its actions.

Choosing keep, remove or relabel for an image writes the ``action`` column of
that same file (``POST /data/review``), so the page and a spreadsheet edit one
file. Applying it is a separate, confirmed action (``POST /data/apply``) through
the command line's own path: every row checked, then the journal, then the
moves; ``POST /data/undo`` is ``ml doctor --undo``.
"""
import os
from collections import OrderedDict

from werkzeug.utils import redirect
from werkzeug.wrappers import Response

from vergeml.errors import VergeMLError
from vergeml.services.ui.page_shell import esc, message, page_number, page_slice, pager, url
from vergeml.services.ui.ui_context import PageError

PER_KIND = 24  # images per kind on one page


def data_page(ctx, request):
    """``GET /data?kind=...&page=...``: the findings of the review file, grouped by kind."""
    path = ctx.review_path
    if not os.path.isfile(path):
        return ctx.html("Data", _no_review(ctx), active="data")
    from vergeml.doctor.review import review_rows
    try:
        rows = review_rows(path)
    except VergeMLError as err:
        return ctx.html("Data", message(err.message, "error"), active="data", status=422)
    groups = OrderedDict()
    for row in rows:
        groups.setdefault(row["kind"] or "finding", []).append(row)
    wanted = request.args.get("kind")
    labels = _labels(ctx)
    sections = "".join(_section(ctx, kind, group, labels, request)
                       for kind, group in groups.items() if not wanted or kind == wanted)
    note = request.args.get("note")
    body = ((message(note) if note else "")
            + f'<p>From <code>{esc(_shown(ctx, path))}</code>: {len(rows)} row(s). Choosing an '
            'action saves it in that file at once; nothing moves until you apply it.</p>'
            + (sections or message("The review file lists no findings."))
            + _apply_form(ctx))
    return ctx.html("Data", body, active="data")


def _no_review(ctx):
    shown = _shown(ctx, ctx.review_path)
    return message(f"No review file at {shown} yet. Run ml doctor --review={shown} in the "
                   "project: it lists the mislabelled, duplicated, leaked and odd images, "
                   "which this page then shows.")


def _shown(ctx, path):
    relative = os.path.relpath(path, ctx.project_dir)
    return path if relative.startswith(os.pardir) else relative


def _labels(ctx):
    from vergeml.doctor.doctor_run import class_names
    try:
        return class_names(ctx.samples_dir)
    except VergeMLError:
        return []


def _section(ctx, kind, rows, labels, request):
    number = page_number(request.args) if request.args.get("kind") == kind else 1
    shown, number = page_slice(rows, number, PER_KIND)
    cards = "".join(_card(ctx, row, labels) for row in shown)
    return (f'<section><h2>{esc(kind)} <small>({len(rows)})</small></h2>'
            f'<div class="gallery">{cards}</div>'
            + pager("/data", number, len(rows), PER_KIND, kind=kind) + "</section>")


def _card(ctx, row, labels):
    file, action = row["file"], row["action"] or "keep"
    choices = ["keep", "remove"] + [f"relabel:{label}" for label in labels if label != row["label"]]
    if action not in choices:
        choices.append(action)
    options = "".join(f'<option value="{esc(c)}"{" selected" if c == action else ""}>{esc(c)}'
                      f'</option>' for c in choices)
    suggested = f' → <b>{esc(row["suggested"])}</b>' if row["suggested"] else ""
    alt = f'{file}, labelled {row["label"] or "none"}, {row["kind"]} finding'
    return (f'<figure><a href="{esc(url("/image", root="project", file=file))}">'
            f'<img loading="lazy" width="160" height="160" alt="{esc(alt)}" '
            f'src="{esc(url("/thumb", root="project", file=file))}"></a><figcaption>'
            f'<span class="file">{esc(file)}</span> {esc(row["label"])}{suggested} '
            f'<small>{esc(row["split"])} · score {esc(row["score"])}</small>'
            f'<form method="post" action="/data/review" class="review">'
            f'<input type="hidden" name="csrf" value="{esc(ctx.guard.csrf)}">'
            f'<input type="hidden" name="file" value="{esc(file)}">'
            f'<label>Action <select name="action">{options}</select></label> '
            f'<button type="submit">Save</button></form></figcaption></figure>')


def _apply_form(ctx):
    csrf = f'<input type="hidden" name="csrf" value="{esc(ctx.guard.csrf)}">'
    return ('<section><h2>Apply</h2><p>Applying moves every file whose action is remove or '
            'relabel (into <code>removed/</code> or its new class folder), with a journal; undo '
            'puts them back.</p><form method="post" action="/data/apply" class="apply">' + csrf
            + '<label><input type="checkbox" name="confirm" value="yes" required> I have '
            'reviewed the actions: move the files</label> <button type="submit">Apply the '
            'review</button></form> <form method="post" action="/data/undo" class="apply">'
            + csrf + '<button type="submit">Undo the last apply</button></form></section>')


def save_action(ctx, request):
    """``POST /data/review`` (``file``, ``action``): set the action in the review file.
    A script gets JSON; a plain form goes back to the page."""
    from vergeml.doctor.review import set_action
    file, action = request.form.get("file", ""), request.form.get("action", "")
    try:
        changed = set_action(ctx.review_path, file, action, _labels(ctx))
    except VergeMLError as err:
        raise PageError(400, err.message) from None
    if request.accept_mimetypes.best == "application/json":
        import json
        return Response(json.dumps({"file": file, "action": action, "rows": changed}),
                        content_type="application/json")
    return redirect(url("/data", note=f"{file}: {action}"), code=303)


def apply_review(ctx, request):
    """``POST /data/apply`` with ``confirm=yes``: ``ml doctor --apply`` on the review file."""
    from vergeml.doctor.doctor_run import apply_file
    if request.form.get("confirm") != "yes":
        raise PageError(400, "tick the box to confirm, then apply")
    try:
        journal, count, relabelled = apply_file(ctx.project_dir, ctx.samples_dir, ctx.review_path)
    except VergeMLError as err:
        raise PageError(400, err.message) from None
    note = (f"Moved {count} file(s): {relabelled} relabelled, {count - relabelled} into removed/."
            if count else "Nothing to apply: every row says keep.")
    return redirect(url("/data", note=note), code=303)


def undo(ctx, request):
    """``POST /data/undo``: ``ml doctor --undo``."""
    from vergeml.doctor.journal import undo as undo_moves
    try:
        count = undo_moves(ctx.project_dir)
    except VergeMLError as err:
        raise PageError(400, err.message) from None
    return redirect(url("/data", note=f"Put back {count} file(s)."), code=303)
