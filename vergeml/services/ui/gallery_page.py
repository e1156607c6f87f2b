"""The test images behind a run's numbers: the gallery of one confusion-matrix cell
or of the most confidently wrong predictions, and the page of one test image
with its probabilities and the heatmap of what the prediction looked at.
"""
from vergeml.errors import VergeMLError
from vergeml.services.ui.page_shell import esc, link, message, page_slice, pager, url
from vergeml.services.ui.run_reading import cell_rows, confidently_wrong
from vergeml.services.ui.ui_context import PageError

TOP = 3  # probabilities under each thumbnail


def gallery(ctx, request, name):
    """``GET /run/<name>/images?true=I&pred=J`` (a confusion cell) or ``?wrong=1``."""
    preds = _predictions(ctx, name)
    if request.args.get("wrong"):
        rows, title, query = confidently_wrong(preds), "Wrong, most confident first", {"wrong": 1}
    else:
        true_index, predicted_index = _index(request, "true"), _index(request, "pred")
        rows = cell_rows(preds, true_index, predicted_index)
        title = f"True {preds.labels[true_index]}, predicted {preds.labels[predicted_index]}"
        query = {"true": true_index, "pred": predicted_index}
    shown, number = page_slice(rows, _index(request, "page", 1))
    figures = "".join(_figure(name, preds, row) for row in shown)
    body = (f'<p>{link("/run/" + name, "‹ back to @" + name)} · {len(rows)} test image(s)</p>'
            + (f'<div class="gallery" data-count="{len(rows)}">{figures}</div>' if rows
               else message("No test image falls here."))
            + pager(f"/run/{name}/images", number, len(rows), **query))
    return ctx.html(f"@{name}: {title}", body, active="runs")


def _predictions(ctx, name):
    try:
        preds = ctx.runs.predictions(ctx.runs.instance(name))
    except VergeMLError as err:
        raise PageError(404, err.message) from None
    if not preds.files:
        raise PageError(404, f"@{name} stored no file names with its test predictions "
                             "(trained by an older version): train again to see its images")
    return preds


def _index(request, key, default=None):
    raw = request.args.get(key)
    if raw is None and default is not None:
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise PageError(400, f"'{key}' must be a whole number, not {raw!r}") from None


def _top(preds, row, count=TOP):
    probs = preds.y_prob[row]
    order = probs.argsort()[::-1][:count]
    return [(preds.labels[i], float(probs[i])) for i in order]


def _figure(name, preds, row):
    file = preds.files[row]
    true_label = preds.labels[preds.y_true[row]]
    top = _top(preds, row)
    alt = f"{file}: true {true_label}, predicted {top[0][0]} {top[0][1]:.0%}"
    lines = "".join(f'<li class="{"hit" if label == true_label else "miss"}">{esc(label)} '
                    f'{p:.1%}</li>' for label, p in top)
    href = url(f"/run/{name}/image", file=file)
    return (f'<figure><a href="{esc(href)}"><img loading="lazy" width="160" height="160" '
            f'src="{esc(url("/thumb", root="samples", file=file))}" alt="{esc(alt)}"></a>'
            f'<figcaption><span class="file">{esc(file)}</span> true <b>{esc(true_label)}</b>'
            f'<ol>{lines}</ol></figcaption></figure>')


def image_page(ctx, request, name):
    """``GET /run/<name>/image?file=...``: one test image, every class's probability and,
    on request, the heatmap of what the prediction looked at."""
    preds = _predictions(ctx, name)
    file = request.args.get("file", "")
    try:
        row = preds.files.index(file)
    except ValueError:
        raise PageError(404, f"{file!r} is not a test image of @{name}") from None
    true_label = preds.labels[preds.y_true[row]]
    probs = "".join(f"<tr><td>{esc(label)}</td><td>{p:.2%}</td></tr>"
                    for label, p in _top(preds, row, len(preds.labels)))
    src = url("/image", root="samples", file=file)
    heat = url(f"/run/{name}/heatmap.png", root="samples", file=file)
    body = (f'<p>{link("/run/" + name, "‹ back to @" + name)}</p><div class="side-by-side">'
            f'<img class="photo" src="{esc(src)}" alt="{esc(file)}, true label {esc(true_label)}">'
            f'<div><p>True label: <b>{esc(true_label)}</b></p>'
            f'<table><caption>Predicted probabilities</caption><thead><tr><th scope="col">label'
            f'</th><th scope="col">probability</th></tr></thead><tbody>{probs}</tbody></table>'
            f'<p><button type="button" data-heatmap="{esc(heat)}" data-target="heatmap">'
            f'Show what the prediction looked at</button></p>'
            f'<img id="heatmap" class="photo" hidden alt="heatmap of the prediction over {esc(file)}">'
            f'<p id="heatmap-status" role="status"></p></div></div>')
    return ctx.html(f"@{name}: {file}", body, active="runs")
