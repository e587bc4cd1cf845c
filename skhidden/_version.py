"""The installed version of skhidden; a leaf, so any module may read it."""

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("skhidden")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
