"""Everything that can fail a run is refused by ``kpireport validate``: exit 2, with the file,
the line and the field."""

import pytest
from test_config import GOOD, write

from kpireport.cli import main

EMAIL = """\
    delivery:
      - target: email
        settings:
          to: [patron@shop.example]
          sender: reports@agency.example
          host: 127.0.0.1
          security: none
"""


def objective(extra: str) -> str:
    return GOOD.replace("        target: 120\n", f"        target: 120\n{extra}")


CASES = {
    # field (as printed), the config's text, what the message says
    "target-1e30": ("clients[0].objectives[0].target",
                    GOOD.replace("target: 120", "target: 1e30"), "at most"),
    "target-inf": ("clients[0].objectives[0].target",
                   GOOD.replace("target: 120", "target: .inf"), "finite"),
    "target-nan": ("clients[0].objectives[0].target",
                   GOOD.replace("target: 120", "target: .nan"), "finite"),
    "baseline-nan": ("clients[0].objectives[0].baseline",
                     objective("        baseline: .nan\n"), "finite"),
    "deadline-9999": ("clients[0].objectives[0].deadline",
                      GOOD.replace("deadline: 2026-12-31", "deadline: 9999-12-31"), "year"),
    "start-year-1": ("clients[0].objectives[0].start",
                     GOOD.replace("start: 2026-01-01", "start: 0001-01-01"), "year"),
    "unknown-section": ("clients[0].sections",
                        GOOD.replace("    timezone:", "    sections: [cover, sumary]\n"
                                                    "    timezone:"), "sumary"),
    "long-id": ("clients[0].id", GOOD.replace("id: shop", "id: " + "s" * 300), "long"),
    "crlf-name": ("clients[0].name", GOOD.replace("name: The Shop",
                                                  'name: "The Shop\\r\\nBcc: x@evil.example"'),
                  "line break"),
    "crlf-sender-name": ("clients[0].delivery[0].settings.sender_name",
                         GOOD + EMAIL + '          sender_name: "Agency\\nBcc: x@evil.example"\n',
                         "line break"),
    "crlf-subject": ("clients[0].delivery[0].settings.subject.en",
                     GOOD + EMAIL + '          subject: {en: "Report\\r\\nBcc: x@evil.example"}\n',
                     "line break"),
    "sandbox-subject": ("clients[0].delivery[0].settings.subject.en",
                        GOOD + EMAIL + "          subject: {en: \"{{ ''.__class__.__mro__ }}\"}\n",
                        "template"),
    "broken-subject": ("clients[0].delivery[0].settings.body.en",
                       GOOD + EMAIL + "          body: {en: \"{{ client_name \"}\n", "template"),
}


@pytest.mark.parametrize("case", CASES)
def test_validate_refuses_it_with_file_line_and_field(case, tmp_path, capsys):
    field, text, says = CASES[case]
    path = write(tmp_path, text)
    assert main(["-p", "kpireport_test_extras", "validate", str(path), "--no-data"]) == 2
    err = capsys.readouterr().err
    lines = [line.strip() for line in err.splitlines() if f": {field}:" in line]
    assert lines, err
    assert lines[0].startswith(f"{path}:") and lines[0].split(":")[1].isdigit(), lines[0]
    assert says in lines[0], lines[0]


def test_an_svg_brand_file_with_external_references_is_refused(tmp_path, capsys):
    logo = tmp_path / "logo.svg"
    logo.write_text('<svg xmlns="http://www.w3.org/2000/svg" '
                    'xmlns:xlink="http://www.w3.org/1999/xlink">'
                    '<image xlink:href="http://tracker.example/p.png" width="1" height="1"/>'
                    "</svg>", encoding="utf-8")
    path = write(tmp_path, GOOD.replace("  name: Test Agency\n",
                                        f"  name: Test Agency\n  logo: {logo}\n"))
    assert main(["-p", "kpireport_test_extras", "validate", str(path), "--no-data"]) == 2
    err = capsys.readouterr().err
    assert f"{path}:3: agency.logo:" in err and "external" in err
    logo.write_text('<svg xmlns="http://www.w3.org/2000/svg"><style>@import url(http://x.example/a.css);'
                    '</style></svg>', encoding="utf-8")
    assert main(["-p", "kpireport_test_extras", "validate", str(path), "--no-data"]) == 2
    logo.write_text('<svg xmlns="http://www.w3.org/2000/svg"><rect fill="url(#g)" width="1" '
                    'height="1"/></svg>', encoding="utf-8")
    assert main(["-p", "kpireport_test_extras", "validate", str(path), "--no-data"]) == 0


def test_a_data_cell_too_large_for_a_figure_names_its_file_line_and_column(tmp_path, capsys):
    import shutil

    from shared import ROOT, example_copy

    data = tmp_path / "web_daily.csv"
    shutil.copy(ROOT / "examples/data/maison-lumiere/web_daily.csv", data)
    lines = data.read_text(encoding="utf-8").splitlines()
    cells = lines[4].split(",")
    cells[2] = "1e30"
    lines[4] = ",".join(cells)
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def edit(config):
        [client] = [c for c in config["clients"] if c["id"] == "maison-lumiere"]
        client["sources"]["web"]["settings"]["tables"][0]["path"] = str(data)

    path = example_copy(tmp_path, edit)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{data}, line 5, column 3" in err and "'1e30' is too large for a figure" in err
    assert "InvalidOperation" not in err and "internal error" not in err


def test_huge_figures_print_instead_of_failing_the_render():
    from kpireport.formatting import format_change, format_value

    assert format_value(1e30, "currency", "en_GB", "EUR") == "1e+30"
    assert format_value(-1e28, "count", "fr_FR") == "\u22121e+28"
    assert format_change(float("inf"), "en_GB") == "+inf %"
    assert format_change(float("nan"), "en_GB") == "—"


@pytest.mark.parametrize(("char", "column"), [("\0", 11), ("\x07", 11), ("\x1b", 11)])
def test_a_control_character_in_the_yaml_is_a_config_error_at_its_line(
        char, column, tmp_path, capsys):
    path = write(tmp_path, GOOD.replace("name: The Shop", f"name: The{char} Shop"))
    assert main(["-p", "kpireport_test_extras", "validate", str(path), "--no-data"]) == 2
    err = capsys.readouterr().err
    assert f"{path}:8:" in err and f"control character {ord(char):#04x}" in err
    assert "Traceback" not in err


def test_an_alias_bomb_is_refused_quickly(tmp_path, capsys):
    import time

    bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for i, name in enumerate("bcdefghij"):
        previous = "abcdefghij"[i]
        bomb.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]")
    path = write(tmp_path, GOOD + "\n".join(["x-bomb:", *("  " + line for line in bomb)]) + "\n")
    started = time.monotonic()
    assert main(["-p", "kpireport_test_extras", "validate", str(path), "--no-data"]) == 2
    assert time.monotonic() - started < 10  # ten billion values, never built
    err = capsys.readouterr().err
    assert "aliases expand to more than 100,000 values" in err
    assert f"{path}:" in err


def test_an_anchor_reused_a_few_times_is_fine(tmp_path):
    text = GOOD.replace("  colours: {", "  colours: &brand {").replace(
        "    timezone:", "    colours: *brand\n    timezone:")
    assert main(["-p", "kpireport_test_extras", "validate", str(write(tmp_path, text)),
                 "--no-data"]) == 0
