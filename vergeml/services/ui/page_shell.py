"""The HTML every page of ``ml ui`` shares: the frame, escaping, links, tables, pagers.

Pages are rendered on the server as plain strings: every value that comes from
a file or a request goes through :func:`esc`, and URLs are built with
:func:`url` so their query values are percent-encoded.
"""
import html
from urllib.parse import urlencode

NAV = (("runs", "/", "Runs"), ("data", "/data", "Data"), ("try", "/try", "Try it"))
PAGE_SIZE = 60


def esc(value):
    """``value`` as HTML text (quotes escaped too, so it is safe in attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def url(path, **query):
    """``path`` with the query values that are not None, percent-encoded; list values repeat."""
    pairs = []
    for key, value in query.items():
        for item in (value if isinstance(value, (list, tuple)) else [value]):
            if item is not None:
                pairs.append((key, item))
    return path + ("?" + urlencode(pairs) if pairs else "")


def link(href, text, **attrs):
    """An ``<a>`` element."""
    extra = "".join(f' {k.rstrip("_")}="{esc(v)}"' for k, v in attrs.items())
    return f'<a href="{esc(href)}"{extra}>{esc(text)}</a>'


def page(title, body, csrf, project, active=None):
    """A whole page.

    Args:
        title: the page's title (also its ``<h1>``).
        body: the HTML of the content.
        csrf: the server's CSRF token, for the forms and scripts of the page.
        project: the project's name, shown in the header.
        active: which :data:`NAV` entry is the current one.

    Returns:
        The HTML document as bytes.
    """
    current = ' aria-current="page"'
    nav = "".join(f'<a href="{href}"{current if key == active else ""}>{text}</a>'
                  for key, href, text in NAV)
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="csrf-token" content="{esc(csrf)}">'
            f'<title>{esc(title)} · ml ui</title><link rel="stylesheet" href="/static/ui.css">'
            f'<link rel="icon" href="data:,"></head><body>'
            f'<header><span class="brand">ml ui · {esc(project)}</span><nav>{nav}</nav></header>'
            f'<main><h1>{esc(title)}</h1>{body}</main>'
            f'<script src="/static/ui.js" defer></script></body></html>').encode("utf-8")


def table(headers, rows, caption=None, classes=None):
    """A table: header cells escaped, body cells given as HTML.

    Args:
        headers: the column names (text).
        rows: lists of cell HTML.
        caption: text of the caption, if any.
        classes: optional class attribute per row (None: none).

    Returns:
        The ``<table>`` HTML.
    """
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in headers)
    body = "".join(f'<tr{_class(classes, i)}>' + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>"
                   for i, row in enumerate(rows))
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return f'<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _class(classes, index):
    name = classes[index] if classes else None
    return f' class="{esc(name)}"' if name else ""


def pager(path, page_number, total, size=PAGE_SIZE, **query):
    """Previous/next links and where the page stands (nothing when one page holds all).

    Args:
        path: the page's path.
        page_number: the current page, from 1.
        total: the number of items.
        size: items per page.
        **query: the other query values of the page, kept in the links.

    Returns:
        The pager's HTML.
    """
    pages = max(1, -(-total // size))
    if pages == 1:
        return ""
    prev = link(url(path, page=page_number - 1, **query), "‹ previous", rel="prev") \
        if page_number > 1 else ""
    nxt = link(url(path, page=page_number + 1, **query), "next ›", rel="next") \
        if page_number < pages else ""
    first = (page_number - 1) * size + 1
    return (f'<nav class="pager" aria-label="pages">{prev} <span>{first}–'
            f'{min(total, page_number * size)} of {total}</span> {nxt}</nav>')


def page_number(args):
    """The ``page`` query value of a request's ``args`` (1 when absent or not a number)."""
    try:
        return int(args.get("page", 1))
    except ValueError:
        return 1


def page_slice(items, page_number, size=PAGE_SIZE):
    """The items of one page (a page past the end shows the last one)."""
    pages = max(1, -(-len(items) // size))
    page_number = min(max(1, page_number), pages)
    return items[(page_number - 1) * size:page_number * size], page_number


def message(text, kind="note"):
    """A boxed message (``note``, ``error``)."""
    role = ' role="alert"' if kind == "error" else ""
    return f'<p class="message {kind}"{role}>{esc(text)}</p>'
