"""The xpiler IR (see :mod:`xpiler.ir.nodes`)."""

from .nodes import *  # noqa: F401,F403
from .nodes import Loc, Module, children, walk  # noqa: F401
from .transform import map_children, rename, rewrite  # noqa: F401
from . import analysis  # noqa: F401,E402
