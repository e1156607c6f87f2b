"""Contact sheets: one PNG per kind of finding, ``<project>/doctor/<kind>.png``.

Each finding is a block of thumbnails (a group of copies side by side) under a
line with its rank, score and why; under each thumbnail its file name, its
label and split, and for a ``label`` finding the suggested label. Seeing the
images is how a user decides what to relabel or remove. Drawn with Pillow,
imported only here (the doctor's run path), and written atomically.
"""
import io
from pathlib import Path

from vergeml.doctor.findings import KINDS, ordered
from vergeml.fileutil import atomic_write_bytes

SHEETS_DIR = "doctor"
TILE = 160            # the thumbnail box, pixels
LINE = 15             # one caption line
CAPTION = 3 * LINE    # file name; label and split; suggested label
HEADER = 18           # the line above a finding's block
TITLE = 30            # the line on top of the sheet
GAP, BLOCK_GAP, MARGIN = 2, 14, 12
COLUMNS = 6           # thumbnails per row; a larger group is cut to this
MAX_FINDINGS = 60     # per sheet, even with --limit=0: the PNG stays a few MB
COLORS = {"page": (250, 250, 250), "tile": (224, 224, 224), "text": (34, 34, 34),
          "dim": (110, 110, 110), "suggested": (198, 40, 40), "frame": (190, 190, 190),
          "train": (90, 90, 90), "val": (21, 101, 192), "test": (230, 81, 0)}


def write_sheets(project_dir, findings, kinds, limit=10, open_image=None):
    """Write the contact sheet of every kind in ``kinds`` that has findings with files.

    The sheet of a kind that was checked and has none now is deleted, so no
    old sheet is mistaken for the current state.

    Args:
        project_dir: the project folder; sheets go to its ``doctor/`` folder.
        findings: :class:`~vergeml.doctor.findings.Finding` objects.
        kinds: the kinds that were checked.
        limit: findings per sheet, most certain first (None or 0: up to
            :data:`MAX_FINDINGS`).
        open_image: ``relpath -> PIL.Image`` (default: decode the file under
            ``project_dir``); a failure draws an "unreadable" tile.

    Returns:
        list of the :class:`~pathlib.Path` of each sheet written, in :data:`KINDS` order.
    """
    folder = Path(project_dir) / SHEETS_DIR
    opener = open_image or _file_opener(project_dir)
    written = []
    for kind in (k for k in KINDS if k in kinds):
        group = [f for f in ordered(findings) if f.kind == kind and f.files]
        path = folder / f"{kind}.png"
        if not group:
            path.unlink(missing_ok=True)
            continue
        shown = group[:min(limit or MAX_FINDINGS, MAX_FINDINGS)]
        sheet = render_sheet(kind, shown, len(group), opener)
        buffer = io.BytesIO()
        sheet.save(buffer, "PNG")
        atomic_write_bytes(path, buffer.getvalue())
        written.append(path)
    return written


def render_sheet(kind, findings, total, open_image):
    """The contact sheet of one kind as a ``PIL.Image``.

    Args:
        kind: the findings' kind (for the title).
        findings: the findings to draw, in order.
        total: how many findings of this kind there are in all (for the title).
        open_image: ``relpath -> PIL.Image``.
    """
    from PIL import Image, ImageDraw
    from vergeml.doctor.report import TITLES
    places, width, height = _layout([min(len(f.files), COLUMNS) for f in findings])
    sheet = Image.new("RGB", (width, height), COLORS["page"])
    draw = ImageDraw.Draw(sheet)
    font = _font()
    count = f"{len(findings)} of {total}" if len(findings) < total else f"{total}"
    draw.text((MARGIN, MARGIN), f"{kind}: {TITLES[kind]} ({count}, most certain first)",
              fill=COLORS["text"], font=_font(15))
    for rank, (finding, (x, y)) in enumerate(zip(findings, places), 1):
        _draw_finding(sheet, draw, font, rank, finding, (x, y), open_image)
    return sheet


def _layout(sizes):
    """Where each block goes: blocks flow left to right, a new row when one does not fit.

    Args:
        sizes: thumbnails per block.

    Returns:
        ``(places, width, height)``: the top-left corner of each block's header, and
        the size of the sheet.
    """
    row_height = HEADER + TILE + CAPTION + BLOCK_GAP
    places, x, y, used, right = [], MARGIN, MARGIN + TITLE, 0, MARGIN
    for size in sizes:
        if used and used + size > COLUMNS:
            x, y, used = MARGIN, y + row_height, 0
        places.append((x, y))
        x += _block_width(size) + BLOCK_GAP
        used += size
        right = max(right, x - BLOCK_GAP)
    width = max(right + MARGIN, _block_width(COLUMNS) + 2 * MARGIN)
    return places, width, y + row_height + MARGIN - BLOCK_GAP


def _block_width(size):
    return size * TILE + (size - 1) * GAP


def _draw_finding(sheet, draw, font, rank, finding, corner, open_image):
    """One finding: its header line, a frame, and a captioned thumbnail per file."""
    x, y = corner
    files = finding.files[:COLUMNS]
    width = _block_width(len(files))
    more = len(finding.files) - len(files)
    head = f"#{rank}  {finding.score:.2f}  " + (f"(+{more} more)  " if more else "")
    draw.text((x, y + 2), _fit(draw, font, head + finding.why, width, middle=False),
              fill=COLORS["dim"], font=font)
    top = y + HEADER
    draw.rectangle((x - 3, top - 3, x + width + 2, top + TILE + CAPTION + 2), outline=COLORS["frame"])
    for index, file in enumerate(files):
        left = x + index * (TILE + GAP)
        _paste_thumbnail(sheet, draw, font, file, (left, top), open_image)
        label = finding.labels[index] if index < len(finding.labels) else ""
        split = finding.splits[index] if index < len(finding.splits) else ""
        _caption(draw, font, (left, top + TILE + 2), file, label, split,
                 finding.suggested if index == 0 else "")


def _paste_thumbnail(sheet, draw, font, file, corner, open_image):
    """The image fitted into the tile, centred; an "unreadable" tile when it does not open."""
    left, top = corner
    draw.rectangle((left, top, left + TILE - 1, top + TILE - 1), fill=COLORS["tile"])
    try:
        image = open_image(file)
        image.thumbnail((TILE, TILE))
    except Exception:  # noqa: BLE001 - any decode failure: the sheet still shows the file
        draw.line((left, top, left + TILE - 1, top + TILE - 1), fill=COLORS["suggested"], width=2)
        draw.line((left, top + TILE - 1, left + TILE - 1, top), fill=COLORS["suggested"], width=2)
        box = draw.textbbox((left + 6, top + TILE // 2 - 8), "unreadable", font=font)
        draw.rectangle((box[0] - 3, box[1] - 3, box[2] + 3, box[3] + 3), fill=COLORS["page"])
        draw.text((left + 6, top + TILE // 2 - 8), "unreadable", fill=COLORS["suggested"], font=font)
        return
    sheet.paste(image.convert("RGB"), (left + (TILE - image.width) // 2, top + (TILE - image.height) // 2))


def _caption(draw, font, corner, file, label, split, suggested):
    """Three lines under a thumbnail: file name; label and split; the suggested label."""
    left, top = corner
    draw.text((left, top), _fit(draw, font, Path(file).name, TILE), fill=COLORS["text"], font=font)
    label_text = _fit(draw, font, label or "(no label)", TILE * 2 // 3)
    draw.text((left, top + LINE), label_text, fill=COLORS["text"], font=font)
    if split:
        split_x = left + draw.textlength(label_text + "  ", font=font)
        draw.text((split_x, top + LINE), split, fill=COLORS.get(split, COLORS["dim"]), font=font)
    if suggested:
        draw.text((left, top + 2 * LINE), _fit(draw, font, f"-> {suggested}?", TILE),
                  fill=COLORS["suggested"], font=font)


def _fit(draw, font, text, width, middle=True):
    """``text`` cut with ``...`` until it is at most ``width`` pixels wide: in the middle
    (a file name keeps its end), or at the end (a sentence keeps its start)."""
    if draw.textlength(text, font=font) <= width:
        return text
    keep = len(text)
    while keep > 1:
        keep -= 1
        head = text[:(keep + 1) // 2] if middle else text[:keep]
        tail = text[len(text) - keep // 2:] if middle else ""
        short = f"{head}...{tail}"
        if draw.textlength(short, font=font) <= width:
            return short
    return "..."


def _font(size=12):
    """Pillow's bundled font at ``size`` (the bitmap default without FreeType)."""
    from PIL import ImageFont
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow before 10.1: one bitmap size
        return ImageFont.load_default()


def _file_opener(project_dir):
    """``relpath -> PIL.Image`` decoding the file under ``project_dir`` (small, fast)."""
    from vergeml.data.images import load_image

    def open_image(relpath):
        return load_image(Path(project_dir) / relpath, draft=(TILE, TILE))
    return open_image
