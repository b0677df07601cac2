"""Model fields for personal data: AES-GCM ciphertext at rest with a keyed blind index beside it."""

from __future__ import annotations

from collections.abc import Callable

from django.db import models

from gongzhi.core import crypto


class _EncryptedDescriptor:
    """Setting the plaintext also sets the sibling blind-index column, so bulk_create stays consistent."""

    def __init__(self, field: EncryptedField):
        self.field = field

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        return instance.__dict__.get(self.field.attname)

    def __set__(self, instance, value):
        if value == "":
            value = None
        if value is not None and self.field.normalize:
            value = self.field.normalize(value)
        instance.__dict__[self.field.attname] = value
        if self.field.index_field:
            instance.__dict__[self.field.index_field] = (
                crypto.blind_index(value, purpose=self.field.purpose) if value else None
            )


class EncryptedField(models.TextField):
    """Stores text encrypted; `index_field` names a BlindIndexField kept in step with it.

    `purpose` names what kind of value this is ("citizen_id", "phone"): it selects the mask and
    separates blind-index domains. `normalize` turns input into the canonical form before both
    encryption and indexing (e.g. upper-case X in ID numbers), so lookups match.
    """

    def __init__(
        self,
        *args,
        purpose: str = "",
        index_field: str | None = None,
        normalize: Callable[[str], str] | None = None,
        **kwargs,
    ):
        self.purpose = purpose
        self.index_field = index_field
        self.normalize = normalize
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["purpose"] = self.purpose
        if self.index_field:
            kwargs["index_field"] = self.index_field
        for key in ("null", "blank", "editable"):
            kwargs.pop(key, None)
        return name, path, args, kwargs

    def contribute_to_class(self, cls, name, private_only=False):
        super().contribute_to_class(cls, name, private_only)
        setattr(cls, self.attname, _EncryptedDescriptor(self))

    def _context(self) -> bytes:
        # Binds ciphertext to its column: a value copied into another column will not decrypt.
        return f"{self.model._meta.label_lower}.{self.attname}".encode()

    def get_prep_value(self, value):
        if value in (None, ""):
            return None
        return crypto.encrypt(str(value), context=self._context())

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return crypto.decrypt(value, context=self._context())

    def get_lookup(self, lookup_name):
        # Ciphertext is randomised: equality on it can never match. Look up through the blind index.
        if lookup_name not in ("isnull",):
            return None
        return super().get_lookup(lookup_name)


class BlindIndexField(models.CharField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("db_index", True)
        super().__init__(*args, **kwargs)
