"""Draw the plugin's icon.png (128x128 RGBA) with the standard library only.

A green rounded square (the panel's green) with two white arrows, one over the other,
pointing opposite ways: "switch". Edges are anti-aliased by 4x4 supersampling.

    python tools/make_icon.py [OUT]      (default: icon.png at the repository root)
"""
import os
import struct
import sys
import zlib

SIZE = 128
SS = 4  # supersamples per axis
TOP = (0x2c, 0xba, 0x4a)  # gradient of the panel's green #20a53a
BOTTOM = (0x1a, 0x93, 0x31)
WHITE = (255, 255, 255)


def in_round_rect(x, y, x0, y0, x1, y1, r):
    cx = min(max(x, x0 + r), x1 - r)
    cy = min(max(y, y0 + r), y1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def in_capsule(x, y, ax, ay, bx, by, r):
    """Within r of the segment a-b."""
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / float(dx * dx + dy * dy)))
    px, py = ax + t * dx, ay + t * dy
    return (x - px) ** 2 + (y - py) ** 2 <= r * r


def in_triangle(x, y, a, b, c):
    def side(p, q):
        return (q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0])

    s1, s2, s3 = side(a, b), side(b, c), side(c, a)
    return (s1 >= 0 and s2 >= 0 and s3 >= 0) or (s1 <= 0 and s2 <= 0 and s3 <= 0)


def in_glyph(x, y):
    # upper arrow, pointing right
    if in_capsule(x, y, 30, 46, 84, 46, 7) or in_triangle(x, y, (78, 26), (78, 66), (102, 46)):
        return True
    # lower arrow, pointing left
    return in_capsule(x, y, 44, 84, 98, 84, 7) or in_triangle(x, y, (50, 64), (50, 104), (26, 84))


def pixel(px, py):
    """RGBA of pixel (px, py): average of SS*SS samples."""
    bg = fg = 0
    for i in range(SS):
        for j in range(SS):
            x = px + (i + 0.5) / SS
            y = py + (j + 0.5) / SS
            if in_round_rect(x, y, 4, 4, 124, 124, 26):
                if in_glyph(x, y):
                    fg += 1
                else:
                    bg += 1
    n = float(SS * SS)
    t = py / float(SIZE - 1)
    green = [TOP[k] + (BOTTOM[k] - TOP[k]) * t for k in range(3)]
    cover = (bg + fg) / n
    if not cover:
        return (0, 0, 0, 0)
    rgb = [(green[k] * bg + WHITE[k] * fg) / (bg + fg) for k in range(3)]
    return tuple(round(v) for v in rgb) + (round(255 * cover),)


def png(width, height, rows):
    """PNG bytes of RGBA rows (lists of 4-tuples)."""
    raw = b"".join(b"\x00" + bytes(c for p in row for c in p) for row in rows)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    out = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(here), "icon.png")
    rows = [[pixel(x, y) for x in range(SIZE)] for y in range(SIZE)]
    with open(out, "wb") as f:
        f.write(png(SIZE, SIZE, rows))
    print(out)


if __name__ == "__main__":
    main(sys.argv)
