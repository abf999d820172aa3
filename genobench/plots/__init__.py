"""Plotly figures: the renderer every notebook shares here, one module per benchmark beside
it."""

from __future__ import annotations

import plotly.io as pio


def use_notebook_renderer() -> None:
    """Make `fig.show()` embed plotly.js in the notebook, so nbconvert/Quarto pages show figures.

    Under papermill plotly defaults to the mimetype renderer, which nbconvert's HTML drops.
    """
    pio.renderers.default = "plotly_mimetype+notebook"
