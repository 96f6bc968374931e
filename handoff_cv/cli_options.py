"""Typer options generated from :class:`~handoff_cv.settings.Settings`.

:func:`with_settings` adds ``--config FILE`` and one ``--section-key`` option per setting to
a command, grouped by section in ``--help``, and hands the command a validated ``settings``.
Options left out keep the TOML file's value, or the default.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from handoff_cv.settings import FieldInfo, Settings, _as_text, all_fields


def _option_for(field: FieldInfo) -> inspect.Parameter:
    default = "unset" if field.default is None else _as_text(field.default)
    help_text = f"{field.description} [default: {default}]"
    panel = f"Settings: {field.section}"
    if field.scalar_type is bool:
        flag = f"{field.option}/--no-{field.option[2:]}"
        option = typer.Option(flag, help=help_text, rich_help_panel=panel, show_default=False)
    else:
        option = typer.Option(
            field.option, help=help_text, rich_help_panel=panel, show_default=False
        )
    value_type = field.literal if field.choices else field.scalar_type
    annotation = Annotated[value_type | None, option]  # type: ignore[valid-type]
    return inspect.Parameter(field.param, inspect.Parameter.KEYWORD_ONLY, default=None,
                             annotation=annotation)  # fmt: skip


CONFIG_PARAM = inspect.Parameter(
    "config",
    inspect.Parameter.KEYWORD_ONLY,
    default=None,
    annotation=Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="TOML settings file (write one with 'handoff-cv config init'); "
            "options given here override it.",
            rich_help_panel="Settings",
            show_default=False,
        ),
    ],
)


def settings_from_options(config: Path | None, values: dict[str, Any]) -> Settings:
    """Defaults, then the TOML file, then the options that were given."""
    base = Settings.from_toml(config) if config else Settings()
    fields = {f.param: f for f in all_fields()}
    overrides = {fields[k].dotted: v for k, v in values.items() if v is not None}
    return base.with_overrides(overrides) if overrides else base


def with_settings(func: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a command taking ``settings: Settings`` so the CLI exposes every setting."""
    signature = inspect.signature(func, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name != "settings"]
    generated = [CONFIG_PARAM] + [_option_for(f) for f in all_fields()]
    names = {p.name for p in generated}

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        config = kwargs.pop("config", None)
        values = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
        return func(*args, settings=settings_from_options(config, values), **kwargs)

    wrapper.__signature__ = signature.replace(parameters=own + generated)  # type: ignore[attr-defined]
    return wrapper
