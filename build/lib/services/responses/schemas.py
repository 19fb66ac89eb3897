"""What agencies send over HTTP, with errors in Bahasa Indonesia."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from kesah.contracts import RESPONSE_STATUSES


class AnswerSchema(Schema):
    """POST /api/agency/complaints/{id}/responses."""

    class Meta:
        unknown = RAISE

    error_messages = {"unknown": "Kolom tidak dikenal.", "type": "Data harus berupa objek JSON."}

    body = fields.String(
        required=True,
        error_messages={"required": "Wajib diisi.", "null": "Tidak boleh kosong.", "invalid": "Harus berupa teks."},
        validate=validate.Length(min=5, max=5000, error="Jawaban harus 5 sampai 5000 karakter."),
    )
    status = fields.String(
        load_default="dijawab",
        error_messages={"null": "Tidak boleh kosong.", "invalid": "Harus berupa teks."},
        validate=validate.OneOf(
            RESPONSE_STATUSES, error="Status harus salah satu dari: " + ", ".join(RESPONSE_STATUSES) + "."
        ),
    )


ANSWER = AnswerSchema()
