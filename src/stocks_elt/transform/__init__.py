"""
The transform stage: the dbt project shipped in this package, run in-process.

``packaged_project_dir()`` names the project folder; it imports nothing but the
standard library, so a DAG file may call it while it is parsed.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: The folder of the dbt project inside this package.
PROJECT_RESOURCE = "dbt_project"


def packaged_project_dir() -> Path:
    """Return the folder of the dbt project shipped in ``stocks_elt.transform``.

    Raises:
        FileNotFoundError: the package is not installed as files on disk (a zip).
    """
    found = resources.files(__name__).joinpath(PROJECT_RESOURCE)
    if not isinstance(found, Path):
        raise FileNotFoundError(
            f"the dbt project {found} is not a folder on disk; install stocks-elt "
            "as files (not zipped) to run the transform"
        )
    return found
