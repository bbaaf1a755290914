"""``kpireport preview``: served on 127.0.0.1, re-rendered on change, errors shown not fatal."""

import datetime as dt
import io
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from pypdf import PdfReader
from shared import example_copy

from kpireport.preview import serve

# Every test runs the preview server, whose threads render the report.
pytestmark = pytest.mark.workers

NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def wait_for_version(server, after: int) -> None:
    for _ in range(200):
        if int(get(server.url + "version")) > after:
            return
        time.sleep(0.05)
    raise AssertionError("no re-render")


@pytest.fixture()
def preview(tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "report.html.j2").write_text(
        '{% extends "default/report.html.j2" %}'
        "{% block appendix %}<p>Version A</p>{% endblock %}", encoding="utf-8")

    def edit(data):
        data["agency"]["template_dir"] = str(templates)

    server = serve(example_copy(tmp_path, edit), "northwind-dental", port=0, now=NOW,
                   poll_interval=0.05).start()
    yield server, templates / "report.html.j2"
    server.stop()


def test_serves_the_report_and_re_renders_when_a_template_changes(preview):
    server, template = preview
    assert server.host == "127.0.0.1"
    page = get(server.url).decode()
    assert "Northwind Dental Group" in page and "Version A" in page and "/version" in page
    version = int(get(server.url + "version"))
    template.write_text('{% extends "default/report.html.j2" %}'
                        "{% block appendix %}<p>Version B</p>{% endblock %}", encoding="utf-8")
    wait_for_version(server, version)
    page = get(server.url).decode()
    assert "Version B" in page and "Version A" not in page


def test_a_broken_template_keeps_the_last_good_page_with_the_error(preview):
    server, template = preview
    version = int(get(server.url + "version"))
    template.write_text('{% extends "default/report.html.j2" %}{% block appendix %}<p>oops',
                        encoding="utf-8")
    wait_for_version(server, version)
    page = get(server.url).decode()
    assert "Version A" in page  # the last good render
    assert "TemplateSyntaxError" in page and "appendix" in page


@pytest.mark.pdf
def test_pdf_and_nothing_else(preview):
    server, _ = preview
    pdf = get(server.url + "report.pdf")
    assert pdf.startswith(b"%PDF")
    assert "Northwind Dental Group" in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    for path in ("config.yaml", "../pyproject.toml", "style.css"):
        with pytest.raises(urllib.error.HTTPError) as err:
            get(server.url + path)
        assert err.value.code == 404


def test_an_error_shown_in_the_preview_never_shows_a_secret(preview):
    from kpireport.secrets import register_secret

    server, template = preview
    register_secret("s3cr3tTokenValue")
    version = int(get(server.url + "version"))
    # An error whose message quotes a secret, as a failing source's might.
    template.write_text("{{ s3cr3tTokenValue.x }}", encoding="utf-8")
    wait_for_version(server, version)
    page = get(server.url).decode()
    assert "UndefinedError: &#x27;***&#x27; is undefined" in page
    assert "s3cr3tTokenValue" not in page


def test_a_file_saved_while_the_report_renders_is_not_missed(preview):
    server, template = preview
    refresh = server.preview.refresh
    saves = ["{% extends \"default/report.html.j2\" %}"
             "{% block appendix %}<p>Version C</p>{% endblock %}"]

    def refresh_and_save_meanwhile():
        refresh()
        if saves:  # the analyst saves again just as the render of B ends
            template.write_text(saves.pop(), encoding="utf-8")

    server.preview.refresh = refresh_and_save_meanwhile
    time.sleep(0.02)  # a new modification time for the saves below
    template.write_text('{% extends "default/report.html.j2" %}'
                        "{% block appendix %}<p>Version B</p>{% endblock %}", encoding="utf-8")
    for _ in range(200):
        if "Version C" in get(server.url).decode():
            return
        time.sleep(0.05)
    raise AssertionError("the save made during the render was never shown")


def test_the_files_its_sources_read_are_watched(tmp_path):
    """The preview asks each source which local files it reads (``Source.watched_paths``)."""
    from kpireport.config import load_config
    from kpireport.preview import Preview

    path = example_copy(tmp_path)
    named = {Path(table["path"])
             for source in load_config(path).client("northwind-dental").sources.values()
             for table in source.settings.get("tables", [])}
    preview = Preview(path, "northwind-dental", now=NOW)
    preview.refresh()
    assert preview.error is None and named
    assert named <= set(preview.watched) and path in preview.watched


def request(url: str, host: str) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Host": host})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_answers_only_to_its_own_address(preview):
    # DNS rebinding: a page on evil.example, its name now resolving to 127.0.0.1, reads the
    # preview through the visitor's browser, which sends Host: evil.example.
    server, _ = preview
    for host in (f"evil.example:{server.port}", "evil.example", f"127.0.0.1:{server.port + 1}",
                 f"localhost.evil.example:{server.port}", ""):
        status, body = request(server.url, host)
        assert status == 403, host
        assert b"Northwind" not in body
    assert request(server.url + "version", f"evil.example:{server.port}")[0] == 403
    for host in (f"127.0.0.1:{server.port}", f"localhost:{server.port}"):
        status, body = request(server.url, host)
        assert status == 200 and b"Northwind Dental Group" in body


def test_never_serves_a_nul_byte(preview):
    server, template = preview
    version = int(get(server.url + "version"))
    template.write_text('{% extends "default/report.html.j2" %}'
                        "{% block appendix %}<p>A\0B</p>{% endblock %}", encoding="utf-8")
    wait_for_version(server, version)
    page = get(server.url)
    assert b"\0" not in page and "A\ufffdB".encode() in page
