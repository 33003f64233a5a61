"""PNG figures of the building blocks, drawn with matplotlib (the optional extra "plot").

They show the same data as the terminal plots of `fpkernels explain` (see
fpkernels.explain.plot_data). matplotlib is imported only when a figure is made:

    $ pip install "fpkernels[plot]"
    $ fpkernels explain gelu --png gelu.png
"""
import numpy as np

INSTALL_HINT = 'pip install "fpkernels[plot]"'


class MissingMatplotlib(ImportError):
    """matplotlib is not installed; the message says how to install it."""


def _figure_class():
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise MissingMatplotlib(f"PNG figures need matplotlib, which is not installed; "
                                f"install it with:  {INSTALL_HINT}") from error
    return Figure


def _axes_style(ax):
    ax.grid(True, color="0.9")
    ax.axhline(0.0, color="0.6", linewidth=0.8)
    ax.axvline(0.0, color="0.6", linewidth=0.8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def figure(data, title=""):
    """A matplotlib Figure of a fpkernels.explain.PlotData (no pyplot, no window)."""
    Figure = _figure_class()
    if data.kind == "curves":
        fig = Figure(figsize=(9.0, 3.6), layout="constrained")
        axes = fig.subplots(1, len(data.panels))
        for ax, panel, colour in zip(np.atleast_1d(axes), data.panels, ("tab:blue", "tab:orange")):
            _axes_style(ax)
            ax.plot(panel["x"], panel["y"], color=colour, linewidth=2)
            ax.set_title(panel["title"])
            ax.set_xlabel(panel["xlabel"])
            finite = np.asarray(panel["y"])[np.isfinite(panel["y"])]
            if finite.size and np.ptp(finite) < 1e-9:
                ax.set_ylim(finite[0] - 1, finite[0] + 1)
    elif data.kind == "histogram":
        fig = Figure(figsize=(7.0, 3.6), layout="constrained")
        ax = fig.subplots()
        ax.grid(True, color="0.9")
        ax.hist(data.sample, bins=80, range=data.x_range, density=True, color="tab:blue",
                alpha=0.7, label="sampled weights")
        if data.density is not None:
            xs = np.linspace(*data.x_range, 400)
            ax.plot(xs, [data.density(x) for x in xs], color="tab:orange", linewidth=2,
                    label="target density")
        ax.set_xlabel("weight value")
        ax.set_ylabel("density")
        ax.set_title(data.title)
        ax.legend(loc="upper right")
    elif data.kind == "path":
        fig = Figure(figsize=(7.0, 3.8), layout="constrained")
        ax = fig.subplots()
        x0, x1, y0, y1 = data.extent
        gx, gy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 120))
        ax.contour(gx, gy, data.surface(gx, gy), levels=12, colors="0.75", linewidths=0.8)
        points = np.array(data.points)
        ax.plot(points[:, 0], points[:, 1], "-o", color="tab:blue", markersize=3, linewidth=1,
                label="steps")
        ax.plot(*points[0], "o", color="tab:green", markersize=8, label="start")
        ax.plot(*points[-1], "D", color="tab:red", markersize=7, label="last point")
        ax.plot(*data.minimum, "+", color="black", markersize=12, mew=2, label="minimum")
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_title(data.title)                 # explain already put lr = ... in it
        ax.legend(loc="upper right", fontsize="small")
    else:
        raise ValueError(f"unknown plot kind {data.kind!r}")
    if title:
        import textwrap
        width = 70 if fig.get_figwidth() < 8 else 95
        fig.suptitle(textwrap.fill(textwrap.shorten(title, 2 * width), width), fontsize="medium")
    return fig


def save(kind, entry, path, dpi=110):
    """Draw the entry's plot (see fpkernels.explain.plot_data) and save it as a PNG at `path`."""
    from . import explain
    _figure_class()                      # fail early, before computing anything
    data = explain.plot_data(kind, entry)
    summary = explain.summary(entry)
    fig = figure(data, title=f"{entry.name}: {summary}" if summary else entry.name)
    fig.savefig(path, dpi=dpi)
    return path
