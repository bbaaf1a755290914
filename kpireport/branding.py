"""The agency's and the client's branding read in as data URIs, so rendering reads no path."""

from __future__ import annotations

import base64
import mimetypes
from pathlib import Path
from typing import Any

from kpireport.config.models import SECTIONS, ClientConfig, Config
from kpireport.periods import Period


def data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix.lower() == ".svg":
        mime = "image/svg+xml"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def logos_of(config: Config, client: ClientConfig) -> dict[str, str]:
    """The agency's and the client's logos (``agency``, ``client``) that the config names."""
    logos = {}
    if config.agency.logo:
        logos["agency"] = data_uri(config.resolve_path(config.agency.logo))
    if client.logo:
        logos["client"] = data_uri(config.resolve_path(client.logo))
    return logos


def brand_of(config: Config, client: ClientConfig, period: Period) -> dict[str, Any]:
    """The client's branding with files read in (data URIs), so rendering reads no path."""
    fonts = [{"family": f.family, "weight": f.weight, "style": f.style,
              "src": data_uri(config.resolve_path(f.path))}
             for f in (config.brand_of(client, "fonts") or [])]
    cover = config.brand_of(client, "cover_image")
    commentary_path = config.resolve_path(config.defaults.commentary.format(
        client=client.id, period=period.key))
    tagged = config.brand_of(client, "tagged")
    return {
        "footer": config.brand_of(client, "footer") or config.agency.name,
        "fonts": fonts,
        "cover_image": data_uri(config.resolve_path(cover)) if cover else None,
        "sections": list(config.brand_of(client, "sections") or SECTIONS),
        "archival": bool(config.brand_of(client, "archival")),
        "tagged": True if tagged is None else tagged,
        "commentary": (commentary_path.read_text(encoding="utf-8")
                       if commentary_path.is_file() else None),
        # Named in the warning about a note that names no KPI or section.
        "commentary_file": str(commentary_path) if commentary_path.is_file() else None,
    }
