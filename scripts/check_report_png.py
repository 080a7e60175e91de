#!/usr/bin/env python3
"""Check that a screenshot of `poolguard report --format html` shows a budget bar.

Decodes the PNG with the standard library only (zlib inflates, the five PNG row filters are
undone here), finds the stacked bar as the band of rows where the client segment colours
cover the most pixels, and then reads that bar's middle row from left to right:

- every client segment colour is present left of the capacity marker, in the given order;
- the rollout extra is hatched: at least three light stripes (2 px or wider) lie inside the
  bar before the capacity marker (the 1 px separators between segments do not count);
- the capacity and warning marker lines cross the bar, the warning marker at the expected
  fraction of the way from the bar's start to the capacity marker;
- with --over-ratio: red lies right of the capacity marker and nowhere left of it, and its
  width relative to the capacity span matches the expected over-capacity fraction.

Exit status 0 when every check holds, 1 (listing what failed) otherwise, 2 on bad input.
Used by tests/report_html.rs; run by hand as

    scripts/check_report_png.py out.png --segments '#4e79a7,#f28e2b,#59a14f' \
        --hatch '#59a14f' --hatch-light '#ffffff' --over '#cf222e,#a40e26' \
        --capacity '#1f2328' --warn '#9a6700' --warn-ratio 0.8 --over-ratio 0.198
"""

import argparse
import struct
import sys
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Channels per pixel of the 8-bit colour types: grey, RGB, grey+alpha, RGBA.
CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


def decode_png(path):
    """Returns (width, height, rows), rows a list of bytes objects of RGB triples."""
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError(f"{path}: not a PNG file")
    pos, idat, header = 8, [], None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError(f"{path}: no IHDR chunk")
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in CHANNELS or interlace != 0:
        raise ValueError(
            f"{path}: unsupported PNG (bit depth {depth}, colour type {colour}, interlace {interlace})"
        )
    bpp = CHANNELS[colour]
    stride = width * bpp
    raw = zlib.decompress(b"".join(idat))
    if len(raw) != height * (stride + 1):
        raise ValueError(f"{path}: image data has {len(raw)} bytes, expected {height * (stride + 1)}")
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind == 1:  # Sub
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:  # Up
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous))
        elif kind == 3:  # Average
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:  # Paeth
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = previous[i]
                c = previous[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        elif kind != 0:
            raise ValueError(f"{path}: row {y} has unknown filter {kind}")
        previous = line
        if bpp == 4:
            rgb = bytes(b for i, b in enumerate(line) if i % 4 != 3)
        elif bpp == 3:
            rgb = bytes(line)
        else:  # grey, grey+alpha
            grey = line[::bpp]
            rgb = bytes(v for g in grey for v in (g, g, g))
        rows.append(rgb)
    return width, height, rows


def hex_colour(text):
    text = text.strip().lstrip("#")
    if len(text) != 6:
        raise argparse.ArgumentTypeError(f"not a #rrggbb colour: {text}")
    return tuple(int(text[i : i + 2], 16) for i in (0, 2, 4))


def colour_list(text):
    return [hex_colour(t) for t in text.split(",") if t.strip()]


def near(pixel, colour, tolerance):
    return all(abs(p - c) <= tolerance for p, c in zip(pixel, colour))


def is_red(pixel):
    r, g, b = pixel
    return r >= 140 and g <= 80 and b <= 90


def pixel(row, x):
    return row[3 * x], row[3 * x + 1], row[3 * x + 2]


def runs(xs):
    """Groups sorted x positions into (start, end) runs of consecutive pixels (end inclusive)."""
    out = []
    for x in xs:
        if out and x == out[-1][1] + 1:
            out[-1][1] = x
        else:
            out.append([x, x])
    return [tuple(r) for r in out]


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("png")
    ap.add_argument("--segments", type=colour_list, required=True, help="client colours, bar order")
    ap.add_argument("--hatch", type=hex_colour, help="colour of the hatched rollout segment")
    ap.add_argument("--hatch-light", type=hex_colour, default=(255, 255, 255))
    ap.add_argument("--over", type=colour_list, default=[], help="over-capacity stripe colours")
    ap.add_argument("--capacity", type=hex_colour, required=True, help="capacity marker colour")
    ap.add_argument("--warn", type=hex_colour, required=True, help="warning marker colour")
    ap.add_argument("--warn-ratio", type=float, default=0.8)
    ap.add_argument("--over-ratio", type=float, help="(rollout - capacity) / capacity")
    ap.add_argument("--tolerance", type=int, default=6, help="per-channel colour tolerance")
    args = ap.parse_args(argv)

    try:
        width, height, rows = decode_png(args.png)
    except (OSError, ValueError, zlib.error) as e:
        print(f"check_report_png: {e}", file=sys.stderr)
        return 2
    tol = args.tolerance

    def is_segment(p):
        return any(near(p, c, tol) for c in args.segments)

    # The bar: the band of rows where segment colours cover the most pixels.
    counts = [sum(1 for x in range(width) if is_segment(pixel(row, x))) for row in rows]
    best = max(range(height), key=lambda y: counts[y])
    if counts[best] < 100:
        print(f"FAIL no bar found: at most {counts[best]} segment-coloured pixels in a row")
        return 1
    top = bottom = best
    while top > 0 and counts[top - 1] >= counts[best] // 2:
        top -= 1
    while bottom < height - 1 and counts[bottom + 1] >= counts[best] // 2:
        bottom += 1
    y = (top + bottom) // 2
    row = rows[y]
    px = [pixel(row, x) for x in range(width)]
    print(f"bar: rows {top}-{bottom} ({bottom - top + 1} px high), reading row {y}")

    failures = []
    seg_xs = [x for x in range(width) if is_segment(px[x])]
    bar_start = seg_xs[0]
    cap_runs = runs([x for x in range(width) if near(px[x], args.capacity, tol)])
    warn_runs = runs([x for x in range(width) if near(px[x], args.warn, tol)])
    if not cap_runs:
        print("FAIL no capacity marker crosses the bar")
        return 1
    # The marker is the narrow run; take the one furthest right if text of that colour exists.
    cap_run = max((r for r in cap_runs if r[1] - r[0] <= 4), default=cap_runs[-1], key=lambda r: r[0])
    cap_x = (cap_run[0] + cap_run[1]) / 2
    span = cap_x - bar_start
    print(f"bar starts at x={bar_start}, capacity marker at x={cap_x:.1f}")
    if span <= 10:
        failures.append(f"capacity marker at x={cap_x} is not right of the bar start x={bar_start}")

    first_xs = []
    for i, colour in enumerate(args.segments):
        xs = [x for x in range(bar_start, int(cap_x)) if near(px[x], colour, tol)]
        name = "#%02x%02x%02x" % colour
        print(f"segment {i} {name}: {len(xs)} px left of capacity")
        if len(xs) < 3:
            failures.append(f"segment colour {name} is missing from the bar")
        else:
            first_xs.append(xs[0])
    if len(first_xs) == len(args.segments) and first_xs != sorted(first_xs):
        failures.append(f"segments are not in the given order (first pixels at {first_xs})")

    if args.hatch is not None:
        light = runs([x for x in range(bar_start, int(cap_x)) if near(px[x], args.hatch_light, tol)])
        stripes = [r for r in light if r[1] - r[0] >= 1]
        # The hatch colour must alternate with the light stripes, not merely exist elsewhere.
        between = range(stripes[0][0], stripes[-1][1] + 1) if stripes else range(0)
        hatch_px = sum(1 for x in between if near(px[x], args.hatch, tol))
        print(f"hatch: {len(stripes)} light stripes, {hatch_px} px of the rollout colour between them")
        if len(stripes) < 3:
            failures.append(f"the rollout segment is not hatched ({len(stripes)} light stripes)")
        elif hatch_px < 3:
            failures.append("the hatched stripes are not in the rollout workload's colour")

    warn_run = min(warn_runs, key=lambda r: abs((r[0] - bar_start) - args.warn_ratio * span), default=None)
    if warn_run is None:
        failures.append("no warning marker crosses the bar")
    else:
        ratio = ((warn_run[0] + warn_run[1]) / 2 - bar_start) / span
        print(f"warning marker at {ratio:.3f} of capacity (expected {args.warn_ratio:.3f})")
        if abs(ratio - args.warn_ratio) > 0.02:
            failures.append(f"warning marker at {ratio:.3f} of capacity, expected {args.warn_ratio:.3f}")

    red = [x for x in range(width) if is_red(px[x]) or any(near(px[x], c, tol) for c in args.over)]
    # Only inside the bar: the page may use red elsewhere on the row (a status border).
    red_left = [x for x in red if bar_start <= x < cap_run[0] - 1]
    red_right = [x for x in red if x > cap_run[1]]
    print(f"red: {len(red_right)} px right of capacity, {len(red_left)} px left of it")
    if red_left:
        failures.append(f"red drawn left of the capacity marker at x={red_left[:5]}")
    if args.over_ratio is not None:
        if args.over_ratio > 0:
            if len(red_right) < 5:
                failures.append("no red beyond the capacity marker")
            else:
                ratio = (red_right[-1] + 1 - cap_x) / span
                print(f"over capacity: {ratio:.3f} of capacity (expected {args.over_ratio:.3f})")
                if abs(ratio - args.over_ratio) > 0.02:
                    failures.append(
                        f"red region is {ratio:.3f} of capacity wide, expected {args.over_ratio:.3f}"
                    )
        elif red_right:
            failures.append("red beyond the capacity marker, but nothing is over capacity")

    for f in failures:
        print(f"FAIL {f}")
    if not failures:
        print("ok: the budget bar renders as expected")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
