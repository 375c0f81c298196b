from .kit import kit  # noqa: F401  (the fixture every step test uses)
