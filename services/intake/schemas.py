"""What intake accepts over HTTP, with field errors in Bahasa Indonesia."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate, validates, validates_schema

from kesah import http, reference
from kesah.contracts import KINDS, VISIBILITIES

REQUIRED = "Wajib diisi."
NOT_NULL = "Tidak boleh kosong."
NOT_TEXT = "Harus berupa teks."


def text(*, required: bool = False, min_len: int = 0, max_len: int, label: str) -> fields.String:
    messages = {"required": REQUIRED, "null": NOT_NULL, "invalid": NOT_TEXT}
    if min_len:
        error = f"{label} harus {min_len} sampai {max_len} karakter."
    else:
        error = f"{label} paling banyak {max_len} karakter."
    return fields.String(
        required=required,
        error_messages=messages,
        validate=[validate.Length(min=min_len, max=max_len, error=error), unicode_text],
    )


def unicode_text(value: str) -> None:
    """A text intake can sign and every store can keep (no NUL, no half of a UTF-16 pair): forms and imports."""
    if problem := http.text_problem(value):
        raise ValidationError(problem)


# The reference spelling, for the OpenAPI document (any case and spacing of them is accepted).
KELURAHAN = sorted(reference.load().kelurahan)


class ReporterSchema(Schema):
    class Meta:
        unknown = RAISE

    error_messages = {"unknown": "Kolom tidak dikenal.", "type": "Harus berupa objek."}

    name = text(max_len=100, label="Nama")
    phone = fields.String(
        error_messages={"invalid": NOT_TEXT, "null": NOT_NULL},
        validate=validate.Regexp(
            r"^\+?[0-9][0-9 \-]{6,18}[0-9]$",
            error="Nomor telepon tidak valid (contoh: 0812-3456-7890).",
        ),
    )
    email = fields.Email(error_messages={"invalid": "Alamat email tidak valid.", "null": NOT_NULL})


class SubmissionSchema(Schema):
    """POST /api/complaints."""

    class Meta:
        unknown = RAISE

    error_messages = {"unknown": "Kolom tidak dikenal.", "type": "Data harus berupa objek JSON."}

    kind = fields.String(
        required=True,
        error_messages={"required": REQUIRED, "null": NOT_NULL, "invalid": NOT_TEXT},
        validate=validate.OneOf(KINDS, error="Jenis harus salah satu dari: " + ", ".join(KINDS) + "."),
    )
    title = text(required=True, min_len=5, max_len=200, label="Judul")
    body = text(required=True, min_len=10, max_len=5000, label="Isi aduan")
    kelurahan = fields.String(required=True, error_messages={"required": REQUIRED, "null": NOT_NULL, "invalid": NOT_TEXT},
                              metadata={"enum": KELURAHAN, "description": "matched without case or spacing"})
    address = text(max_len=300, label="Alamat")
    visibility = fields.String(
        load_default="public",
        error_messages={"null": NOT_NULL, "invalid": NOT_TEXT},
        validate=validate.OneOf(
            VISIBILITIES, error="Visibilitas harus salah satu dari: " + ", ".join(VISIBILITIES) + "."
        ),
    )
    reporter = fields.Nested(ReporterSchema, error_messages={"null": NOT_NULL, "type": "Harus berupa objek."})

    @pre_load
    def flat_reporter(self, data: Any, **kwargs: Any) -> Any:
        """Accept name/phone/email at the top level as well as inside "reporter"."""
        if not isinstance(data, dict):
            return data
        flat = {k: data[k] for k in ("name", "phone", "email") if k in data}
        if not flat:
            return data
        data = {k: v for k, v in data.items() if k not in flat}
        reporter = data.get("reporter")
        if reporter is None:
            data["reporter"] = flat
        elif isinstance(reporter, dict):
            data["reporter"] = {**flat, **reporter}
        return data

    @validates("kelurahan")
    def known_kelurahan(self, value: str, **kwargs: Any) -> None:
        if canonical_kelurahan(value) is None:
            raise ValidationError("Kelurahan tidak dikenal di Kota Bontang.")

    @validates_schema
    def anonymous_without_contact(self, data: dict[str, Any], **kwargs: Any) -> None:
        reporter = {k: v for k, v in (data.get("reporter") or {}).items() if v}
        if data.get("visibility") == "anonymous" and reporter:
            raise ValidationError(
                "Aduan anonim tidak menyimpan data pelapor: kosongkan nama, telepon dan email.",
                field_name="reporter",
            )


def canonical_kelurahan(name: str) -> str | None:
    """The reference spelling of a kelurahan, matched without case or spacing."""
    key = " ".join(name.split()).casefold().replace("-", " ")
    for known in reference.load().kelurahan:
        if known.casefold().replace("-", " ") == key:
            return known
    return None


SUBMISSION = SubmissionSchema()
