"""arena reference API: a small WSGI app used by the api role's tests and the demo."""

__version__ = "1.0.0"
