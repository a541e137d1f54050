"""kqtools (kq): enterprise lists, scoring, credit lists, specialists and reminders."""
__version__ = "0.1.0"


def _source_checkout() -> None:
    """Run from a source checkout (``python -m kqtools`` in the repository), ``schemas/`` and
    ``fixtures/`` sit beside the package instead of inside it: let them resolve as
    ``kqtools.schemas`` and ``kqtools.fixtures`` all the same. An installed package has them inside."""
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    if not os.path.isdir(os.path.join(here, "schemas")) and os.path.isfile(os.path.join(root, "schemas", "__init__.py")):
        __path__.append(root)  # noqa: F821 - the package's own __path__


_source_checkout()
