"""Model fields for personal data: AES-GCM ciphertext at rest with a keyed blind index beside it."""

from __future__ import annotations

from collections.abc import Callable

from django.db import models

from gongzhi.core import crypto


class _EncryptedDescriptor:
    """Normalises plaintext on assignment, so what is encrypted and what is indexed always agree."""

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


class EncryptedField(models.TextField):
    """Stores text encrypted (AES-GCM); pair it with a BlindIndexField(source=...) for lookups.

    `purpose` names what kind of value this is ("citizen_id", "phone"): it selects the mask and
    separates blind-index domains. `normalize` turns input into the canonical form before both
    encryption and indexing (e.g. upper-case X in ID numbers), so lookups match.
    """

    def __init__(self, *args, purpose: str = "", normalize: Callable[[str], str] | None = None, **kwargs):
        self.purpose = purpose
        self.normalize = normalize
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["purpose"] = self.purpose
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


class _BlindIndexDescriptor:
    """The index is always computed from the plaintext beside it, never assigned: it cannot go stale."""

    def __init__(self, field: BlindIndexField):
        self.field = field

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        plaintext = getattr(instance, self.field.source)
        if not plaintext:
            return None
        cached = instance.__dict__.get(self.field.attname)
        if cached is not None and cached[0] == plaintext:
            return cached[1]
        index = crypto.blind_index(plaintext, purpose=self.field.purpose)
        instance.__dict__[self.field.attname] = (plaintext, index)
        return index

    def __set__(self, instance, value):
        # Loaded from the database or set by Model.__init__: kept so Django does not see a deferred
        # field, but recomputed on read from the plaintext it belongs to.
        instance.__dict__[self.field.attname] = (None, value)


class BlindIndexField(models.CharField):
    """Keyed HMAC-SHA256 of the EncryptedField named by `source`: exact lookups and uniqueness
    without storing the value. Query with `crypto.blind_index(value, purpose=...)`; give it an index
    in the model's Meta."""

    def __init__(self, *args, source: str, **kwargs):
        self.source = source
        kwargs.setdefault("max_length", crypto.INDEX_HEX_LENGTH)
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("editable", False)
        # No index by default: declare one in Meta.indexes (or a unique constraint). A field-level
        # index on PostgreSQL adds a second "_like" index that exact lookups never use.
        super().__init__(*args, **kwargs)

    @property
    def purpose(self) -> str:
        return self.model._meta.get_field(self.source).purpose

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        for key in ("max_length", "null", "blank", "editable"):
            kwargs.pop(key, None)
        return name, path, args, kwargs

    def contribute_to_class(self, cls, name, private_only=False):
        super().contribute_to_class(cls, name, private_only)
        setattr(cls, self.attname, _BlindIndexDescriptor(self))
