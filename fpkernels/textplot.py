"""Plots drawn with characters, for a terminal: curves, histograms and 2-D paths.

Curves use Unicode braille: each character cell holds a 2 x 4 grid of dots, so a plot of
40 x 12 characters has 80 x 48 dots. Where the output cannot show Unicode (an ASCII-only
stream), every cell is one dot drawn as '*'. Every function returns a `Block`: a list of
lines of one visible width, which `beside` and `stack` arrange. Colour comes from a `Style`
(see fpkernels.cli), and plots stay readable without it.

    >>> import math
    >>> xs = [i / 10 for i in range(-30, 31)]
    >>> block = curve(xs, [math.tanh(x) for x in xs], width=30, height=6, title="tanh")
    >>> block.width
    38
"""
import math

BRAILLE_BASE = 0x2800
# Bit of each dot in a braille cell, indexed [column][row] inside the 2 x 4 cell.
BRAILLE_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
BLOCKS = " ▁▂▃▄▅▆▇█"   # eighths of a cell, for histogram bars


class Style:
    """How text is painted: ANSI colours or none, Unicode or ASCII characters."""

    CODES = {"title": "1", "heading": "1;36", "axis": "2", "label": "2", "curve": "36",
             "curve2": "33", "bar": "34", "density": "33", "mark": "1;31", "start": "1;32",
             "code": "", "dim": "2", "error": "1;31", "good": "32", "bad": "31"}

    def __init__(self, color=False, unicode=True):
        self.color = color
        self.unicode = unicode

    def paint(self, text, role):
        code = self.CODES.get(role, "")
        if not self.color or not code or not text:
            return text
        return f"\x1b[{code}m{text}\x1b[0m"

    def char(self, unicode_char, ascii_char):
        return unicode_char if self.unicode else ascii_char


PLAIN = Style(color=False, unicode=True)


class Block:
    """Lines of text that all show `width` characters (colour codes do not count)."""

    def __init__(self, lines, width):
        self.lines = list(lines)
        self.width = width

    def __str__(self):
        return "\n".join(line.rstrip() for line in self.lines)


def beside(blocks, gap=4):
    """Blocks side by side, top-aligned."""
    height = max(len(b.lines) for b in blocks)
    lines = []
    for row in range(height):
        parts = []
        for block in blocks:
            line = block.lines[row] if row < len(block.lines) else ""
            visible = len(_strip_ansi(line))
            parts.append(line + " " * (block.width - visible))
        lines.append((" " * gap).join(parts))
    return Block(lines, sum(b.width for b in blocks) + gap * (len(blocks) - 1))


def stack(blocks, gap=1):
    """Blocks one above the other."""
    lines = []
    for i, block in enumerate(blocks):
        if i:
            lines.extend([""] * gap)
        lines.extend(block.lines)
    return Block(lines, max(b.width for b in blocks))


def _strip_ansi(text):
    out, i = [], 0
    while i < len(text):
        if text[i] == "\x1b":
            i = text.index("m", i) + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def number(value):
    """A short label for an axis tick: at most 3 significant digits."""
    if value == 0:
        return "0"
    if abs(value) >= 1e4 or abs(value) < 1e-3:
        return f"{value:.1e}"
    return f"{value:.3g}"


class Canvas:
    """A grid of dots; `cells()` turns it into characters (braille 2x4, or ASCII 1x1)."""

    def __init__(self, width, height, unicode=True):
        self.width, self.height, self.unicode = width, height, unicode
        self.dots_x, self.dots_y = (2, 4) if unicode else (1, 1)
        self.bits = [[0] * width for _ in range(height)]

    @property
    def pixels(self):
        """(columns, rows) of dots."""
        return self.width * self.dots_x, self.height * self.dots_y

    def dot(self, px, py):
        """Set the dot at column px, row py (row 0 at the top); ignores dots outside."""
        if 0 <= px < self.width * self.dots_x and 0 <= py < self.height * self.dots_y:
            cx, dx = divmod(px, self.dots_x)
            cy, dy = divmod(py, self.dots_y)
            self.bits[cy][cx] |= BRAILLE_BITS[dx][dy] if self.unicode else 1

    def line(self, x0, y0, x1, y1):
        """Dots along the segment from (x0, y0) to (x1, y1) (Bresenham)."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        while True:
            self.dot(x0, y0)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def cell(self, cx, cy):
        """The character for cell (cx, cy), or None when it holds no dot."""
        bits = self.bits[cy][cx]
        if not bits:
            return None
        return chr(BRAILLE_BASE + bits) if self.unicode else "*"


def _finite(values):
    return [v for v in values if v is not None and math.isfinite(v)]


def _limits(values, pad=0.03):
    """A (low, high) range holding every finite value, with a little margin."""
    finite = _finite(values)
    if not finite:
        return -1.0, 1.0
    low, high = min(finite), max(finite)
    if high - low < 1e-12 * max(1.0, abs(high)):
        return low - 1.0, high + 1.0
    margin = (high - low) * pad
    return low - margin, high + margin


def _paint_runs(cells, style):
    """A row of (character, role) cells as text, one colour code per run of equal roles."""
    text, run, run_role = [], [], None
    for ch, role in cells + [("", "<end>")]:
        if role != run_role and run:
            joined = "".join(run)
            text.append(style.paint(joined, run_role) if run_role else joined)
            run = []
        run.append(ch)
        run_role = role
    return "".join(text)


def _frame(grid, y_range, x_range, style, xlabel="", y_ticks=None):
    """Put y tick labels on the left, an axis below and x tick labels under a grid of cells.

    `grid` is a list of rows of (character, role) pairs. Returns a Block.
    """
    height, width = len(grid), len(grid[0])
    y_low, y_high = y_range
    x_low, x_high = x_range
    if y_ticks is None:
        y_ticks = {0: number(y_high), height - 1: number(y_low)}
        if y_low < 0 < y_high:
            zero_row = round((y_high - 0) / (y_high - y_low) * (height - 1))
            if all(abs(zero_row - r) > 1 for r in y_ticks):
                y_ticks[zero_row] = "0"
        else:
            middle = (height - 1) // 2
            y_ticks[middle] = number((y_low + y_high) / 2)
    label_width = max(len(t) for t in y_ticks.values())
    vertical, corner, horizontal, tick = (style.char("│", "|"), style.char("└", "+"),
                                          style.char("─", "-"), style.char("┤", "+"))
    lines = []
    for row in range(height):
        label = y_ticks.get(row, "").rjust(label_width)
        cells = _paint_runs(grid[row], style)
        edge = tick if row in y_ticks else vertical
        lines.append(style.paint(label, "label") + " " + style.paint(edge, "axis") + cells)
    lines.append(" " * label_width + " " + style.paint(corner + horizontal * width, "axis"))
    # x tick labels: left end, right end, and 0 when it lies inside the range.
    under = [" "] * (width + 1)

    def put(position, text):
        start = max(0, min(width + 1 - len(text), position - len(text) // 2))
        if any(c != " " for c in under[max(0, start - 1):start + len(text) + 1]):
            return
        under[start:start + len(text)] = list(text)

    put(0, number(x_low))
    put(width, number(x_high))
    if x_low < 0 < x_high:
        put(1 + round((0 - x_low) / (x_high - x_low) * (width - 1)), "0")
    lines.append(" " * (label_width + 1) + style.paint("".join(under), "label"))
    total = label_width + 2 + width
    if xlabel:
        lines.append(" " * (label_width + 1) + style.paint(xlabel.center(width + 1).rstrip(), "label"))
        total = max(total, label_width + 1 + len(xlabel))
    return Block(lines, total)


def curve(xs, ys, width=36, height=10, title="", xlabel="x", style=PLAIN, role="curve",
          y_range=None):
    """Plot y against x as a connected line of dots, with zero axes and tick labels."""
    canvas = Canvas(width, height, style.unicode)
    px_count, py_count = canvas.pixels
    x_low, x_high = min(xs), max(xs)
    y_low, y_high = y_range or _limits(ys)
    finite = _finite(ys)

    def cell_row(y, low, high):
        """The character row holding the value y."""
        return round((high - y) / (high - low) * (py_count - 1)) // canvas.dots_y

    if finite and y_range is None and y_low < 0 < y_high:
        # A small dip below 0 (or bump above it) must not share its character row with
        # 0: widen the range a little until the extreme sits in a row of its own.
        for _ in range(20):
            zero = cell_row(0.0, y_low, y_high)
            if min(finite) < 0 and cell_row(min(finite), y_low, y_high) == zero:
                y_low -= 0.05 * (y_high - y_low)
            elif max(finite) > 0 and cell_row(max(finite), y_low, y_high) == zero:
                y_high += 0.05 * (y_high - y_low)
            else:
                break

    def to_pixel(x, y):
        px = round((x - x_low) / (x_high - x_low) * (px_count - 1))
        py = round((y_high - y) / (y_high - y_low) * (py_count - 1))
        return px, py

    previous = None
    for x, y in zip(xs, ys):
        if y is None or not math.isfinite(y):
            previous = None
            continue
        point = to_pixel(x, min(max(y, y_low - (y_high - y_low)), y_high + (y_high - y_low)))
        if previous is not None:
            canvas.line(*previous, *point)
        else:
            canvas.dot(*point)
        previous = point
    # Axes x = 0 and y = 0 drawn faintly behind the curve.
    zero_row = zero_col = None
    if y_low < 0 < y_high:
        zero_row = cell_row(0.0, y_low, y_high)
    if x_low < 0 < x_high:
        zero_col = int((-x_low / (x_high - x_low)) * (px_count - 1)) // canvas.dots_x
    grid = []
    for cy in range(height):
        row = []
        for cx in range(width):
            ch = canvas.cell(cx, cy)
            if ch is not None:
                row.append((ch, role))
            elif cy == zero_row and cx == zero_col:
                row.append((style.char("┼", "+"), "axis"))
            elif cy == zero_row:
                row.append((style.char("┄", "-"), "axis"))
            elif cx == zero_col:
                row.append((style.char("┆", ":"), "axis"))
            else:
                row.append((" ", None))
        grid.append(row)
    # Tick labels: the largest and smallest values drawn (in the rows that hold them), and 0
    # in its own row whenever 0 is inside the range, so a dip below 0 shows.
    y_ticks = None
    if finite and y_range is None:
        top_row = min(cell_row(max(finite), y_low, y_high), height - 1)
        bottom_row = max(cell_row(min(finite), y_low, y_high), 0)
        y_ticks = {top_row: number(max(finite)), bottom_row: number(min(finite))}
        if zero_row is not None and zero_row not in y_ticks:
            y_ticks[zero_row] = "0"
    block = _frame(grid, (y_low, y_high), (x_low, x_high), style, xlabel, y_ticks=y_ticks)
    if title:
        pad = block.width - len(title)
        block.lines.insert(0, " " * max(0, pad // 2) + style.paint(title, "title"))
    return block


def histogram(sample, density=None, bins=None, width=48, height=10, title="", xlabel="value",
              style=PLAIN, x_range=None):
    """Bars of how often each value occurs (as a density), with the target density marked.

    `density` is an optional function of x giving the target probability density; where
    given, each column shows it as a dot ('•') at its height, so a good sample's bars reach
    the dots. A distribution concentrated on one value (every sample equal) is one bar.
    """
    values = [float(v) for v in sample if math.isfinite(float(v))]
    bins = bins or width
    low, high = x_range or (min(values), max(values))
    if high - low < 1e-12:
        low, high = low - 1.0, high + 1.0
    step = (high - low) / bins
    counts = [0] * bins
    for v in values:
        index = int((v - low) / step)
        if 0 <= index <= bins:
            counts[min(index, bins - 1)] += 1
    heights = [c / (len(values) * step) for c in counts]          # empirical density
    centres = [low + (i + 0.5) * step for i in range(bins)]
    target = [density(c) for c in centres] if density else [0.0] * bins
    top = max(max(heights), max(target)) * 1.08 or 1.0
    eighths = height * 8
    bar = [round(h / top * eighths) for h in heights]
    # The target's dot sits in the cell holding its height; tails below half a cell get none.
    mark_row = [int((top - t) / top * height) if density and t / top * height >= 0.5 else None
                for t in target]
    grid = []
    for cy in range(height):
        row = []
        level = (height - 1 - cy) * 8             # eighths below this cell
        for cx in range(bins):
            filled = min(8, max(0, bar[cx] - level))
            if mark_row[cx] == cy:
                row.append((style.char("•", "o"), "density"))
            elif filled:
                ch = BLOCKS[filled] if style.unicode else ("#" if filled >= 4 else ".")
                row.append((ch, "bar"))
            else:
                row.append((" ", None))
        grid.append(row)
    ticks = {0: number(top), height - 1: "0"}
    block = _frame(grid, (0, top), (low, high), style, xlabel, y_ticks=ticks)
    if title:
        block.lines.insert(0, " " * max(0, (block.width - len(title)) // 2) + style.paint(title, "title"))
    return block


def path(points, surface, extent, width=48, height=16, title="", style=PLAIN, minimum=None):
    """The points an optimizer visits on a 2-D surface, over faint contour rings.

    `points` is a list of (x, y); `surface(x, y)` gives the height; `extent` is
    (x_low, x_high, y_low, y_high). The start is 'S', the last point 'E', the minimum '+',
    the steps in between 'o', and the contour rings '·' (':' in ASCII).
    """
    x_low, x_high, y_low, y_high = extent
    cell_w, cell_h = (x_high - x_low) / width, (y_high - y_low) / height
    centre = lambda cx, cy: (x_low + (cx + 0.5) * cell_w, y_high - (cy + 0.5) * cell_h)  # noqa: E731
    # Contour rings: dot the cells where the height crosses one of a few levels, spaced so
    # that a quadratic bowl shows evenly spaced ellipses.
    heights = [[surface(*centre(cx, cy)) for cx in range(width)] for cy in range(height)]
    finite = [h for row in heights for h in row if math.isfinite(h)]
    h_min, h_max = min(finite), max(finite)
    span = max(h_max - h_min, 1e-12)
    levels = [h_min + span * f * f for f in (0.12, 0.3, 0.5, 0.7)]
    grid = [[(" ", None) for _ in range(width)] for _ in range(height)]
    for cy in range(height):
        for cx in range(width):
            here = heights[cy][cx]
            right = heights[cy][min(cx + 1, width - 1)]
            below = heights[min(cy + 1, height - 1)][cx]
            for level in levels:
                if (here - level) * (right - level) < 0 or (here - level) * (below - level) < 0:
                    grid[cy][cx] = (style.char("·", ":"), "dim")
                    break

    def cell_of(x, y):
        cx = int((x - x_low) / cell_w)
        cy = int((y_high - y) / cell_h)
        return (cx, cy) if 0 <= cx < width and 0 <= cy < height else None

    marks = [(p, "o", "curve") for p in points[1:-1]]
    if minimum is not None:
        marks.append((minimum, "+", "good"))
    if points:
        marks.append((points[-1], "E", "mark"))
        marks.append((points[0], "S", "start"))
    for (x, y), ch, role in marks:
        where = cell_of(x, y) if math.isfinite(x) and math.isfinite(y) else None
        if where:
            grid[where[1]][where[0]] = (ch, role)
    y_ticks = {0: number(y_high), height - 1: number(y_low)}
    if y_low < 0 < y_high:
        y_ticks[int(y_high / (y_high - y_low) * height)] = "0"
    block = _frame(grid, (y_low, y_high), (x_low, x_high), style, "x", y_ticks=y_ticks)
    if title:
        block.lines.insert(0, " " * max(0, (block.width - len(title)) // 2) + style.paint(title, "title"))
    return block
