"""moto's server for the tests: it lives in the package (nommer.testing.moto),
where ``python -m nommer.testing.aws`` starts it too."""

from nommer.testing.moto import CREDENTIALS, MotoServer, free_port  # noqa: F401
