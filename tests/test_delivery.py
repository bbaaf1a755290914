import os

import pytest
from pydantic import ValidationError

from kpireport.delivery import Artifacts, DeliveryContext, atomic_write
from kpireport_folder import FolderSettings, FolderTarget

NAMES = {"client": "maison-lumiere", "client_name": "Maison Lumière", "period": "2026-10",
         "start": "2026-10-01", "end": "2026-10-31", "language": "fr"}


def test_folder_target_writes_pdf_and_html_by_pattern(tmp_path):
    target = FolderTarget(FolderSettings(path="{client}/{period}.pdf"),
                          DeliveryContext(base_dir=tmp_path, output_dir=tmp_path / "out"))
    where = target.deliver(Artifacts(pdf=b"%PDF-1.7 new", html="<html>new</html>", names=NAMES,
                                     pages=3))
    assert where == str(tmp_path / "out" / "maison-lumiere" / "2026-10.pdf")
    assert (tmp_path / "out/maison-lumiere/2026-10.pdf").read_bytes() == b"%PDF-1.7 new"
    assert (tmp_path / "out/maison-lumiere/2026-10.html").read_text() == "<html>new</html>"


def test_names_cannot_escape_the_output_folder(tmp_path):
    target = FolderTarget(FolderSettings(path="{client_name}.pdf"),
                          DeliveryContext(base_dir=tmp_path, output_dir=tmp_path / "out"))
    names = {**NAMES, "client_name": "../../etc/passwd"}
    where = target.deliver(Artifacts(pdf=b"x", html="", names=names, pages=1))
    assert os.path.dirname(where) == str(tmp_path / "out")


@pytest.mark.parametrize("pattern, message", [
    ("{client}/{month}.pdf", "unknown field"), ("{client}.html", "end with .pdf"),
    ("../{client}.pdf", "inside the output folder"), ("/tmp/{client}.pdf", "inside")])
def test_bad_patterns_are_refused(pattern, message):
    with pytest.raises(ValidationError, match=message):
        FolderSettings(path=pattern)


def test_a_failed_write_keeps_the_good_file_and_leaves_no_part(tmp_path, monkeypatch):
    path = tmp_path / "report.pdf"
    atomic_write(path, b"good report")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, b"half a rep")
    assert path.read_bytes() == b"good report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.pdf"]
