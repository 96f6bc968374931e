"""One settings model: TOML file, CLI options and docs come from it and agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from handoff_cv.cli import app
from handoff_cv.errors import ConfigError
from handoff_cv.settings import Settings, all_fields, settings_markdown

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_toml_round_trip(tmp_path):
    changed = Settings().with_overrides({"tracking.max_people": 2, "video.roi": "10,20,300,400"})
    path = tmp_path / "s.toml"
    path.write_text(changed.to_toml())
    assert Settings.from_toml(path) == changed
    assert changed.video.roi == (10, 20, 300, 400)


def test_per_runner_statures_from_options_and_toml(tmp_path):
    changed = Settings().with_overrides({"exchange.statures_m": "0=1.82, 1=1.68"})
    assert changed.exchange.stature_of(1) == 1.68 and changed.exchange.stature_of(5) == 1.75
    path = tmp_path / "s.toml"
    path.write_text(changed.to_toml())
    assert Settings.from_toml(path) == changed


def test_default_toml_documents_every_key():
    text = Settings().to_toml()
    for field in all_fields():
        assert field.key in text
        assert field.description.split()[0] in text


def test_invalid_values_give_a_one_line_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[tracking]\nmax_people = 0\n")
    with pytest.raises(ConfigError) as info:
        Settings.from_toml(path)
    assert "tracking.max_people" in info.value.one_line() and "\n" not in info.value.one_line()
    path.write_text("[tracking]\nmax_poeple = 3\n")
    with pytest.raises(ConfigError, match="max_poeple"):
        Settings.from_toml(path)


def test_every_setting_is_a_cli_option():
    result = runner.invoke(app, ["track", "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    for field in all_fields():
        assert field.option in result.output, field.option


def test_cli_options_override_the_config_file(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("[tracking]\nmax_people = 2\nmin_hits = 5\n")
    result = runner.invoke(
        app, ["config", "show", "--config", str(path), "--tracking-max-people", "3"]
    )
    assert result.exit_code == 0, result.output
    shown = Settings.from_dict(_toml(result.output))
    assert shown.tracking.max_people == 3 and shown.tracking.min_hits == 5


def test_settings_docs_are_generated_from_the_model():
    committed = (REPO / "docs" / "settings.md").read_text()
    assert committed.strip() == settings_markdown().strip(), (
        "docs/settings.md is stale: run 'handoff-cv config docs > docs/settings.md'"
    )


def test_config_init_writes_a_loadable_file(tmp_path):
    path = tmp_path / "handoff-cv.toml"
    assert runner.invoke(app, ["config", "init", str(path)]).exit_code == 0
    assert Settings.from_toml(path) == Settings()
    again = runner.invoke(app, ["config", "init", str(path)])
    assert again.exit_code != 0 and "exists" in again.output


def _toml(text: str) -> dict:
    import tomllib

    return tomllib.loads(re.sub(r"\x1b\[[0-9;]*m", "", text))
