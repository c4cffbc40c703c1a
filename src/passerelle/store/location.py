"""Where the database lives: the URL read once, the folder checked, the file kept private.

`database_file` turns ``PASSERELLE_DATABASE_URL`` into a file path (or None for the
``memory://`` twin) and says how to write it when it is wrong. `prepare_file` checks
the folder and makes sure the file and its ``-wal``/``-shm`` companions are readable
by their owner only (mode 0600): they hold callback signing secrets, SMPP passwords,
password hashes, numbers and texts. SQLite creates its companions with the mode of
the database file, so the main file is created 0600 before SQLite ever opens it; files
found wider (made by an older version) are tightened, with a warning.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from passerelle.exceptions import ConfigError

log = logging.getLogger("passerelle.store")

PRIVATE = 0o600
COMPANIONS = ("-wal", "-shm", "-journal")
_EXAMPLE = "sqlite:///./passerelle.db"
_SHARED = (
    "the gateway needs a database file shared by its processes (serve, its workers, "
    f"the CLI); name one, e.g. PASSERELLE_DATABASE_URL={_EXAMPLE}"
)


POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(url: str) -> bool:
    """True when `url` names a PostgreSQL database (``postgresql://user@host:port/db``)."""
    return url.startswith(POSTGRES_SCHEMES)


def safe_url(url: str) -> str:
    """A database URL without its password (the user name stays)."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        userinfo, host = rest.rsplit("@", 1)
        user = userinfo.split(":", 1)[0] + (":***" if ":" in userinfo else "")
        return f"{scheme}://{user}@{host}"
    return url


def database_file(url: str) -> str | None:
    """The SQLite file `url` names; None for ``memory://`` and PostgreSQL; ConfigError
    saying how to write it."""
    if url.startswith("memory://") or is_postgres(url):
        return None
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if not path:
            raise ConfigError(f"PASSERELLE_DATABASE_URL={url} names no file: {_SHARED}")
        if path == ":memory:" or path.startswith("file::memory:") or "mode=memory" in path:
            raise ConfigError(
                f"an in-memory database is refused (PASSERELLE_DATABASE_URL={url}): {_SHARED}"
            )
        return path
    if url.startswith("sqlite:"):
        rest = url.removeprefix("sqlite:").lstrip("/") or "passerelle.db"
        raise ConfigError(
            f"PASSERELLE_DATABASE_URL={url}: write sqlite:///{rest} for a file relative to "
            f"the working directory, sqlite:////abs/path/{Path(rest).name} for an absolute one"
        )
    scheme = url.split(":", 1)[0] if ":" in url else url
    raise ConfigError(
        f"PASSERELLE_DATABASE_URL={url}: unsupported database {scheme!r} "
        f"(write sqlite:///relative/path.db, sqlite:////abs/path.db or "
        f"postgresql://user@host:5432/database)"
    )


def check_folder(path: str, url: str) -> None:
    """ConfigError unless the folder of `path` exists and can take new files (the -wal, -shm)."""
    folder = Path(path).parent
    where = f"(PASSERELLE_DATABASE_URL={url})"
    if not folder.exists():
        raise ConfigError(f"database directory {folder} does not exist {where}")
    if not folder.is_dir():
        raise ConfigError(f"database directory {folder} is not a directory {where}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(
            f"database directory {folder} is not writable: SQLite creates {Path(path).name}-wal"
            f" and {Path(path).name}-shm beside the database {where}"
        )
    target = Path(path)
    if target.exists() and not target.is_file():
        raise ConfigError(f"database file {target} is not a regular file {where}")
    if target.exists() and not os.access(target, os.R_OK | os.W_OK):
        raise ConfigError(f"database file {target} is not readable and writable {where}")


def prepare_file(path: str, url: str) -> None:
    """Check the folder, create the database file 0600 if missing, tighten any wider mode.

    Existing files are changed by path (chmod), never opened: closing a descriptor of a
    file SQLite has open in this process would drop SQLite's POSIX locks on it (another
    process could then reset the -shm under our mapping)."""
    check_folder(path, url)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE))
    except FileExistsError:
        pass
    except OSError as error:
        raise ConfigError(
            f"cannot create the database file {path}: {error.strerror} "
            f"(PASSERELLE_DATABASE_URL={url})"
        ) from None
    tighten(path)


def tighten(path: str) -> None:
    """Set the database file and its -wal, -shm and -journal that exist to mode 0600."""
    for name in (path, *(path + suffix for suffix in COMPANIONS)):
        try:
            mode = stat.S_IMODE(os.stat(name).st_mode)
            if mode & 0o077:
                os.chmod(name, PRIVATE)
        except FileNotFoundError:  # absent (or gone meanwhile): SQLite creates it 0600
            continue
        if mode & 0o077:
            log.warning(
                "database file %s was readable by other users (mode %04o): now %04o",
                name,
                mode,
                PRIVATE,
                extra={"file": name, "was": f"{mode:04o}"},
            )
