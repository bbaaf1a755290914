"""kpireport: objectives → KPIs → branded PDF reports.

Plugin authors import :data:`hookimpl` from here; the contract is :mod:`kpireport.hookspecs`.
"""

from kpireport.hookspecs import hookimpl

__all__ = ["hookimpl"]
__version__ = "0.1.0"
