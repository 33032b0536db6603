"""Version of the package; the reference's 0.2.0 is the behaviour we track."""

__version__ = "0.2.0"
