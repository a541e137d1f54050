"""kqtools (kq): enterprise lists, scoring, credit lists, specialists and reminders."""
__version__ = "0.1.0"


def _source_checkout() -> None:
    """Run from a source checkout (``python -m kqtools`` in the repository), ``schemas/``,
    ``fixtures/`` and ``jobs/`` sit beside the package instead of inside it: let them resolve as
    ``kqtools.schemas``, ``kqtools.fixtures`` and ``kqtools.default_jobs`` all the same, as in an
    installed package (setup.cfg maps them there)."""
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    if os.path.isdir(os.path.join(here, "schemas")) or not os.path.isfile(os.path.join(root, "schemas", "__init__.py")):
        return
    __path__.append(root)  # noqa: F821 - the package's own __path__: kqtools.schemas, kqtools.fixtures
    if "kqtools.default_jobs" not in sys.modules:
        import importlib.util

        jobs = os.path.join(root, "jobs")
        spec = importlib.util.spec_from_file_location("kqtools.default_jobs", os.path.join(jobs, "__init__.py"),
                                                      submodule_search_locations=[jobs])
        module = importlib.util.module_from_spec(spec)
        sys.modules["kqtools.default_jobs"] = module
        spec.loader.exec_module(module)


_source_checkout()
