"""The analyst's commentary: Markdown as written, never raw HTML, links and images kept safe."""

import datetime as dt
import io
from pathlib import Path

import pytest
from pypdf import PdfReader
from shared import example_copy

from kpireport.commentary import commentary_html
from kpireport.config import load_config
from kpireport.pipeline.report import compute_report
from kpireport.plugins import load_plugins
from kpireport.render import render_report

NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


def html(text: str) -> str:
    rendered = commentary_html(text)
    assert rendered is not None
    return str(rendered)


def test_no_text_is_no_commentary():
    assert commentary_html(None) is None and commentary_html("") is None


def test_headings_go_down_one_level_at_a_time_under_the_sections_own():
    from kpireport.sections import leading_heading

    html = commentary_html("## From your account manager\n\nText.\n\n#### Next steps\n\n"
                           "1. Call\n\n###### Small print\n\nAnd the rest.")
    title, body = leading_heading(html)
    assert title == "From your account manager"
    assert "<h3>Next steps</h3>" in body and "<h4>Small print</h4>" in body
    # Without an opening heading, the highest level is the section's next one too.
    assert str(commentary_html("Text.\n\n### Plan\n\nMore.")).count("<h2>Plan</h2>") == 1


def test_a_quote_is_a_blockquote():
    out = html("> Customers ask for next-day delivery.\n")
    assert "<blockquote>" in out and "Customers ask for next-day delivery." in out
    assert "&gt;" not in out


def test_inline_code_is_escaped_once():
    out = html("Use `a<b && c` in the filter.\n")
    assert "<code>a&lt;b &amp;&amp; c</code>" in out
    assert "&amp;lt;" not in out and "&amp;amp;" not in out


def test_a_link_with_an_ampersand_keeps_its_address():
    out = html("See [the report](https://e.com/r?a=1&b=2).\n")
    assert '<a href="https://e.com/r?a=1&amp;b=2">the report</a>' in out


def test_lists_numbered_and_not():
    out = html("Next steps:\n\n1. Call back\n2. Review the form\n\n- one\n- two\n")
    assert "<ol>" in out and "<li>Call back</li>" in out and "<li>Review the form</li>" in out
    assert "<ul>" in out and "<li>one</li>" in out and "<li>two</li>" in out


def test_raw_html_is_printed_as_text():
    out = html("Before <script>alert(1)</script> after.\n\n<div onclick='x()'>block</div>\n")
    assert "<script" not in out and "<div" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "&lt;div onclick='x()'&gt;block&lt;/div&gt;" in out


def test_only_web_mail_and_anchor_links_are_links():
    out = html("[bad](javascript:alert(1)) [data](data:text/html,hi) [file](file:///etc/passwd)"
               " [rel](other.html)\n\n[mail](mailto:a@e.com) [web](http://e.com) "
               "[here](#objectives) <https://e.com/auto>\n")
    assert "javascript:" not in out.replace("[bad](javascript:alert(1))", "")
    assert 'href="javascript' not in out and 'href="data' not in out
    assert 'href="file' not in out and 'href="other.html' not in out
    assert "[bad](javascript:alert(1))" in out  # left as the analyst wrote it, as text
    for href in ("mailto:a@e.com", "http://e.com", "#objectives", "https://e.com/auto"):
        assert f'href="{href}"' in out


def test_an_image_is_its_alt_text_never_a_fetch():
    out = html("Look: ![the funnel chart](https://tracker.example/pixel.png) and "
               "![local](chart.png)\n")
    assert "<img" not in out and "tracker.example" not in out
    assert "Look: the funnel chart and local" in out  # no template folder has chart.png


def test_an_image_of_the_template_folders_is_embedded_and_no_other(tmp_path: Path):
    import base64

    theme, elsewhere = tmp_path / "theme", tmp_path / "elsewhere"
    (theme / "img").mkdir(parents=True)
    elsewhere.mkdir()
    png = b"\x89PNG\r\n\x1a\n a stand-in"
    (theme / "img" / "funnel.png").write_bytes(png)
    (elsewhere / "secret.png").write_bytes(b"\x89PNG secret")
    (theme / "img" / "tracker.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
        '<image xlink:href="https://tracker.example/p.png"/></svg>', encoding="utf-8")
    out = str(commentary_html(
        "![Funnel](img/funnel.png) ![up](../elsewhere/secret.png) "
        f"![abs]({elsewhere}/secret.png) ![svg](img/tracker.svg) "
        "![remote](https://tracker.example/p.png) [as a link](img/funnel.png)\n", [theme]))
    data = base64.b64encode(png).decode()
    assert f'<img src="data:image/png;base64,{data}" alt="Funnel">' in out
    assert out.count("<img") == 1  # outside the folder, an SVG that fetches, remote: alt text
    assert "up" in out and "abs" in out and "svg" in out and "remote" in out
    assert "tracker.example" not in out
    assert base64.b64encode(b"\x89PNG secret").decode() not in out
    assert "as a link" in out and "href" not in out  # a path is not a link


@pytest.mark.pdf
def test_commentary_in_the_pdf(tmp_path: Path):
    note = tmp_path / "commentary" / "northwind-dental" / "2026-10.md"
    note.parent.mkdir(parents=True)
    note.write_text("## Our take\n\n> Patients ask for evening slots.\n\n"
                    "Filter on `a<b` and read [the brief](https://e.com/b?x=1&y=2).\n\n"
                    "1. Call back within 24 h\n2. Review the booking form\n\n"
                    "<script>alert(1)</script> ![pixel](https://tracker.example/p.png)\n\n"
                    "[click](javascript:alert(1)) [ref][1]\n\n[1]: JAVASCRIPT:alert(2)\n",
                    encoding="utf-8")
    config = load_config(example_copy(tmp_path))
    plugins = load_plugins()
    report = compute_report(config, config.client("northwind-dental"), plugins, now=NOW)
    rendered = render_report(report, plugins)
    reader = PdfReader(io.BytesIO(rendered.pdf))
    # The first page's contents names the section by the commentary's own heading too.
    [page] = [p for p in reader.pages[1:] if "Our take" in p.extract_text()]
    text = " ".join(page.extract_text().split())
    assert "Patients ask for evening slots." in text and "> Patients" not in text
    assert "Filter on a<b and read the brief." in text
    assert "&lt;" not in text and "&amp;" not in text
    assert "](" not in text.replace("[click](javascript:alert(1))", "")  # kept as text
    assert "Call back within 24 h Review the booking form" in text
    assert "<script>alert(1)</script> pixel" in text
    links = [a["/A"]["/URI"] for p in reader.pages for a in
             (x.get_object() for x in p.get("/Annots", [])) if "/URI" in a.get("/A", {})]
    assert "https://e.com/b?x=1&y=2" in links
    assert not [u for u in links if "tracker" in u]
    assert not [u for u in links if "script" in u.lower()]
    assert not [a for p in reader.pages for a in (x.get_object() for x in p.get("/Annots", []))
                if a.get("/A", {}).get("/S") == "/JavaScript"]


@pytest.mark.pdf
def test_an_image_of_the_agency_folder_in_the_html_and_the_pdf(tmp_path: Path):
    from PIL import Image

    templates = tmp_path / "templates"
    (templates / "img").mkdir(parents=True)
    Image.new("RGB", (40, 20), (200, 30, 30)).save(templates / "img" / "chart.png")
    note = tmp_path / "commentary" / "northwind-dental" / "2026-10.md"
    note.parent.mkdir(parents=True)
    note.write_text("## Our take\n\n![Bookings chart](img/chart.png) "
                    "![pixel](https://tracker.example/p.png)\n", encoding="utf-8")

    def edit(data):
        data["agency"]["template_dir"] = str(templates)

    config = load_config(example_copy(tmp_path, edit))
    plugins = load_plugins()
    report = compute_report(config, config.client("northwind-dental"), plugins, now=NOW)
    rendered = render_report(report, plugins,
                             agency_template_dir=config.resolve_path(str(templates)))
    assert 'src="data:image/png;base64,' in rendered.html
    assert 'alt="Bookings chart"' in rendered.html
    assert "tracker.example" not in rendered.html
    reader = PdfReader(io.BytesIO(rendered.pdf))
    [page] = [p for p in reader.pages[1:] if "Our take" in p.extract_text()]
    assert [image for image in page.images if image.image.size == (40, 20)]
