"""Secrets generated on first run into var/keys/, readable by the owner only."""

import os
import secrets
from pathlib import Path


def load_or_create_secret(path: Path, nbytes: int) -> str:
    """Return the secret stored at `path`, creating it (urlsafe text) if absent."""
    path = Path(path)
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    value = secrets.token_urlsafe(nbytes)
    # O_EXCL: when two processes start at once, the second reads what the first wrote.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(value)
    return value
