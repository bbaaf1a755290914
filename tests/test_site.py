"""``kpireport site``: the archive of delivered reports, from the ledger and the spool."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from kpireport.batch import state_paths
from kpireport.cli import main
from kpireport.config import load_config
from kpireport.ledger import Ledger
from kpireport.site import SiteError, build_site

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config.example.yaml"
THEME = ROOT / "report_templates" / "default"
CLIENTS = {"maison-lumiere": "Maison Lumière", "northwind-dental": "Northwind Dental Group",
           "acme-robotics": "Acme Robotics"}


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.row_heads: list[str] = []
        self._in_row_head = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a":
            self.hrefs.append(attrs["href"])
        self._in_row_head = tag == "th" and attrs.get("scope") == "row"

    def handle_data(self, data):
        if self._in_row_head and data.strip():
            self.row_heads.append(data.strip())
            self._in_row_head = False


def links(path: Path) -> Links:
    parser = Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def spool(paths, client: str, period: str, objectives=None) -> None:
    """What a run leaves in the spool for one report: each file names its client and period."""
    for suffix in (".html", ".pdf"):
        path = paths.spool(client, period, suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{suffix} of {CLIENTS[client]} for {period}", encoding="utf-8")
    meta = {"names": {}, "pages": 3, "gaps": {}}
    if objectives is not None:
        meta["objectives"] = objectives
    paths.spool(client, period, ".json").write_text(json.dumps(meta), encoding="utf-8")


@pytest.fixture
def archive(tmp_path):
    """Two months delivered to each example client, a third month that failed for one and a
    delivered month whose spool is gone for another."""
    config = load_config(CONFIG)
    runs = tmp_path / "runs"
    paths = state_paths(config, runs)
    with Ledger(paths.ledger) as ledger:
        for client in CLIENTS:
            for period in ("2026-09", "2026-10"):
                attempt = ledger.record(run_id="r", client=client, period=period,
                                        status="delivered")
                # Two targets: the report is listed once all the same.
                for target in ("folder", "email"):
                    ledger.record_delivery(client=client, period=period, target=target,
                                           status="delivered", attempt_id=attempt)
                spool(paths, client, period, [
                    {"title": f"Objective of {CLIENTS[client]}", "status":
                     "on_track" if period == "2026-10" else "at_risk"}])
        failed = ledger.record(run_id="r", client="acme-robotics", period="2026-11",
                               status="failed")
        ledger.record_delivery(client="acme-robotics", period="2026-11", target="folder",
                               status="failed", attempt_id=failed)
        spool(paths, "acme-robotics", "2026-11")  # rendered, never delivered
        gone = ledger.record(run_id="r", client="northwind-dental", period="2026-08",
                             status="delivered")
        ledger.record_delivery(client="northwind-dental", period="2026-08", target="folder",
                               status="delivered", attempt_id=gone)
    return config, runs, tmp_path / "site"


def test_each_client_has_a_folder_listing_each_delivered_report_once(archive):
    config, runs, site = archive
    sites = build_site(config, site, theme_path=THEME, output_dir=runs)
    assert {s.client.id: [r.period for r in s.reports] for s in sites} == {
        "maison-lumiere": ["2026-10", "2026-09"], "northwind-dental": ["2026-10", "2026-09"],
        "acme-robotics": ["2026-10", "2026-09"]}
    assert [s.missing for s in sites] == [[], ["2026-08"], []]
    for client in CLIENTS:
        folder = site / client
        assert sorted(p.name for p in folder.iterdir()) == [
            ".kpireport-site", "2026-09.html", "2026-09.pdf", "2026-10.html", "2026-10.pdf",
            "_fonts", "index.html"]
        index = links(folder / "index.html")
        # Each report once, newest first, both files linked; every link is to a file there.
        assert index.hrefs == ["2026-10.html", "2026-10.pdf", "2026-09.html", "2026-09.pdf"]
        assert all((folder / href).is_file() for href in index.hrefs)
        assert (folder / "2026-10.pdf").read_text() == f".pdf of {CLIENTS[client]} for 2026-10"


def test_the_client_index_says_the_month_its_kind_and_its_objectives(archive):
    config, runs, site = archive
    build_site(config, site, theme_path=THEME, output_dir=runs)
    english = (site / "northwind-dental" / "index.html").read_text(encoding="utf-8")
    assert links(site / "northwind-dental" / "index.html").row_heads == [
        "October 2026", "September 2026"]
    assert english.count("Monthly performance report") == 2
    october, september = english.split("September 2026")
    assert "On track</span> Objective of Northwind Dental Group" in october
    assert "At risk</span> Objective of Northwind Dental Group" in september
    assert '<html lang="en">' in english
    # A French client's index is in French.
    french = (site / "maison-lumiere" / "index.html").read_text(encoding="utf-8")
    assert '<html lang="fr">' in french
    assert "Octobre 2026" in french and "Rapport de performance mensuel" in french
    assert "En bonne voie</span> Objective of Maison Lumière" in french


def test_nothing_of_one_client_is_in_another_clients_folder(archive):
    config, runs, site = archive
    build_site(config, site, theme_path=THEME, output_dir=runs)
    for client in CLIENTS:
        others = [(cid, name) for cid, name in CLIENTS.items() if cid != client]
        for path in (site / client).rglob("*"):
            if path.parent.name == "_fonts" or path.is_dir():
                continue  # the theme's faces and licence: the same in every folder
            text = path.read_text(encoding="utf-8")
            for cid, name in others:
                assert cid not in text and name not in text, (path, cid)
            # No link out of the folder: it can be shared, or hosted, on its own.
            assert not re.search(r'href="(\.\.|/|[a-z]+:)', text), path


def font_urls(page: Path) -> list[str]:
    return re.findall(r'url\("([^"]+)"\) format\("woff2"\)', page.read_text(encoding="utf-8"))


def test_the_index_pages_use_the_reports_typeface_from_files_of_their_own_folder(archive):
    config, runs, site = archive
    build_site(config, site, theme_path=THEME, output_dir=runs)
    faces = sorted(p.name for p in (THEME / "fonts").glob("*.woff2"))
    assert faces == ["Inter-Bold.woff2", "Inter-Regular.woff2"]
    for folder in (site, *(site / c for c in CLIENTS)):
        page = folder / "index.html"
        text = page.read_text(encoding="utf-8")
        # Linked, not embedded: the page stays a few kilobytes.
        assert "base64" not in text and len(text.encode()) < 20_000
        assert sorted(font_urls(page)) == [f"_fonts/{name}" for name in faces]
        assert 'font-family: "Inter", "DejaVu Sans", sans-serif;' in text
        # Each face written once, in the folder's own _fonts/, valid WOFF2, with its licence.
        assert sorted(p.name for p in (folder / "_fonts").iterdir()) == sorted(["OFL.txt", *faces])
        for url in font_urls(page):
            data = (folder / url).read_bytes()
            assert data[:4] == b"wOF2"
            assert data == (THEME / "fonts" / Path(url).name).read_bytes()
    # A re-run neither duplicates nor rewrites them (the root's copy is left as it was).
    root_face = site / "_fonts" / "Inter-Regular.woff2"
    before = root_face.stat().st_mtime_ns
    (site / "_fonts" / "Inter-Thin.woff2").write_bytes(b"wOF2 left by an older site")
    build_site(config, site, theme_path=THEME, output_dir=runs)
    assert root_face.stat().st_mtime_ns == before
    assert sorted(p.name for p in (site / "_fonts").iterdir()) == sorted(["OFL.txt", *faces])
    assert len(list(site.rglob("*.woff2"))) == 2 * (1 + len(CLIENTS))
    # The site's own folder of faces is not a client's: prune() leaves it be.
    assert sorted(p.name for p in site.iterdir()) == sorted(
        [".kpireport-site", "_fonts", "index.html", *CLIENTS])


def test_without_the_themes_faces_the_index_pages_keep_the_reports_stack(archive):
    config, runs, site = archive
    build_site(config, site, theme_path=None, output_dir=runs)
    text = (site / "index.html").read_text(encoding="utf-8")
    assert "@font-face" not in text and not (site / "_fonts").exists()
    assert 'font-family: "Inter", "DejaVu Sans", sans-serif;' in text


def test_the_agency_index_lists_each_client_once_with_a_working_link(archive):
    config, runs, site = archive
    build_site(config, site, theme_path=THEME, output_dir=runs)
    index = links(site / "index.html")
    assert index.hrefs == [f"{c}/index.html" for c in CLIENTS]
    assert all((site / href).is_file() for href in index.hrefs)
    text = (site / "index.html").read_text(encoding="utf-8")
    assert all(text.count(name) == 1 for name in CLIENTS.values())
    assert '<td data-label="Reports">2</td>' in text and "October 2026" in text


def test_a_rebuild_drops_what_is_no_longer_delivered_and_a_foreign_folder_is_refused(archive):
    config, runs, site = archive
    build_site(config, site, theme_path=THEME, output_dir=runs)
    (site / "acme-robotics" / "stray.pdf").write_text("left by hand")
    with Ledger(state_paths(config, runs).ledger) as ledger:
        ledger.forget("acme-robotics", "2026-09")
    build_site(config, site, theme_path=THEME, output_dir=runs)
    assert sorted(p.name for p in (site / "acme-robotics").iterdir()) == [
        ".kpireport-site", "2026-10.html", "2026-10.pdf", "_fonts", "index.html"]
    other = archive[2].parent / "photos"
    other.mkdir()
    (other / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(SiteError, match="not empty and holds no kpireport site"):
        build_site(config, other, theme_path=THEME, output_dir=runs)
    assert [p.name for p in other.iterdir()] == ["holiday.jpg"]


def test_a_client_removed_from_the_config_loses_its_folder_but_a_foreign_one_stays(
        archive, capsys, monkeypatch):
    _, runs, site = archive
    assert main(["site", str(CONFIG), "--reports", str(runs), "--output", str(site)]) == 0
    (site / "assets").mkdir()  # the agency's own folder: no marker, never removed
    (site / "assets" / "logo.png").write_bytes(b"png")
    # A client's folder written before folders had their marker: kpireport's index page.
    (site / "old-client").mkdir()
    (site / "old-client" / "index.html").write_text(
        '<!DOCTYPE html><html><head><meta name="generator" content="kpireport">',
        encoding="utf-8")
    capsys.readouterr()
    # Acme leaves the agency: the config no longer has it. One client is rebuilt.
    dropped = load_config(CONFIG)
    dropped.clients = [c for c in dropped.clients if c.id != "acme-robotics"]
    monkeypatch.setattr("kpireport.config.load_config", lambda path: dropped)
    assert main(["site", str(CONFIG), "--client", "northwind-dental", "--reports", str(runs),
                 "--output", str(site)]) == 0
    _, err = capsys.readouterr()
    assert sorted(p.name for p in site.iterdir()) == [
        ".kpireport-site", "_fonts", "assets", "index.html", "maison-lumiere",
        "northwind-dental"]
    assert (site / "assets" / "logo.png").read_bytes() == b"png"
    said = err.splitlines()
    assert any("removed" in line and "acme-robotics" in line
               and "no longer in the config" in line for line in said), err
    assert any("removed" in line and "old-client" in line for line in said), err
    assert any("left" in line and "assets" in line for line in said), err
    # The agency's index no longer lists it; the other clients' folders are untouched.
    assert links(site / "index.html").hrefs == ["maison-lumiere/index.html",
                                                "northwind-dental/index.html"]
    assert "Acme" not in (site / "index.html").read_text(encoding="utf-8")
    assert (site / "maison-lumiere" / "2026-10.pdf").is_file()


def test_the_command_writes_one_clients_folder(archive, capsys):
    _, runs, site = archive
    assert main(["site", str(CONFIG), "--client", "northwind-dental", "--reports", str(runs),
                 "--output", str(site)]) == 0
    out, err = capsys.readouterr()
    assert "northwind-dental: 2 reports" in out
    assert "warning: northwind-dental 2026-08: delivered, but its files are no longer" in err
    assert sorted(p.name for p in site.iterdir()) == [
        ".kpireport-site", "_fonts", "index.html", "northwind-dental"]
    assert links(site / "index.html").hrefs == ["northwind-dental/index.html"]


@pytest.mark.pdf
@pytest.mark.workers
def test_two_months_of_runs_of_the_example_make_a_site(tmp_path):
    runs, site = tmp_path / "runs", tmp_path / "site"
    for month in ("2026-09", "2026-10"):
        assert main(["run", str(CONFIG), "--client", "northwind-dental", "--period", month,
                     "--output", str(runs)]) == 0
    assert main(["site", str(CONFIG), "--reports", str(runs), "--output", str(site)]) == 0
    folder = site / "northwind-dental"
    index = links(folder / "index.html")
    assert index.hrefs == ["2026-10.html", "2026-10.pdf", "2026-09.html", "2026-09.pdf"]
    assert (folder / "2026-10.pdf").read_bytes().startswith(b"%PDF")
    page = (folder / "2026-10.html").read_text(encoding="utf-8")
    assert "Northwind Dental Group" in page and "October 2026" in page
    # The example's three objectives, with the statuses the report gave them.
    text = (folder / "index.html").read_text(encoding="utf-8")
    assert text.count("550 qualified leads a month by year end") == 2
    assert links(site / "index.html").hrefs == ["northwind-dental/index.html"]
