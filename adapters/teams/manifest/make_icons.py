"""Draw the Teams app icons (a speech bubble with a question mark) with the standard library only.

Teams asks for a 192x192 full-colour icon and a 32x32 outline icon that is white on a transparent
background (https://learn.microsoft.com/microsoftteams/platform/concepts/build-and-test/apps-package).
Run `python adapters/teams/manifest/make_icons.py` to write color.png and outline.png beside this file;
the output is deterministic, so a re-run leaves the committed files unchanged.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ACCENT = (0x25, 0x63, 0xEB)  # the manifest's accentColor, #2563EB
WHITE = (0xFF, 0xFF, 0xFF)
SAMPLES = 4  # sub-samples per pixel side: smooth edges without a drawing library

Shape = Callable[[float, float], bool]  # is the point (x, y), in units of the icon's side, inside?


def rounded_rect(x0: float, y0: float, x1: float, y1: float, r: float) -> Shape:
    def inside(x: float, y: float) -> bool:
        dx = max(x0 + r - x, 0.0, x - (x1 - r))
        dy = max(y0 + r - y, 0.0, y - (y1 - r))
        return x0 <= x <= x1 and y0 <= y <= y1 and dx * dx + dy * dy <= r * r

    return inside


def circle(cx: float, cy: float, r: float) -> Shape:
    return lambda x, y: (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def triangle(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> Shape:
    def side(p: tuple[float, float], q: tuple[float, float], x: float, y: float) -> float:
        return (q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0])

    def inside(x: float, y: float) -> bool:
        s = (side(a, b, x, y), side(b, c, x, y), side(c, a, x, y))
        return all(v >= 0 for v in s) or all(v <= 0 for v in s)

    return inside


def union(*shapes: Shape) -> Shape:
    return lambda x, y: any(s(x, y) for s in shapes)


def bubble() -> Shape:
    """A rounded speech bubble with its tail at the bottom left."""
    body = rounded_rect(0.06, 0.08, 0.94, 0.76, 0.18)
    return union(body, triangle((0.22, 0.70), (0.46, 0.70), (0.16, 0.95)))


def question_mark() -> Shape:
    """A '?' from an open ring (the hook), a stem and a dot, centred in the bubble's body."""
    cx, cy, r_out, r_in = 0.5, 0.30, 0.15, 0.065
    mid, half = (r_out + r_in) / 2, (r_out - r_in) / 2

    def hook(x: float, y: float) -> bool:
        d = math.hypot(x - cx, y - cy)
        return r_in <= d <= r_out and (y <= cy or x >= cx)  # all but the lower-left quarter

    return union(
        hook,
        circle(cx - mid, cy, half),  # round the hook's open end
        rounded_rect(cx - half, cy + r_in, cx + half, 0.55, 0.0),
        circle(cx, 0.645, half * 1.15),
    )


def render(size: int, layers: list[tuple[Shape, tuple[int, int, int]]],
           background: tuple[int, int, int] | None) -> list[list[tuple[int, int, int, int]]]:
    """Pixels (RGBA) of ``layers`` painted in order; later layers cover earlier ones."""
    rows = []
    n = SAMPLES * SAMPLES
    for py in range(size):
        row = []
        for px in range(size):
            r = g = b = a = 0.0
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    x, y = (px + (sx + 0.5) / SAMPLES) / size, (py + (sy + 0.5) / SAMPLES) / size
                    colour = background
                    for shape, fill in layers:
                        if shape(x, y):
                            colour = fill
                    if colour is not None:
                        r, g, b, a = r + colour[0], g + colour[1], b + colour[2], a + 1
            if a == 0:
                row.append((255, 255, 255, 0))  # clear, and white even so: Teams checks outline colours
            else:
                row.append((round(r / a), round(g / a), round(b / a), round(255 * a / n)))
        rows.append(row)
    return rows


def png(rows: list[list[tuple[int, int, int, int]]], *, alpha: bool) -> bytes:
    """An 8-bit RGB or RGBA PNG (filter 0 on every row)."""
    height, width = len(rows), len(rows[0])
    raw = bytearray()
    for row in rows:
        raw.append(0)
        for r, g, b, a in row:
            raw.extend((r, g, b, a) if alpha else (r, g, b))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6 if alpha else 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(raw), 9))
            + chunk(b"IEND", b""))


def scaled(shape: Shape, margin: float) -> Shape:
    """``shape`` shrunk into the square [margin, 1 - margin]."""
    k = 1 - 2 * margin
    return lambda x, y: shape((x - margin) / k, (y - margin) / k)


def color_icon() -> bytes:
    """192x192: a white bubble with an accent-coloured '?' on an accent background, kept inside
    the central safe area Teams recommends."""
    layers = [(scaled(bubble(), 0.19), WHITE), (scaled(question_mark(), 0.19), ACCENT)]
    return png(render(192, layers, ACCENT), alpha=False)


def outline_icon() -> bytes:
    """32x32: a white bubble with the '?' cut out, on transparent (every pixel white or clear)."""
    solid = bubble()
    mark = question_mark()
    shape: Shape = lambda x, y: solid(x, y) and not mark(x, y)  # noqa: E731
    return png(render(32, [(scaled(shape, 0.03), WHITE)], None), alpha=True)


def main() -> None:
    for name, data in (("color.png", color_icon()), ("outline.png", outline_icon())):
        (HERE / name).write_bytes(data)
        print(f"wrote {HERE / name} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
