"""neurodecode: fMRI encoding and decoding on NSD and BOLD5000.

``import neurodecode`` is cheap: heavy libraries (torch, diffusers, open_clip) are imported
only inside the functions that need them.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("neurodecode")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
