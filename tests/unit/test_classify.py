"""Kind and kelurahan read from posts as people in Bontang write them."""

from __future__ import annotations

import pytest

from kesah import reference
from services.intake.classify import infer, infer_kelurahan, infer_kind, normalize, title_from

# (post text, kind, kelurahan); None where an operator has to decide.
POSTS = [
    # keluhan
    ("Jln di depan pasar Rawa Indah Bontang Baru berlubang besar, sdh 2 bln tdk diperbaiki", "keluhan", "Bontang Baru"),
    ("Lampu jalan di Gg. Mawar Api-Api mati semua, gelap bgt kalau malam", "keluhan", "Api-Api"),
    ("Sampah menumpuk di TPS dekat masjid Loktuan, baunya sampai ke rumah warga", "keluhan", "Loktuan"),
    ("Air PDAM di Tj Laut tdk mengalir sejak kemarin pagi", "keluhan", "Tanjung Laut"),
    ("Drainase tersumbat, tiap hujan rumah kami di Berbas Pantai tergenang", "keluhan", "Berbas Pantai"),
    ("tolong pak, pohon tumbang menutup jalan di gn elai blm diangkut", "keluhan", "Gunung Elai"),
    ("Air keruh dan berbau di perumahan Bontang Lestari, sdh seminggu begini", "keluhan", "Bontang Lestari"),
    ("Jembatan kayu di Bontang Kuala mulai roboh, bahaya utk anak2", "keluhan", "Bontang Kuala"),
    ("Parit depan rmh sy mampet, nyamuk bnyk bgt. Kel. Satimpo", "keluhan", "Satimpo"),
    ("PJU di jln poros Kanaan padam sdh 3 minggu, rawan kecelakaan", "keluhan", "Kanaan"),
    ("Banyak PKL liar di trotoar Guntung, pejalan kaki terganggu", "keluhan", "Guntung"),
    ("Jln rusak parah di Gunung Telihan, gmn ini pak??", "keluhan", "Gunung Telihan"),
    ("Pipa bocor di Belimbing, air terbuang percuma dr kemarin", "keluhan", "Belimbing"),
    ("Listrik sering padam di TLI, mohon segera ditangani", "keluhan", "Tanjung Laut Indah"),
    ("Antrean di puskesmas Berbas Tengah lama sekali, dari jam 7 baru dilayani jam 12", "keluhan", "Berbas Tengah"),
    ("Bansos ibu sy blm cair padahal sdh terdaftar, kami tinggal di Loktuan", "keluhan", "Loktuan"),
    ("Balap liar tiap malam minggu di jln Bontang Baru, sangat meresahkan", "keluhan", "Bontang Baru"),
    ("Sampah berserakan di pinggir jalan", "keluhan", None),
    ("Genangan air di simpang empat Api Api tdk surut2", "keluhan", "Api-Api"),
    ("Gorong2 di Telihan ambruk, tolong diperbaiki", "keluhan", "Gunung Telihan"),
    ("KTP sy sdh 3 bulan blm jadi, tiap ke dukcapil disuruh balik lagi", "keluhan", None),
    # pertanyaan
    ("Mau tanya, syarat bikin KTP baru apa saja ya?", "pertanyaan", None),
    ("Kapan jalan di Loktuan mulai diaspal?", "pertanyaan", "Loktuan"),
    ("Gmn cara daftar PPDB online utk SD di Bontang Baru?", "pertanyaan", "Bontang Baru"),
    ("Apakah posyandu di Kanaan buka hari Sabtu?", "pertanyaan", "Kanaan"),
    ("Berapa biaya pasang meteran air PDAM yg baru?", "pertanyaan", None),
    ("Numpang tanya, kantor kelurahan Satimpo pindah ke mana ya", "pertanyaan", "Satimpo"),
    ("Dimana tempat bayar PBB di daerah Tanjung Laut?", "pertanyaan", "Tanjung Laut"),
    ("Ada yg tahu jadwal fogging di Api2 bulan ini?", "pertanyaan", "Api-Api"),
    ("Bisakah urus akta kelahiran tanpa datang ke kantor?", "pertanyaan", None),
    ("Izin tanya min, pendaftaran beasiswa kota dibuka kpn?", "pertanyaan", None),
    ("Siapa yg bertanggung jawab atas taman di Gunung Elai?", "pertanyaan", "Gunung Elai"),
    # saran
    ("Saran sy sebaiknya ditambah halte di depan RSUD", "saran", None),
    ("Alangkah baiknya taman kota di Bontang Baru diberi lampu tambahan", "saran", "Bontang Baru"),
    ("Usul pak, gmn kalau bikin bank sampah di setiap RT Berbas Pantai", "saran", "Berbas Pantai"),
    ("Mohon dipertimbangkan pembangunan jalur sepeda di Jl. Ahmad Yani", "saran", None),
    ("Perlu ditambahkan tong sampah di pantai Bontang Kuala biar tdk kotor", "saran", "Bontang Kuala"),
    ("Lebih baik jadwal angkut sampah di Guntung dibuat pagi hari", "saran", "Guntung"),
    ("Semoga ke depannya ada layanan KTP keliling di Bontang Lestari", "saran", "Bontang Lestari"),
    ("Kenapa tdk dibuat aplikasi antrean online utk puskesmas? Pasti lbh tertib", "saran", None),
    ("Mengusulkan agar lapangan di Kanaan dijadikan ruang terbuka hijau", "saran", "Kanaan"),
    # kritik
    ("Pelayanan di kantor kelurahan lamban dan tdk profesional", "kritik", None),
    ("Kecewa sama pemkot, janji perbaikan jln cuma janji manis", "kritik", None),
    ("Proyek semenisasi di Tanjung Laut Indah asal jadi, baru sebulan sdh retak", "kritik", "Tanjung Laut Indah"),
    ("Buang2 anggaran saja bikin taman yg tdk dirawat", "kritik", None),
    ("Kinerja dinas terkait sangat mengecewakan, laporan warga Loktuan diabaikan", "kritik", "Loktuan"),
    ("Petugas loket judes bgt, tdk ramah sama warga", "kritik", None),
    ("Percuma lapor, tdk pernah ditanggapi", "kritik", None),
    # informasi
    ("Info: ada pohon tumbang di jln Soekarno Hatta arah Loktuan, hati2 pengendara", "informasi", "Loktuan"),
    ("Sekadar info, jembatan di Bontang Kuala sudah selesai dicat ulang", "informasi", "Bontang Kuala"),
    ("Terpantau antrean BBM mengular di SPBU Tanjung Laut pagi ini", "informasi", "Tanjung Laut"),
    ("Memberitahukan bahwa ada kegiatan kerja bakti di Gunung Telihan hari Minggu", "informasi", "Gunung Telihan"),
    ("Waspada, air laut pasang tinggi di pesisir Berbas Pantai malam ini", "informasi", "Berbas Pantai"),
    # no decision: the operator completes
    ("Selamat pagi Bontang", None, None),
    ("Halo min", None, None),
    ("Foto kegiatan warga Satimpo kemarin sore", None, "Satimpo"),
    ("Jalan di Api-Api dan Loktuan sama2 rusak", "keluhan", None),
    ("Rumah sy di Berbas", None, None),
]


def test_the_corpus_is_big_enough_and_covers_every_kind() -> None:
    assert len(POSTS) >= 50
    assert {kind for _, kind, _ in POSTS} >= set(reference.load().kinds)


@pytest.mark.parametrize("text, kind, kelurahan", POSTS, ids=[p[0][:40] for p in POSTS])
def test_kind_and_kelurahan_are_read_from_the_text(text: str, kind: str | None, kelurahan: str | None) -> None:
    inference = infer(text)
    assert (inference.kind, inference.kelurahan) == (kind, kelurahan), (inference.kind_reason, inference.kelurahan_reason)
    assert set(inference.missing) == {n for n, v in (("kind", kind), ("kelurahan", kelurahan)) if v is None}


def test_abbreviations_and_spellings_are_spelled_out() -> None:
    assert normalize("Jln rusak, sdh lama tdk diperbaiki. Gmn nih?") == "jalan rusak sudah lama tidak diperbaiki bagaimana nih"
    assert normalize("Lubang2 di Tj. Laut @pemkotbontang https://t.co/x") == "lubang lubang di tanjung laut"
    assert normalize("Gn. Elai, Kel. Api-Api") == "gunung elai kelurahan api api"


def test_the_reason_names_the_words_that_decided() -> None:
    kind, reason = infer_kind("Jln berlubang sdh 2 bulan, tolong diperbaiki")
    assert kind == "keluhan"
    assert "berlubang +2" in reason and "tolong diperbaiki +2" in reason and "berlangsung lama +1" in reason
    kind, reason = infer_kind("Lampu jalan mati di mana2")
    assert kind is None and reason.startswith("tie between keluhan and pertanyaan")


def test_two_kelurahan_are_left_for_the_operator() -> None:
    kelurahan, reason = infer_kelurahan("Banjir di Api-Api sampai ke Gunung Elai")
    assert kelurahan is None and reason == "several kelurahan named: Api-Api, Gunung Elai"


def test_a_longer_name_wins_over_the_name_inside_it() -> None:
    assert infer_kelurahan("Jalan di Tanjung Laut Indah rusak")[0] == "Tanjung Laut Indah"
    assert infer_kelurahan("Jalan di tj laut rusak")[0] == "Tanjung Laut"


@pytest.mark.parametrize(
    "text, title",
    [
        ("Jalan berlubang di Loktuan. Sudah dua minggu.", "Jalan berlubang di Loktuan."),
        ("@pemkotbontang lampu mati", "lampu mati"),
    ],
)
def test_a_title_is_the_first_sentence_cut_short(text: str, title: str) -> None:
    assert title_from(text) == title


def test_a_long_first_sentence_is_cut_at_a_word() -> None:
    title = title_from("kata " * 40)
    assert len(title) <= 80 and title.endswith("kata…")
