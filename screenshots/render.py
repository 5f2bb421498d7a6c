#!/usr/bin/env python3
"""Render a `tmux capture-pane -e -p` capture (text with SGR escape sequences) to a PNG.

    render.py CAPTURE.ans OUT.png [--cols 140] [--rows 45] [--font-size 16]

The capture is replayed on a grid of COLS x ROWS cells, as a terminal would show it: 16, 256 and
24-bit colours for foreground and background, bold, dim, italic, underline, strike-through and
reverse. Text is drawn with DejaVu Sans Mono (fonts-dejavu-core); glyphs it lacks come from DejaVu
Sans. Box-drawing lines, block elements (the sparkline bars) and braille dots (the chart lines)
are drawn as shapes filling the cell, as terminals do, so that lines join and bars stack without
gaps. Everything is drawn at --scale times the size and shrunk, for smooth dots and text.
"""

import argparse
import os
import shutil
import subprocess
import sys
import unicodedata

from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = [
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/local/share/fonts",
    os.path.expanduser("~/.local/share/fonts"),
]

# A dark palette (close to the common "Tango dark" / VS Code dark terminal colours).
DEFAULT_BG = (24, 26, 32)
DEFAULT_FG = (212, 212, 212)
PALETTE16 = [
    (30, 30, 30),  # black
    (224, 96, 96),  # red
    (120, 200, 110),  # green
    (230, 200, 90),  # yellow
    (100, 150, 240),  # blue
    (200, 120, 220),  # magenta
    (80, 200, 210),  # cyan
    (212, 212, 212),  # white
    (110, 110, 110),  # bright black
    (255, 120, 120),  # bright red
    (150, 230, 140),  # bright green
    (255, 230, 120),  # bright yellow
    (140, 180, 255),  # bright blue
    (230, 150, 250),  # bright magenta
    (120, 230, 240),  # bright cyan
    (255, 255, 255),  # bright white
]


def xterm256(n):
    if n < 16:
        return PALETTE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + 10 * (n - 232)
    return (v, v, v)


def find_font(name):
    for d in FONT_DIRS:
        p = os.path.join(d, name)
        if os.path.exists(p):
            return p
    return None


class Attr:
    __slots__ = ("fg", "bg", "bold", "dim", "italic", "underline", "reverse", "strike", "hidden")

    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = None  # None: default; else (r, g, b)
        self.bg = None
        self.bold = self.dim = self.italic = self.underline = False
        self.reverse = self.strike = self.hidden = False

    def copy(self):
        a = Attr()
        for k in Attr.__slots__:
            setattr(a, k, getattr(self, k))
        return a


def parse_extended_colour(params, i):
    """params[i] is 38/48/58; returns (colour or None, index of the last parameter used)."""
    # Colon form: a single parameter such as "38:2::r:g:b" or "38:5:n".
    head = params[i]
    if ":" in head:
        sub = head.split(":")
        try:
            if sub[1] == "5":
                return xterm256(int(sub[2]) % 256), i
            if sub[1] == "2":
                rgb = [int(x or 0) for x in sub[-3:]]
                return tuple(v % 256 for v in rgb), i
        except (IndexError, ValueError):
            pass
        return None, i
    try:
        mode = params[i + 1]
        if mode == "5":
            return xterm256(int(params[i + 2]) % 256), i + 2
        if mode == "2":
            r, g, b = (int(params[i + k] or 0) % 256 for k in (2, 3, 4))
            return (r, g, b), i + 4
    except (IndexError, ValueError):
        pass
    return None, len(params)


# The attributes that SGR codes turn on and off, as (attribute, on, off); 22 turns off both bold
# and dim (and 4 also turns underline on, below).
SGR_FLAGS = [
    ("bold", 1, 22), ("dim", 2, 22), ("italic", 3, 23), ("underline", 21, 24),
    ("reverse", 7, 27), ("hidden", 8, 28), ("strike", 9, 29),
]

# The SGR codes that pick one of the 16 colours, eight in a row: (attribute, first code, first
# colour of the palette).
SGR_PALETTE = [("fg", 30, 0), ("bg", 40, 0), ("fg", 90, 8), ("bg", 100, 8)]


def apply_sgr(attr, text):
    params = text.split(";") if text else ["0"]
    i = 0
    while i < len(params):
        p = params[i]
        code_s = p.split(":")[0]
        code = int(code_s) if code_s.isdigit() else 0
        if code in (38, 48, 58):
            colour, i = parse_extended_colour(params, i)
            if code == 38:
                attr.fg = colour
            elif code == 48:
                attr.bg = colour
        elif code == 0:
            attr.reset()
        elif code == 4:
            # 4:0 turns underline off; 4:1..4:5 are underline styles.
            attr.underline = not p.startswith("4:0")
        elif code == 39:
            attr.fg = None
        elif code == 49:
            attr.bg = None
        else:
            for name, on, off in SGR_FLAGS:
                if code in (on, off):
                    setattr(attr, name, code == on)
            for name, first, index in SGR_PALETTE:
                if first <= code < first + 8:
                    setattr(attr, name, PALETTE16[index + code - first])
        # Anything else (blink, overline, fonts, ...) is ignored.
        i += 1


def char_width(ch):
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def parse_capture(data, cols, rows):
    """Replay the capture onto a grid of [char, Attr] cells (None for the tail of a wide char)."""
    blank = Attr()
    grid = [[[" ", blank] for _ in range(cols)] for _ in range(rows)]
    attr = Attr()
    row = col = 0
    i, n = 0, len(data)
    while i < n:
        ch = data[i]
        if ch == "\x1b":
            if i + 1 < n and data[i + 1] == "[":
                j = i + 2
                while j < n and not ("@" <= data[j] <= "~"):
                    j += 1
                if j < n and data[j] == "m":
                    apply_sgr(attr, data[i + 2 : j])
                i = j + 1
            elif i + 1 < n and data[i + 1] == "]":
                # OSC: up to BEL or ST.
                j = i + 2
                while j < n and data[j] != "\x07" and data[j : j + 2] != "\x1b\\":
                    j += 1
                i = j + (1 if j < n and data[j] == "\x07" else 2)
            else:
                i += 2
            continue
        i += 1
        if ch == "\n":
            row += 1
            col = 0
            continue
        if ch == "\r":
            col = 0
            continue
        if ch == "\t":
            col = min(cols, (col // 8 + 1) * 8)
            continue
        if ord(ch) < 32:
            continue
        w = char_width(ch)
        if w == 0:
            if col > 0 and row < rows:
                cell = grid[row][col - 1]
                if cell is not None:
                    cell[0] += ch
            continue
        if row >= rows:
            break
        if col + w > cols:
            continue
        grid[row][col] = [ch, attr.copy()]
        if w == 2:
            grid[row][col + 1] = None
        col += w
    return grid


def blend(a, b, t):
    return tuple(round(x * (1 - t) + y * t) for x, y in zip(a, b))


class Renderer:
    def __init__(self, size, scale=1):
        self.scale = scale
        size *= scale
        regular = find_font("DejaVuSansMono.ttf")
        if regular is None:
            sys.exit("render.py: DejaVuSansMono.ttf not found (apt-get install fonts-dejavu-core)")
        bold = find_font("DejaVuSansMono-Bold.ttf") or regular
        italic = find_font("DejaVuSansMono-Oblique.ttf") or regular
        bold_italic = find_font("DejaVuSansMono-BoldOblique.ttf") or bold
        self.fonts = {
            (False, False): ImageFont.truetype(regular, size),
            (True, False): ImageFont.truetype(bold, size),
            (False, True): ImageFont.truetype(italic, size),
            (True, True): ImageFont.truetype(bold_italic, size),
        }
        fallbacks = [find_font("DejaVuSans.ttf"), find_font("DejaVuSans-Bold.ttf")]
        self.fallbacks = [ImageFont.truetype(p, size) for p in fallbacks if p]
        base = self.fonts[(False, False)]
        ascent, descent = base.getmetrics()
        self.ascent = ascent
        self.cw = round(base.getlength("M"))
        self.ch = ascent + descent
        self.missing_cache = {}
        self._fc_cache = {}
        self.size = size
        self._notdef = {}

    def _has_glyph(self, font, ch):
        key = (id(font), ch)
        if key not in self.missing_cache:
            if id(font) not in self._notdef:
                self._notdef[id(font)] = bytes(font.getmask("\U0010fffd"))
            mask = font.getmask(ch)
            self.missing_cache[key] = bytes(mask) != self._notdef[id(font)] or ch == " "
        return self.missing_cache[key]

    def font_for(self, ch, bold, italic):
        f = self.fonts[(bold, italic)]
        if self._has_glyph(f, ch[0]):
            return f
        for fb in self.fallbacks:
            if self._has_glyph(fb, ch[0]):
                return fb
        fc = self._fontconfig_font(ch[0])
        return fc if fc is not None else f

    def _fontconfig_font(self, ch):
        """Any installed font that has `ch`, found through fontconfig (None if none)."""
        if ch in self._fc_cache:
            return self._fc_cache[ch]
        font = None
        if shutil.which("fc-list"):
            out = subprocess.run(
                ["fc-list", f":charset={ord(ch):x}", "file"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            for line in out.splitlines():
                path = line.strip().rstrip(":")
                if path.endswith((".ttf", ".otf")):
                    try:
                        font = ImageFont.truetype(path, self.size)
                        break
                    except OSError:
                        continue
        self._fc_cache[ch] = font
        return font

    # --- shapes drawn instead of glyphs -------------------------------------------------------

    def draw_box(self, d, x, y, ch, fg):
        """Light / heavy / double box-drawing lines; returns False when `ch` is not one."""
        # (left, right, up, down) arm weights: 1 light, 2 heavy.
        arms = BOX.get(ch)
        if arms is None:
            return False
        cx, cy = x + self.cw // 2, y + self.ch // 2
        for (dx0, dy0, dx1, dy1), w in zip(
            [(x, cy, cx, cy), (cx, cy, x + self.cw, cy), (cx, y, cx, cy), (cx, cy, cx, y + self.ch)],
            arms,
        ):
            if not w:
                continue
            t = self.scale * (1 if w == 1 else 3)
            if dy0 == dy1:
                d.rectangle([dx0, dy0 - t // 2, dx1, dy0 - t // 2 + t - 1], fill=fg)
            else:
                d.rectangle([dx0 - t // 2, dy0, dx0 - t // 2 + t - 1, dy1], fill=fg)
        return True

    def draw_block(self, d, x, y, ch, fg):
        o = ord(ch)
        cw, chh = self.cw, self.ch
        if o == 0x2588:  # full block
            d.rectangle([x, y, x + cw - 1, y + chh - 1], fill=fg)
        elif 0x2581 <= o <= 0x2587:  # lower eighths
            h = round(chh * (o - 0x2580) / 8)
            d.rectangle([x, y + chh - h, x + cw - 1, y + chh - 1], fill=fg)
        elif o == 0x2580:  # upper half
            d.rectangle([x, y, x + cw - 1, y + chh // 2 - 1], fill=fg)
        elif 0x2589 <= o <= 0x258F:  # left eighths
            w = round(cw * (0x2590 - o) / 8)
            d.rectangle([x, y, x + w - 1, y + chh - 1], fill=fg)
        elif o == 0x2590:  # right half
            d.rectangle([x + cw // 2, y, x + cw - 1, y + chh - 1], fill=fg)
        elif o == 0x2594:  # upper eighth
            d.rectangle([x, y, x + cw - 1, y + max(1, chh // 8) - 1], fill=fg)
        elif o == 0x2595:  # right eighth
            d.rectangle([x + cw - max(1, cw // 8), y, x + cw - 1, y + chh - 1], fill=fg)
        else:
            return False
        return True

    def draw_symbol(self, d, x, y, ch, fg):
        """Symbols that the DejaVu fonts lack but the TUI shows."""
        if ch == "\u23f8":  # ⏸ pause: two bars
            bw = max(self.scale, round(self.cw * 0.22))
            top, bottom = y + round(self.ch * 0.28), y + round(self.ch * 0.78)
            left = x + round(self.cw * 0.18)
            right = x + self.cw - round(self.cw * 0.18) - bw
            d.rectangle([left, top, left + bw - 1, bottom], fill=fg)
            d.rectangle([right, top, right + bw - 1, bottom], fill=fg)
            return True
        return False

    def draw_braille(self, d, x, y, ch, fg):
        o = ord(ch)
        if not 0x2800 <= o <= 0x28FF:
            return False
        bits = o - 0x2800
        # Dot numbering: 1 2 3 7 down the left column, 4 5 6 8 down the right one.
        positions = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (0, 3), (1, 3)]
        r = max(1.0, min(self.cw / 4, self.ch / 8) * 0.62)
        for bit, (col, row) in enumerate(positions):
            if bits & (1 << bit):
                px = x + self.cw * (col * 2 + 1) / 4
                py = y + self.ch * (row * 2 + 1) / 8
                d.ellipse([px - r, py - r, px + r, py + r], fill=fg)
        return True

    # --- the grid -----------------------------------------------------------------------------

    def render(self, grid, cols, rows, pad=14):
        pad *= self.scale
        width, height = cols * self.cw + 2 * pad, rows * self.ch + 2 * pad
        img = Image.new("RGB", (width, height), DEFAULT_BG)
        d = ImageDraw.Draw(img)
        for r, line in enumerate(grid):
            for c, cell in enumerate(line):
                if cell is None:
                    continue
                text, a = cell
                wide = c + 1 < cols and line[c + 1] is None
                x, y = pad + c * self.cw, pad + r * self.ch
                w = self.cw * (2 if wide else 1)
                fg = a.fg or DEFAULT_FG
                bg = a.bg
                if a.reverse:
                    fg, bg = (a.bg or DEFAULT_BG), (a.fg or DEFAULT_FG)
                if a.dim:
                    fg = blend(fg, bg or DEFAULT_BG, 0.45)
                if bg is not None:
                    d.rectangle([x, y, x + w - 1, y + self.ch - 1], fill=bg)
                if a.hidden or text == " ":
                    pass
                elif len(text) == 1 and (
                    self.draw_box(d, x, y, text, fg)
                    or self.draw_block(d, x, y, text, fg)
                    or self.draw_braille(d, x, y, text, fg)
                    or self.draw_symbol(d, x, y, text, fg)
                ):
                    pass
                else:
                    font = self.font_for(text, a.bold, a.italic)
                    d.text((x, y + self.ascent), text, font=font, fill=fg, anchor="ls")
                lw = self.scale
                if a.underline:
                    uy = y + self.ascent + 2 * self.scale
                    d.rectangle([x, uy, x + w - 1, uy + lw - 1], fill=fg)
                if a.strike:
                    sy = y + self.ch // 2
                    d.rectangle([x, sy, x + w - 1, sy + lw - 1], fill=fg)
        if self.scale > 1:
            img = img.resize(
                (round(width / self.scale), round(height / self.scale)), Image.LANCZOS
            )
        return img


def _box_table():
    t = {}
    L, H = 1, 2
    # (left, right, up, down)
    spec = {
        "─": (L, L, 0, 0), "━": (H, H, 0, 0), "│": (0, 0, L, L), "┃": (0, 0, H, H),
        "┌": (0, L, 0, L), "┐": (L, 0, 0, L), "└": (0, L, L, 0), "┘": (L, 0, L, 0),
        "╭": (0, L, 0, L), "╮": (L, 0, 0, L), "╰": (0, L, L, 0), "╯": (L, 0, L, 0),
        "┏": (0, H, 0, H), "┓": (H, 0, 0, H), "┗": (0, H, H, 0), "┛": (H, 0, H, 0),
        "├": (0, L, L, L), "┤": (L, 0, L, L), "┬": (L, L, 0, L), "┴": (L, L, L, 0),
        "┼": (L, L, L, L), "╴": (L, 0, 0, 0), "╶": (0, L, 0, 0), "╵": (0, 0, L, 0),
        "╷": (0, 0, 0, L),
        # Double lines are drawn heavy: close enough at this size.
        "═": (H, H, 0, 0), "║": (0, 0, H, H), "╔": (0, H, 0, H), "╗": (H, 0, 0, H),
        "╚": (0, H, H, 0), "╝": (H, 0, H, 0),
    }
    t.update(spec)
    return t


BOX = _box_table()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("capture")
    ap.add_argument("output")
    ap.add_argument("--cols", type=int, default=140)
    ap.add_argument("--rows", type=int, default=45)
    ap.add_argument("--font-size", type=int, default=16)
    ap.add_argument(
        "--scale", type=int, default=2, help="draw this many times larger, then shrink (anti-aliasing)"
    )
    ap.add_argument(
        "--colors", type=int, default=256, help="palette size of the PNG (smaller files); 0: RGB"
    )
    args = ap.parse_args()
    with open(args.capture, encoding="utf-8", errors="replace") as f:
        data = f.read()
    grid = parse_capture(data, args.cols, args.rows)
    img = Renderer(args.font_size, args.scale).render(grid, args.cols, args.rows)
    if args.colors:
        img = img.quantize(
            colors=min(256, args.colors), method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
        )
    img.save(args.output, optimize=True)


if __name__ == "__main__":
    main()
