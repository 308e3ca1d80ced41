"""ehkeys: ElectronHub proxy keys as code."""

__version__ = "0.1.0"
