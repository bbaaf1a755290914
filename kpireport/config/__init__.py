"""The configuration: YAML → validated models, with errors that point at file, line and field.

Loading is in two passes. The first (:mod:`~kpireport.config.load` into
:mod:`~kpireport.config.models`) checks the shape of the file (types, required fields,
``${ENV_VAR}`` interpolation). The second, :func:`kpireport.config.checks.check_config`, needs
the loaded plugins: it checks each source's settings against the model its plugin declares,
that every KPI and objective refers to something that exists, and that brand assets are
present. Both passes collect every problem before raising one
:class:`~kpireport.errors.ConfigError`.
"""

from kpireport.config.load import load_config, parse_yaml
from kpireport.config.models import (
    SECTIONS,
    AgencyConfig,
    Branding,
    ClientConfig,
    Colours,
    Config,
    Defaults,
    DeliveryRef,
    FontFace,
    KeyResultConfig,
    KpiRef,
    ObjectiveConfig,
    OkrConfig,
    PluginsConfig,
    RunsConfig,
    SourceRef,
    dotted,
)

__all__ = [
    "SECTIONS", "AgencyConfig", "Branding", "ClientConfig", "Colours", "Config", "Defaults",
    "DeliveryRef", "FontFace", "KeyResultConfig", "KpiRef", "ObjectiveConfig", "OkrConfig",
    "PluginsConfig", "RunsConfig", "SourceRef", "dotted", "load_config", "parse_yaml",
]
