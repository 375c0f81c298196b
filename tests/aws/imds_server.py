"""The IMDSv2 stand-in for the tests: it lives in the package
(nommer.testing.imds), where ``python -m nommer.testing.aws`` starts it too."""

from nommer.testing.imds import ImdsServer  # noqa: F401
