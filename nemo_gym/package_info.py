"""Version of the package; the reference's 0.2.0 is the behaviour we track (it shipped as 0.2.0rc0)."""

MAJOR = 0
MINOR = 2
PATCH = 0
PRE_RELEASE = ""

# (major, minor, patch, pre-release)
VERSION = (MAJOR, MINOR, PATCH, PRE_RELEASE)

__shortversion__ = f"{MAJOR}.{MINOR}.{PATCH}"
__version__ = __shortversion__ + PRE_RELEASE
