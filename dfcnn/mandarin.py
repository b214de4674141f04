"""Mandarin text: Arabic numerals read out in characters, the Mandarin normaliser, and tonal pinyin
syllables (pypinyin) for the ``pinyin`` token unit.

    normalize_mandarin("第１章，2023年")   # "第一章二零二三年"
    to_pinyin("你好吗")                    # ["ni3", "hao3", "ma5"]
"""

from __future__ import annotations

import itertools
import re
import unicodedata

from .errors import VocabError

_WHITESPACE = re.compile(r"\s+")
SYLLABLE = re.compile(r"[a-z]+[1-5]")  # a tonal pinyin syllable as pypinyin's TONE3 writes it: lv4, ma5


def is_cjk(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff" or "\U00020000" <= char <= "\U0002fa1f"


# ---- Arabic numerals in Mandarin text, read out the way speakers read them ----

_DIGIT_NAMES = "零一二三四五六七八九"
# a number directly before one of these counts things: a lone 2 is 两 (两个, 两年), and a digit
# string longer than 4 digits is an amount (15000元), not a code read digit by digit
_MEASURE_WORDS = re.compile(
    "平方米|平米|公里|公斤|小时|分钟|[个位名人件条只本张次种台辆家套栋座所元块岁天年周倍米斤吨秒点万亿千百]"
)
# a number is an ASCII-digit run, grouped (1,000,000) or not, with optional decimals and percent sign;
# a run touching a Latin letter belongs to a Latin word (mp3, 4s, ni3) and is left alone
_NUMBER = re.compile(r"(?<![a-z0-9])([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.([0-9]+))?(%)?(?![a-z0-9])")


def _digit_by_digit(digits: str, one: str) -> str:
    return "".join(one if d == "1" else _DIGIT_NAMES[int(d)] for d in digits)


def _below_10000(value: int, leading: bool) -> str:
    """0 < value < 10000 in characters; ``leading``: nothing precedes it (10 is 十, not 一十).
    A 2 heading the group before 千 or 百 is 两 (两千二百), elsewhere 二."""
    out, zero = "", False
    for digit, unit in zip(f"{value:04d}", ("千", "百", "十", "")):
        if digit == "0":
            zero = bool(out)
            continue
        if zero:
            out, zero = out + "零", False
        if not out and unit == "十" and digit == "1" and leading:
            out += unit
        else:
            out += ("两" if not out and unit in ("千", "百") and digit == "2" else _DIGIT_NAMES[int(digit)]) + unit
    return out


def _cardinal(digits: str) -> str:
    """A whole number as a cardinal: 2023 -> 两千零二十三, 100010 -> 十万零一十, 2 -> 二.

    Past 9999 万亿 (16 digits) there are no units left: such a number is read digit by digit."""
    if len(digits) > 16:
        return _digit_by_digit(digits, "一")
    value = int(digits)
    if value == 0:
        return "零"
    groups = []  # (4-digit group, its unit), highest first: 1,2345,6789 -> 1 亿, 2345 万, 6789
    for unit in ("", "万", "亿", "万亿"):
        groups.insert(0, (value % 10000, unit))
        value //= 10000
    out, zero = "", False
    for group, unit in groups:
        if group == 0:
            zero = bool(out)
            continue
        if out and (zero or group < 1000):
            out += "零"
        part = _below_10000(group, leading=not out)
        out += ("两" if part == "二" and unit else part) + unit  # 两万, 两亿, but 十二万
        zero = False
    return out


def chinese_numerals(text: str, digit_one: str = "幺") -> str:
    """Arabic numerals of (NFKC-normalised, lower-case) Mandarin text as spoken Chinese characters.

    - Whole numbers are cardinals: ``2023`` -> 两千零二十三, ``1,000,000`` -> 一百万. A 2 heading a
      four-digit group before 千/百/万/亿 is 两 (两百, 两千, 两万, 一万两千, 一亿两千万), elsewhere 二
      (二十二, 一千二百, 十二万); a lone ``2`` is 两 before a measure word (2个 -> 两个, 2年 -> 两年),
      else 二 (2号 -> 二号, 第2 -> 第二).
    - Years, four digits before 年, are read digit by digit: ``2023年`` -> 二零二三年 (but 20年 -> 二十年).
    - Decimals: ``3.5`` -> 三点五, ``0.25`` -> 零点二五 (decimal digits one by one).
    - Percentages: ``50%`` -> 百分之五十, ``3.5%`` -> 百分之三点五.
    - Codes: a run of more than 4 digits without grouping (phone numbers, 10086) or with a leading zero
      (007) is read digit by digit, with 1 as ``digit_one``: 幺 by default, as phone and room numbers
      are spoken on the mainland (13812345678 -> 幺三八幺二三四五六七八); years keep 一 (一九九八年).
      An amount written without grouping (15000元) is still a cardinal: a measure word follows it.
    - Digits touching a Latin letter stay as they are (mp3, 4s店): that word is not Chinese.
    """

    def read(match: re.Match) -> str:
        whole, decimals, percent = match.group(1), match.group(2), match.group(3)
        after = text[match.end() :]
        digits = whole.replace(",", "")
        if decimals is not None:
            spoken = _cardinal(digits) + "点" + _digit_by_digit(decimals, "一")
        elif "," in whole or percent:
            spoken = _cardinal(digits)
        elif len(digits) == 4 and after.startswith("年"):
            spoken = _digit_by_digit(digits, "一")
        elif (len(digits) > 1 and digits[0] == "0") or (len(digits) > 4 and not _MEASURE_WORDS.match(after)):
            spoken = _digit_by_digit(digits, digit_one)
        elif digits == "2" and _MEASURE_WORDS.match(after):
            spoken = "两"
        else:
            spoken = _cardinal(digits)
        return "百分之" + spoken if percent else spoken

    return _NUMBER.sub(read, text)


def normalize_mandarin(text: str) -> str:
    """Chinese characters without punctuation or spaces between them.

    Full-width forms become their ASCII counterparts (NFKC: ``Ａｂ`` -> ``ab``), Arabic numerals are
    read out in characters (``chinese_numerals``: ``第１章`` -> 第一章), punctuation of both scripts goes,
    Latin words are lower-cased and keep one space between each other.
    """
    text = chinese_numerals(unicodedata.normalize("NFKC", text).lower())
    text = "".join(" " if unicodedata.category(c)[0] in "PSZ" else c for c in text)
    words = _WHITESPACE.split(text.strip())
    out = ""
    for word in words:
        if out and not is_cjk(out[-1]) and not is_cjk(word[0]):
            out += " "
        out += word
    return out


def pinyin_pieces(text: str) -> list[tuple[str, bool]]:
    """(piece, is a syllable) for a normalised Mandarin text: a syllable per Chinese character, other
    words whole. Runs of characters are converted together, so phrases choose a polyphone's reading
    (银行 -> yin2 hang2, 行走 -> xing2 zou3); a character pypinyin cannot read is a piece of its own."""
    try:
        from pypinyin import Style, lazy_pinyin
    except ImportError:
        raise VocabError("pinyin tokens need pypinyin: pip install pypinyin") from None
    pieces = []
    for chunk in text.split():
        for cjk, run in itertools.groupby(chunk, is_cjk):
            run = "".join(run)
            if not cjk:
                pieces.append((run, False))
                continue
            syllables = lazy_pinyin(run, style=Style.TONE3, neutral_tone_with_five=True, errors=list)
            pieces.extend((s, SYLLABLE.fullmatch(s) is not None) for s in syllables)
    return pieces


def to_pinyin(text: str) -> list[str]:
    """A normalised Mandarin text as tonal syllables (tone 5 = neutral); other words stay as they are.

    ``to_pinyin("你好吗")`` -> ``["ni3", "hao3", "ma5"]``; ``to_pinyin("我用ok了")`` -> wo3 yong4 ok le5.
    """
    return [piece for piece, _ in pinyin_pieces(text)]
