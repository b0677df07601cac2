"""Starting 台账 imports. Kept beside `services.py` (not in it) so the import machinery can change on its
own; the rules are the same: actor first, scope checked, one transaction, tasks only after commit."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _

from gongzhi.core import clock, scopes
from gongzhi.core.errors import DomainError
from gongzhi.core.models import Region, User
from gongzhi.people import importing
from gongzhi.people.models import ImportJob, ImportKind
from gongzhi.people.sheets import sniff_format

MAX_UPLOAD_BYTES = 300 * 1024 * 1024  # about 1.5 million rows of CSV


@transaction.atomic
def create_import_job(
    actor,
    *,
    kind: str,
    region: Region,
    uploaded_file_or_path: UploadedFile | Path | str,
    file_name: str,
    dry_run: bool = False,
    update_existing: bool = False,
    copy: bool = True,
) -> ImportJob:
    """Check the request and the file type, keep the file, and record a queued job.

    Uploads are copied under VAR_DIR/imports/<uuid> (and removed when the import ends). The command
    line passes its own path with `copy=False`: the file is read in place and left alone.
    """
    scopes.require(actor, "people.import", region)
    if kind not in ImportKind.values:
        raise DomainError("import.unknown_kind", _("未知的台账类型“%(k)s”") % {"k": kind})
    source = uploaded_file_or_path
    if isinstance(source, UploadedFile):
        if source.size > MAX_UPLOAD_BYTES:
            raise DomainError("import.too_large", _("文件过大（最大 300 MB），请拆分后分批导入"))
        stored = importing.imports_dir() / uuid.uuid4().hex
        with open(stored, "wb") as out:
            for chunk in source.chunks():
                out.write(chunk)
    elif copy:
        stored = importing.imports_dir() / uuid.uuid4().hex
        shutil.copyfile(source, stored)
    else:
        stored = Path(source).resolve()
    try:
        sniff_format(stored)
    except DomainError:
        if copy or isinstance(source, UploadedFile):
            stored.unlink(missing_ok=True)
        raise
    return ImportJob.objects.create(
        region=region,
        kind=kind,
        file_name=(file_name or Path(str(stored)).name)[:200],
        stored_path=str(stored),
        dry_run=dry_run,
        update_existing=update_existing,
        created_by=actor if isinstance(actor, User) else None,
        created_at=clock.now(),
    )


def start_import(
    actor,
    *,
    kind: str,
    region: Region,
    uploaded_file_or_path: UploadedFile | Path | str,
    file_name: str,
    dry_run: bool = False,
    update_existing: bool = False,
) -> ImportJob:
    """Queue an import to run in the background; the task is enqueued only once the job is committed."""
    from gongzhi.people.tasks import run_import

    with transaction.atomic():
        job = create_import_job(
            actor,
            kind=kind,
            region=region,
            uploaded_file_or_path=uploaded_file_or_path,
            file_name=file_name,
            dry_run=dry_run,
            update_existing=update_existing,
        )
        transaction.on_commit(lambda: run_import.enqueue(job.pk))
    return job
