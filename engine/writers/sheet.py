"""The contact sheet, `<stem>.sheet.jpg`: every shot's key frame in a grid, in order, each with
its shot number and start time, under a line naming the video. Columns and tile width come
from `sheet` in `configs/report.yaml`; a very long film gets more columns so the sheet stays
inside JPEG's 65 535-pixel limit. A shot whose thumbnail is missing is a grey tile saying so.
"""

from __future__ import annotations

import io
import math
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from filmline.engine.config import read_config
from filmline.engine.timecode import timecode
from filmline.engine.writers import ViewOptions

JPEG_MAX_SIDE = 65_000
CAPTION_HEIGHT = 18
HEADER_HEIGHT = 28
BACKGROUND = (24, 24, 24)
MISSING = (70, 70, 70)
TEXT = (235, 235, 235)


def sheet_view(document: dict[str, Any], options: ViewOptions) -> bytes:
    settings = read_config("report.yaml")["sheet"]
    video, shots = document["video"], document["shots"]
    tile_width = int(settings["tile_width"])
    aspect = (video.get("height") or 9) / (video.get("width") or 16)
    tile_height = max(1, round(tile_width * aspect))
    cell_height = tile_height + CAPTION_HEIGHT
    columns = max(1, int(settings["columns"]))
    while HEADER_HEIGHT + math.ceil(len(shots) / columns) * cell_height > JPEG_MAX_SIDE:
        columns += 1
    rows = max(1, math.ceil(len(shots) / columns))
    sheet = _canvas((columns * tile_width, HEADER_HEIGHT + rows * cell_height), columns, cell_height, tile_height,
                    {shot["index"] for shot in shots})
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default_imagefont()  # Pillow's bitmap font: 2 000 captions in 15 ms, not 250
    draw.text((6, 7), f"{options.stem}: {len(shots)} shots, {timecode(video['duration'])}", fill=TEXT,
              font=ImageFont.load_default(size=14))
    missing = _missing_tile((tile_width, tile_height), font)
    for shot in shots:
        row, column = divmod(shot["index"], columns)
        x, y = column * tile_width, HEADER_HEIGHT + row * cell_height
        tile = _key_frame(options, shot.get("thumbnail"), (tile_width, tile_height))
        sheet.paste(missing if tile is None else tile, (x, y))
        draw.text((x + 4, y + tile_height + 2), f"#{shot['index'] + 1}  {timecode(shot['start_time'])}", fill=TEXT, font=font)
    buffer = io.BytesIO()
    sheet.save(buffer, format="JPEG", quality=int(settings["jpeg_quality"]))
    return buffer.getvalue()


def _canvas(size: tuple[int, int], columns: int, cell_height: int, tile_height: int, tiled: set[int]) -> Image.Image:
    """The sheet's background, painted only where no tile will be pasted (the header, the caption
    strips, empty cells): filling all 48 megapixels of a 2 000-shot sheet costs 80 ms of CPU, a
    zeroed canvas almost nothing."""
    sheet = Image.new("RGB", size)
    width = size[0] // columns
    sheet.paste(BACKGROUND, (0, 0, size[0], HEADER_HEIGHT))
    for row in range((size[1] - HEADER_HEIGHT) // cell_height):
        top = HEADER_HEIGHT + row * cell_height
        sheet.paste(BACKGROUND, (0, top + tile_height, size[0], top + cell_height))
        for column in range(columns):
            if row * columns + column not in tiled:
                sheet.paste(BACKGROUND, (column * width, top, (column + 1) * width, top + tile_height))
    return sheet


def _missing_tile(size: tuple[int, int], font: ImageFont.ImageFont) -> Image.Image:
    """The grey tile standing for a shot without a thumbnail (drawn once, pasted for each)."""
    tile = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(tile)
    draw.rectangle((1, 1, size[0] - 2, size[1] - 2), fill=MISSING)
    draw.text((6, 6), "no key frame", fill=TEXT, font=font)
    return tile


def _key_frame(options: ViewOptions, thumbnail: str | None, size: tuple[int, int]) -> Image.Image | None:
    """The shot's thumbnail scaled to the tile, or None when there is none to read."""
    if not thumbnail:
        return None
    path = options.source_dir / thumbnail
    try:
        with Image.open(path) as image:
            image.draft("RGB", size)  # JPEG: decode at a reduced scale directly
            return image.convert("RGB").resize(size, Image.Resampling.BILINEAR)
    except (OSError, ValueError):
        return None


VIEWS = {"sheet": sheet_view}
