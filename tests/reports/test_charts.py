"""The charts' look lives in a static file; it must stay in step with the pygal style the charts are drawn with."""

from __future__ import annotations

import re
from pathlib import Path

import pygal

from incidents.views.report_charts import CHART_OPTIONS, STYLE

CSS = Path(__file__).resolve().parents[2] / "incidents" / "static" / "reports" / "reports.css"


def test_static_chart_css_has_every_series_colour_of_the_style():
    chart = pygal.Bar(**CHART_OPTIONS)
    for index in range(len(STYLE.colors)):
        chart.add(str(index), [1])
    svg = chart.render(is_unicode=True)
    chart_id = re.search(r'id="(chart-[^"]+)"', svg).group(1)
    rules = re.findall(r"\.color-\d+,[^}]+\}", svg.replace(f"#{chart_id}", ".report-chart"))
    css = CSS.read_text()
    assert len(rules) == len(STYLE.colors)
    for rule in rules:
        assert rule.replace("&gt;", ">") in css
